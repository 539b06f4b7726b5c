// Error text for configuration files: each line names the full YAML path of
// the bad key (`tags.nofailovr`, `items[2].name`) and how to fix it.
import type { YAMLParseError } from 'yaml';
import type { z } from 'zod';

/** Levenshtein distance: the fewest single-character edits turning a into b. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

/** The accepted key an unknown one was most likely meant as: same but for case, else at most 2 edits away; null if none. */
export function nearestKey(key: string, accepted: readonly string[]): string | null {
  const sameCase = accepted.find((k) => k.toLowerCase() === key.toLowerCase());
  if (sameCase !== undefined) return sameCase;
  let best: string | null = null;
  let bestDistance = 3;
  for (const k of accepted) {
    const d = editDistance(key, k);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

/** A YAML path: keys joined with dots, array indices as [i]. */
export function yamlPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out;
}

/** The line for one unknown key at path. */
export function unknownKeyMessage(key: string, accepted: readonly string[]): string {
  const near = nearestKey(key, accepted);
  return `unknown key${near !== null ? `, did you mean ${near}?` : ''} (accepted here: ${accepted.join(', ')})`;
}

function describe(input: unknown): string {
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'object') return 'a mapping';
  if (typeof input === 'string') return `the string ${JSON.stringify(input)}`;
  return `${typeof input} ${String(input)}`;
}

const EXPECTED: Record<string, string> = {
  boolean: 'true or false',
  object: 'a mapping (key: value)',
  array: 'a list',
  number: 'a number',
  string: 'a string',
};

/**
 * Validates input against schema and returns either the data or one
 * `  <path>: <message>` line per problem. Messages of the schema that start
 * with their own key have that prefix dropped, so the path appears once.
 */
export function validate<S extends z.ZodType>(schema: S, input: unknown): { ok: true; data: z.output<S> } | { ok: false; lines: string[] } {
  // The keys each strict object accepts, by the path of its unknown-key issue.
  const accepted = new Map<string, string[]>();
  const r = schema.safeParse(input, {
    error: (iss) => {
      if (iss.code === 'unrecognized_keys') {
        const shape = (iss.inst as { _zod?: { def?: { shape?: Record<string, unknown> } } } | undefined)?._zod?.def?.shape;
        accepted.set(yamlPath(iss.path ?? []), Object.keys(shape ?? {}));
        return 'unknown key';
      }
      if (iss.code === 'invalid_type') {
        if (iss.input === undefined) return 'missing (add it)';
        const want = EXPECTED[iss.expected] ?? iss.expected;
        const quote = iss.expected === 'string' && (typeof iss.input === 'number' || typeof iss.input === 'boolean') ? `: quote it, e.g. '${String(iss.input)}'` : '';
        return `expected ${want}, got ${describe(iss.input)}${quote}`;
      }
      return undefined;
    },
  });
  if (r.success) return { ok: true, data: r.data };
  const lines: string[] = [];
  for (const issue of r.error.issues) {
    const at = yamlPath(issue.path);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        lines.push(`  ${yamlPath([...issue.path, key])}: ${unknownKeyMessage(key, accepted.get(at) ?? [])}`);
      }
      continue;
    }
    const message = at !== '' && issue.message.startsWith(`${at}: `) ? issue.message.slice(at.length + 2) : issue.message;
    lines.push(`  ${at || '(top level)'}: ${message}`);
  }
  return { ok: false, lines };
}

/** A YAML syntax error as `line L, column C: reason`, then the lines the yaml package points at. */
export function yamlSyntaxMessage(err: unknown): string {
  const e = err as Partial<YAMLParseError> & Error;
  const [reason = e.message, ...context] = e.message.split('\n');
  const pos = e.linePos?.[0];
  const where = pos !== undefined ? `line ${pos.line}, column ${pos.col}: ` : '';
  const what = reason.replace(/ at line \d+, column \d+:?$/, '');
  const snippet = context.filter((l) => l.trim() !== '').map((l) => `\n  ${l}`).join('');
  return `${where}${what}${snippet}`;
}
