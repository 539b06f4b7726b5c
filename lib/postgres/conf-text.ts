// Reading and editing configuration text (postgresql.conf and
// postgresql.auto.conf syntax) without touching lines it was not asked to.
// Setting names are case-insensitive, as in PostgreSQL; the last assignment
// of a name wins, as in PostgreSQL.
import { formatConfValue } from './quote.js';
import { PostgresError } from './errors.js';

const ASSIGNMENT = /^\s*([A-Za-z_][A-Za-z0-9_.$-]*)\s*(=\s*)?(.*)$/;

/** The setting name a line assigns, lower-cased, or null for comments, blanks and includes. */
function assignedName(line: string): string | null {
  const match = ASSIGNMENT.exec(line);
  if (!match) return null;
  const name = (match[1] ?? '').toLowerCase();
  if (name === 'include' || name === 'include_if_exists' || name === 'include_dir') return null;
  return name;
}

/** The value part of an assignment: a quoted string (with '' and backslash escapes) or a bare word. */
function parseValue(rest: string): string {
  const text = rest.trimStart();
  if (text.startsWith("'")) {
    let value = '';
    let i = 1;
    for (;;) {
      const c = text[i];
      if (c === undefined) throw new PostgresError(`unterminated quoted value in configuration line: ${rest}`);
      if (c === "'") {
        if (text[i + 1] === "'") {
          value += "'";
          i += 2;
          continue;
        }
        return value;
      }
      if (c === '\\') {
        const next = text[i + 1] ?? '';
        const escapes: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
        value += escapes[next] ?? next;
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
  }
  const bare = /^[^\s#]*/.exec(text);
  return bare ? bare[0] : '';
}

/** Every setting assigned in `text`, names lower-cased, last assignment winning. */
export function parseConf(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const name = assignedName(line);
    if (name === null) continue;
    const match = ASSIGNMENT.exec(line);
    out.set(name, parseValue(match?.[3] ?? ''));
  }
  return out;
}

export type ConfUpdate = string | number | boolean | null;

/**
 * `text` with every assignment of the named settings removed and the non-null
 * ones appended; null removes a setting. Other lines are kept verbatim.
 */
export function setConfEntries(text: string, updates: Readonly<Record<string, ConfUpdate>>): string {
  const names = new Set(Object.keys(updates).map((k) => k.toLowerCase()));
  const kept = text.split('\n').filter((line) => {
    const name = assignedName(line);
    return name === null || !names.has(name);
  });
  while (kept.length > 0 && kept[kept.length - 1] === '') kept.pop();
  for (const [name, value] of Object.entries(updates)) {
    if (value !== null) kept.push(`${name} = ${formatConfValue(value)}`);
  }
  return `${kept.join('\n')}\n`;
}

/** `text` with only the assignments of the named settings removed. */
export function removeConfEntries(text: string, names: Iterable<string>): string {
  const updates: Record<string, null> = {};
  for (const name of names) updates[name] = null;
  return setConfEntries(text, updates);
}

export const MANAGED_BEGIN = '# BEGIN pgfloat node settings: rewritten by pgfloat, change the node configuration instead';
export const MANAGED_END = '# END pgfloat node settings';

/**
 * `text` with the pgfloat block replaced by `block` and moved to the end, so
 * it overrides the defaults above it. Any earlier block is removed whole,
 * including one copied from another node by pg_basebackup or pg_rewind.
 */
export function replaceManagedBlock(text: string, block: readonly string[]): string {
  const lines = text.split('\n');
  const kept: string[] = [];
  let inside = false;
  for (const line of lines) {
    if (line === MANAGED_BEGIN) {
      inside = true;
      // The blank line written before the block belongs to it.
      if (kept[kept.length - 1] === '') kept.pop();
    }
    else if (line === MANAGED_END) inside = false;
    else if (!inside) kept.push(line);
  }
  while (kept.length > 0 && kept[kept.length - 1] === '') kept.pop();
  return `${[...kept, '', MANAGED_BEGIN, ...block, MANAGED_END].join('\n')}\n`;
}
