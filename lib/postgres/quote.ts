// Quoting for the four languages this module writes: SQL literals and
// identifiers (utility statements such as ALTER SYSTEM take no bind
// parameters), libpq connection strings, and configuration files.
// Invariant: a quoted value reads back as exactly the input.
import { PostgresError } from './errors.js';

function refuseNul(value: string, what: string): void {
  if (value.includes('\0')) throw new PostgresError(`${what} ${JSON.stringify(value)} contains a NUL character, which PostgreSQL cannot store`);
}

/** A SQL string literal, correct whatever standard_conforming_strings says. */
export function quoteLiteral(value: string): string {
  refuseNul(value, 'SQL literal');
  return `E'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** A SQL identifier, always double-quoted (so case and keywords are preserved). */
export function quoteIdent(value: string): string {
  refuseNul(value, 'SQL identifier');
  if (value === '') throw new PostgresError('a SQL identifier cannot be empty');
  return `"${value.replace(/"/g, '""')}"`;
}

/** One value of a libpq key=value connection string. */
export function quoteConninfoValue(value: string): string {
  refuseNul(value, 'connection string value');
  if (value !== '' && /^[^\s'\\]+$/.test(value)) return value;
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** A libpq connection string from its parameters; undefined and null ones are left out. */
export function buildConninfo(params: Readonly<Record<string, string | number | null | undefined>>): string {
  return Object.entries(params)
    .filter((entry): entry is [string, string | number] => entry[1] !== undefined && entry[1] !== null)
    .map(([key, value]) => `${key}=${quoteConninfoValue(String(value))}`)
    .join(' ');
}

/** Parses a libpq key=value connection string (the inverse of buildConninfo). */
export function parseConninfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  const skipSpace = (): void => {
    while (i < text.length && /\s/.test(text[i] ?? '')) i++;
  };
  for (;;) {
    skipSpace();
    if (i >= text.length) return out;
    const keyStart = i;
    while (i < text.length && /[A-Za-z0-9_]/.test(text[i] ?? '')) i++;
    const key = text.slice(keyStart, i);
    skipSpace();
    if (key === '' || text[i] !== '=') throw new PostgresError(`malformed connection string near position ${keyStart}: ${JSON.stringify(text)}`);
    i++;
    skipSpace();
    let value = '';
    if (text[i] === "'") {
      i++;
      for (;;) {
        const c = text[i];
        if (c === undefined) throw new PostgresError(`unterminated quoted value in connection string ${JSON.stringify(text)}`);
        i++;
        if (c === "'") break;
        if (c === '\\') {
          value += text[i] ?? '';
          i++;
        } else {
          value += c;
        }
      }
    } else {
      while (i < text.length && !/\s/.test(text[i] ?? '')) {
        const c = text[i] ?? '';
        if (c === '\\') {
          i++;
          value += text[i] ?? '';
        } else {
          value += c;
        }
        i++;
      }
    }
    out[key] = value;
  }
}

/** A value in postgresql.conf syntax: numbers bare, booleans on/off, strings single-quoted. */
export function formatConfValue(value: string | number | boolean): string {
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new PostgresError(`configuration value ${value} is not a finite number`);
    return String(value);
  }
  refuseNul(value, 'configuration value');
  if (/[\n\r]/.test(value)) throw new PostgresError(`configuration value ${JSON.stringify(value)} spans lines, which postgresql.conf cannot hold`);
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}
