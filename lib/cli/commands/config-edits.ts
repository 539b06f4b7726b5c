// The edits edit-config takes, each read into a snake_case document:
// --set key=value and --pg name=value as merge patches, a YAML file or the
// editor's text as a mapping. Malformed ones are refused before the store
// is read or written.
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import type { CommandSpec } from '../command.js';
import { isMapping, parseValue, pathPatch, type Doc } from '../config-doc.js';
import type { CommandContext } from '../context.js';
import { RefusedError, UsageError } from '../errors.js';

/** "a.b=value" -> the patch { a: { b: value } }. */
export function setPatch(spec: CommandSpec, raw: string): Doc {
  const eq = raw.indexOf('=');
  const path = eq <= 0 ? [] : raw.slice(0, eq).split('.');
  if (eq <= 0 || path.some((k) => k.trim() === '')) {
    throw new UsageError(`--set ${JSON.stringify(raw)}: expected key=value, e.g. --set ttl=30 or --set endpoint.kind=none`, spec.name);
  }
  return pathPatch(
    path.map((k) => k.trim()),
    parseValue(raw.slice(eq + 1)),
  );
}

/** "name=value" -> the patch { postgresql: { parameters: { name: value } } }; the name may contain dots. */
export function pgPatch(spec: CommandSpec, raw: string): Doc {
  const eq = raw.indexOf('=');
  const name = eq <= 0 ? '' : raw.slice(0, eq).trim();
  if (name === '') throw new UsageError(`--pg ${JSON.stringify(raw)}: expected name=value, e.g. --pg max_connections=200`, spec.name);
  return pathPatch(['postgresql', 'parameters', name], parseValue(raw.slice(eq + 1)));
}

/** YAML text as a mapping of config keys; `what` names the text in a refusal. An empty text is the empty mapping. */
export function yamlMapping(text: string, what: string): Doc {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new RefusedError(`${what} is not valid YAML (${(err as Error).message.split('\n')[0] ?? ''}); nothing written`, { cause: err });
  }
  if (doc === null || doc === undefined) return {};
  if (!isMapping(doc)) throw new RefusedError(`${what}: expected a mapping of config keys (e.g. "ttl: 30"); nothing written`);
  return doc;
}

export async function filePatch(ctx: CommandContext, spec: CommandSpec, file: string): Promise<Doc> {
  let text: string;
  try {
    text = file === '-' ? await ctx.readStdin() : await readFile(file, 'utf8');
  } catch (err) {
    const why = (err as { code?: string }).code ?? String(err);
    throw new UsageError(`--file ${file}: cannot be read (${why}): check the path`, spec.name, { cause: err });
  }
  return yamlMapping(text, `--file ${file}`);
}
