// Write-ahead log positions. PostgreSQL prints an LSN as two hexadecimal
// halves, high/low ("16/B374D848"); here an LSN is that 64-bit byte position
// as a number. Invariant: every number returned is an exact, safe integer
// (positions past 2^53-1 bytes, 8 PiB of WAL, are refused, never rounded).
import { InvalidLsnError } from './errors.js';

const LSN_PATTERN = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;
const HALF = 2 ** 32;
/** The largest high half whose positions all stay below 2^53. */
const MAX_HIGH = Math.floor(Number.MAX_SAFE_INTEGER / HALF);

/** The byte position of an LSN text such as "16/B374D848". */
export function parseLsn(text: string): number {
  const match = LSN_PATTERN.exec(text);
  if (!match) {
    throw new InvalidLsnError(text, 'expected two hexadecimal numbers of 1-8 digits separated by "/", e.g. "16/B374D848"');
  }
  const high = Number.parseInt(match[1] ?? '', 16);
  const low = Number.parseInt(match[2] ?? '', 16);
  if (high > MAX_HIGH) {
    throw new InvalidLsnError(text, `beyond ${formatLsn(Number.MAX_SAFE_INTEGER)}, the largest position held exactly`);
  }
  return high * HALF + low;
}

/** An LSN text as PostgreSQL prints it (upper-case hexadecimal, no padding). */
export function formatLsn(bytes: number): string {
  if (!Number.isSafeInteger(bytes) || bytes < 0) {
    throw new InvalidLsnError(String(bytes), 'a position is a whole number of bytes from 0 to 2^53-1');
  }
  const high = Math.floor(bytes / HALF);
  const low = bytes % HALF;
  return `${high.toString(16).toUpperCase()}/${low.toString(16).toUpperCase()}`;
}

/** Whether a text is an LSN that parseLsn accepts. */
export function isLsn(text: string): boolean {
  try {
    parseLsn(text);
    return true;
  } catch {
    return false;
  }
}

/** An LSN given as text or as a byte position. */
export type LsnLike = string | number;

function toBytes(value: LsnLike): number {
  return typeof value === 'number' ? parseLsn(formatLsn(value)) : parseLsn(value);
}

/** How many bytes of WAL `a` is ahead of `b` (negative when behind). */
export function lsnDiff(a: LsnLike, b: LsnLike): number {
  return toBytes(a) - toBytes(b);
}

/** An LSN from the server (pg returns pg_lsn as text), or null when SQL gave NULL. */
export function lsnOrNull(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  return parseLsn(String(value));
}
