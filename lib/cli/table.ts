// Plain-text tables in patronictl's style: `+---+` borders, `|` cells, an
// optional title laid over the top border ("+ Cluster: orders (...) ---+").

export interface Column {
  readonly header: string;
  readonly align?: 'left' | 'right';
}

function pad(text: string, width: number, align: 'left' | 'right'): string {
  return align === 'right' ? text.padStart(width) : text.padEnd(width);
}

/** The table's lines, without trailing newlines. Every row has one cell per column. */
export function renderTable(columns: readonly Column[], rows: readonly (readonly string[])[], title?: string): string[] {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => (r[i] ?? '').length)));
  const borderOf = (ws: readonly number[]): string => `+${ws.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  if (title !== undefined) {
    // The title needs room for itself and a closing "-+"; the last column gives it.
    const short = title.length + 2 - borderOf(widths).length;
    if (short > 0 && widths.length > 0) widths[widths.length - 1] = (widths[widths.length - 1] ?? 0) + short;
  }
  const border = borderOf(widths);
  const line = (cells: readonly string[], header: boolean): string =>
    `| ${columns.map((c, i) => pad(cells[i] ?? '', widths[i] ?? 0, header ? 'left' : (c.align ?? 'left'))).join(' | ')} |`;
  const top = title === undefined ? border : title + border.slice(title.length);
  return [
    top,
    line(
      columns.map((c) => c.header),
      true,
    ),
    border,
    ...rows.map((r) => line(r, false)),
    border,
  ];
}
