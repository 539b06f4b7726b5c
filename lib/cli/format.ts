// How the CLI prints values. Deterministic: no locale, no clock.
import { formatIso, formatLsn } from '../ha/format.js';

export { formatIso, formatLsn };

const MB = 1024 * 1024;

/** Replication lag in whole megabytes, as patronictl shows it. */
export function lagMb(bytes: number): number {
  return Math.round(Math.max(0, bytes) / MB);
}

/** Seconds with one decimal, without unit: "1.2". */
export function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}

/** "host:port" of a postgres:// connection URL; the URL itself when it does not parse. */
export function hostOf(connUrl: string, fallback?: string): string {
  try {
    const u = new URL(connUrl);
    if (u.hostname === '') return fallback ?? connUrl;
    return u.port === '' ? u.hostname : `${u.hostname}:${u.port}`;
  } catch {
    return fallback ?? connUrl;
  }
}

/** One progress line: elapsed seconds right-aligned, then the message. */
export function progressLine(elapsedMs: number, message: string): string {
  return `${`${seconds(elapsedMs)} s`.padStart(8)}  ${message}`;
}

/** server_version_num as PostgreSQL prints it: 150018 -> "15.18", 90624 -> "9.6.24". */
export function postgresVersion(num: number): string {
  if (num >= 100_000) return `${Math.floor(num / 10_000)}.${num % 10_000}`;
  return `${Math.floor(num / 10_000)}.${Math.floor(num / 100) % 100}.${num % 100}`;
}
