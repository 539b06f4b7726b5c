// synchronous_standby_names as data. The grammar is PostgreSQL 15's
// (syncrep_gram.y): "a, b" (= FIRST 1), "2 (a, b)" (= FIRST 2),
// "FIRST n (...)", "ANY n (...)"; names may be double-quoted with "" for a
// quote. Invariant: formatSyncStandbys quotes every name, so a name is never
// read as a keyword, a number or a list separator, and
// parseSyncStandbys(formatSyncStandbys(s)) deep-equals s.
import { InvalidSyncStandbysError } from './errors.js';

export interface SyncStandbys {
  /** FIRST: the `count` highest-priority connected names (list order); ANY: any `count` of them (quorum). */
  readonly method: 'first' | 'any';
  readonly count: number;
  readonly names: readonly string[];
}

/** application_name is truncated to this many bytes, so longer names never match. */
const MAX_NAME_BYTES = 63;

export function quoteStandbyName(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function check(spec: SyncStandbys, input: string): void {
  const fail = (reason: string): never => {
    throw new InvalidSyncStandbysError(input, reason);
  };
  if (spec.names.length === 0) fail('name at least one standby (use null for asynchronous replication)');
  if (!Number.isInteger(spec.count) || spec.count < 1) fail(`count must be a whole number of at least 1, not ${spec.count}`);
  if (spec.count > spec.names.length) fail(`count ${spec.count} exceeds the ${spec.names.length} named standbys, so commits would wait forever`);
  const seen = new Set<string>();
  for (const name of spec.names) {
    if (name === '' || name.includes('\0')) fail('standby names must be non-empty and free of NUL');
    if (Buffer.byteLength(name) > MAX_NAME_BYTES) fail(`standby name ${JSON.stringify(name)} is longer than ${MAX_NAME_BYTES} bytes`);
    // PostgreSQL matches names to application_name case-insensitively.
    const key = name.toLowerCase();
    if (seen.has(key)) fail(`standby name ${JSON.stringify(name)} is listed twice`);
    seen.add(key);
  }
}

/** The setting text for a specification; null (asynchronous replication) gives ''. */
export function formatSyncStandbys(spec: SyncStandbys | null): string {
  if (spec === null) return '';
  const text = `${spec.method.toUpperCase()} ${spec.count} (${spec.names.map(quoteStandbyName).join(', ')})`;
  check(spec, text);
  return text;
}

type Token =
  | { kind: 'open' | 'close' | 'comma' }
  | { kind: 'word'; text: string }
  | { kind: 'quoted'; text: string };

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i] ?? '';
    if (/\s/.test(c)) {
      i++;
    } else if (c === '(' || c === ')' || c === ',') {
      tokens.push({ kind: c === '(' ? 'open' : c === ')' ? 'close' : 'comma' });
      i++;
    } else if (c === '"') {
      let text = '';
      i++;
      for (;;) {
        const d = input[i];
        if (d === undefined) throw new InvalidSyncStandbysError(input, 'unterminated quoted name');
        if (d === '"') {
          if (input[i + 1] === '"') {
            text += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        text += d;
        i++;
      }
      tokens.push({ kind: 'quoted', text });
    } else {
      const match = /^[^\s(),"]+/.exec(input.slice(i));
      const text = match ? match[0] : c;
      tokens.push({ kind: 'word', text });
      i += text.length;
    }
  }
  return tokens;
}

/**
 * The specification a setting text means, or null when it is empty
 * (asynchronous replication). Accepts every value PostgreSQL 15 accepts;
 * formatSyncStandbys is stricter about what it writes.
 */
export function parseSyncStandbys(input: string): SyncStandbys | null {
  const tokens = tokenize(input);
  if (tokens.length === 0) return null;
  let i = 0;
  const fail = (reason: string): never => {
    throw new InvalidSyncStandbysError(input, reason);
  };
  const peek = (): Token | undefined => tokens[i];
  const isNumber = (t: Token | undefined): t is { kind: 'word'; text: string } => t?.kind === 'word' && /^\d+$/.test(t.text);
  const keyword = (t: Token | undefined): string | null => (t?.kind === 'word' ? t.text.toUpperCase() : null);

  const nameList = (): string[] => {
    const names: string[] = [];
    for (;;) {
      const t = peek();
      if (t?.kind === 'quoted' || (t?.kind === 'word' && keyword(t) !== 'ANY' && keyword(t) !== 'FIRST')) {
        names.push(t.text);
        i++;
      } else {
        fail(`expected a standby name at token ${i + 1}`);
      }
      if (peek()?.kind !== 'comma') return names;
      i++;
    }
  };
  const countAndList = (method: 'first' | 'any'): SyncStandbys => {
    const n = peek();
    if (!isNumber(n)) return fail(`expected a count after ${method.toUpperCase()}`);
    i++;
    if (peek()?.kind !== 'open') fail('expected "(" before the standby names');
    i++;
    const names = nameList();
    if (peek()?.kind !== 'close') fail('expected ")" after the standby names');
    i++;
    return { method, count: Number(n.text), names };
  };

  let spec: SyncStandbys;
  const first = keyword(peek());
  if ((first === 'ANY' || first === 'FIRST') && isNumber(tokens[1])) {
    i++;
    spec = countAndList(first === 'ANY' ? 'any' : 'first');
  } else if (isNumber(peek()) && tokens[1]?.kind === 'open') {
    spec = countAndList('first');
  } else {
    spec = { method: 'first', count: 1, names: nameList() };
  }
  if (i !== tokens.length) fail(`unexpected text after the standby list at token ${i + 1}`);
  // PostgreSQL itself refuses only a zero count; longer lists and repeated names are its own business.
  if (spec.count < 1) fail('the number of synchronous standbys must be at least 1');
  return spec;
}
