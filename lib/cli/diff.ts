// A line diff in unified style: "--- old", "+++ new", then hunks of changed
// lines ("-" removed, "+" added) with up to `context` unchanged lines around.

type Op = { readonly kind: ' ' | '-' | '+'; readonly line: string };

function ops(a: readonly string[], b: readonly string[]): Op[] {
  // Longest common subsequence table, from the ends.
  const n = a.length;
  const m = b.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      const row = lcs[i] as number[];
      row[j] = a[i] === b[j] ? (lcs[i + 1]?.[j + 1] ?? 0) + 1 : Math.max(lcs[i + 1]?.[j] ?? 0, row[j + 1] ?? 0);
    }
  }
  const out: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      out.push({ kind: ' ', line: a[i] as string });
      i++;
      j++;
    } else if (j < m && (i >= n || (lcs[i]?.[j + 1] ?? 0) >= (lcs[i + 1]?.[j] ?? 0))) {
      out.push({ kind: '+', line: b[j] as string });
      j++;
    } else {
      out.push({ kind: '-', line: a[i] as string });
      i++;
    }
  }
  // Removals first within each run of changes, as diff(1) prints them.
  const ordered: Op[] = [];
  let run: Op[] = [];
  const flush = (): void => {
    ordered.push(...run.filter((o) => o.kind === '-'), ...run.filter((o) => o.kind === '+'));
    run = [];
  };
  for (const o of out) {
    if (o.kind === ' ') {
      flush();
      ordered.push(o);
    } else run.push(o);
  }
  flush();
  return ordered;
}

/** Empty when the texts are equal. */
export function unifiedDiff(oldText: string, newText: string, oldLabel: string, newLabel: string, context = 3): string[] {
  const split = (t: string): string[] => (t.endsWith('\n') ? t.slice(0, -1) : t).split('\n');
  const all = ops(split(oldText), split(newText));
  if (all.every((o) => o.kind === ' ')) return [];
  const keep = all.map((o, idx) => {
    if (o.kind !== ' ') return true;
    for (let d = -context; d <= context; d++) if (all[idx + d] !== undefined && all[idx + d]?.kind !== ' ') return true;
    return false;
  });
  const lines = [`--- ${oldLabel}`, `+++ ${newLabel}`];
  // Line numbers (1-based) of each op in the old and new text.
  let oldNo = 1;
  let newNo = 1;
  const numbered = all.map((o) => {
    const at = { op: o, oldNo, newNo };
    if (o.kind !== '+') oldNo++;
    if (o.kind !== '-') newNo++;
    return at;
  });
  let idx = 0;
  while (idx < numbered.length) {
    if (!keep[idx]) {
      idx++;
      continue;
    }
    const hunk: typeof numbered = [];
    while (idx < numbered.length && keep[idx]) hunk.push(numbered[idx++] as (typeof numbered)[number]);
    const first = hunk[0] as (typeof numbered)[number];
    const oldCount = hunk.filter((h) => h.op.kind !== '+').length;
    const newCount = hunk.filter((h) => h.op.kind !== '-').length;
    lines.push(`@@ -${first.oldNo},${oldCount} +${first.newNo},${newCount} @@`);
    for (const h of hunk) lines.push(`${h.op.kind}${h.op.line}`);
  }
  return lines;
}
