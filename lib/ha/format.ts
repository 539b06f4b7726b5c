// How reasons print values. Deterministic: no locale, no clock.

/** PostgreSQL's notation of a WAL position: high and low 32 bits in hex. */
export function formatLsn(lsn: number): string {
  const high = Math.floor(lsn / 2 ** 32);
  const low = lsn - high * 2 ** 32;
  return `${high.toString(16).toUpperCase()}/${low.toString(16).toUpperCase()}`;
}

/** Milliseconds as seconds with one decimal, e.g. "12.0 s". */
export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

export function formatIso(epochMs: number): string {
  return new Date(epochMs).toISOString();
}
