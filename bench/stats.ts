// What every benchmark prints its figures with: quantiles and a table of
// min / median / max per measured step.

/** The q-quantile of ascending numbers, by linear interpolation between the closest ranks. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const x = sorted[lo] as number;
  const y = sorted[Math.min(sorted.length - 1, lo + 1)] as number;
  return x + (y - x) * (pos - lo);
}

/** A header line, then one `label  min  median  max` line for each measured step, in ms. */
export function printSpread<R>(title: string, rows: readonly R[], steps: readonly (readonly [string, (r: R) => number])[], o: { width?: number; digits?: number } = {}): void {
  const width = o.width ?? 52;
  const cell = (v: number): string => v.toFixed(o.digits ?? 0).padStart(8);
  console.log(`\n${title.padEnd(width)} ${'min'.padStart(8)} ${'median'.padStart(8)} ${'max'.padStart(8)}  ms`);
  for (const [label, pick] of steps) {
    const sorted = rows.map(pick).sort((x, y) => x - y);
    console.log(`${label.padEnd(width)} ${cell(sorted[0] as number)} ${cell(quantile(sorted, 0.5))} ${cell(sorted.at(-1) as number)}`);
  }
}
