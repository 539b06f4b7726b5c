// `pgfloat show-config` and `pgfloat edit-config`: the cluster-wide
// configuration in Patroni's snake_case names. An edit is validated before
// anything is written, shown as a diff, confirmed, and written with CAS on
// the version it was made from.
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { clusterLabel } from '../../dcs/keys.js';
import { FORCE_OPTION, flag, stringOption, stringsOption, type CommandArgs, type CommandSpec } from '../command.js';
import { fromDocument, isMapping, mergePatch, parseValue, pathPatch, renderYaml, toDocument, type Doc } from '../config-doc.js';
import type { CommandContext } from '../context.js';
import { RefusedError, UsageError } from '../errors.js';
import { unifiedDiff } from '../diff.js';
import { readConfig, writeConfig } from './config-item.js';
import { applyBy, checkParameters } from '../../postgres/parameters.js';
import type { ClusterConfig } from '../../dcs/items.js';

export const showConfig: CommandSpec = {
  name: 'show-config',
  summary: 'the cluster configuration (YAML; --json for JSON)',
  synopsis: 'show-config [cluster]',
  help: [],
  options: {},
  positionals: [],
  async run(ctx) {
    const read = await readConfig(ctx);
    const doc = toDocument(read.config);
    if (read.version === null) ctx.io.stderr.write(`No config stored for ${clusterLabel(ctx.cluster)} yet: these are the defaults\n`);
    if (ctx.json) ctx.result(doc);
    else ctx.say(renderYaml(doc).trimEnd());
    return 0;
  },
};

/** "a.b=value" -> the patch { a: { b: value } }. */
function setPatch(spec: CommandSpec, raw: string): Doc {
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
function pgPatch(spec: CommandSpec, raw: string): Doc {
  const eq = raw.indexOf('=');
  const name = eq <= 0 ? '' : raw.slice(0, eq).trim();
  if (name === '') throw new UsageError(`--pg ${JSON.stringify(raw)}: expected name=value, e.g. --pg max_connections=200`, spec.name);
  return pathPatch(['postgresql', 'parameters', name], parseValue(raw.slice(eq + 1)));
}

async function filePatch(ctx: CommandContext, spec: CommandSpec, file: string): Promise<Doc> {
  let text: string;
  try {
    text = file === '-' ? await ctx.readStdin() : await readFile(file, 'utf8');
  } catch (err) {
    const why = (err as { code?: string }).code ?? String(err);
    throw new UsageError(`--file ${file}: cannot be read (${why}): check the path`, spec.name, { cause: err });
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new RefusedError(`--file ${file} is not valid YAML (${(err as Error).message.split('\n')[0] ?? ''}); nothing written`, {
      cause: err,
    });
  }
  if (doc === null || doc === undefined) return {};
  if (!isMapping(doc)) throw new RefusedError(`--file ${file}: expected a mapping of config keys (e.g. "ttl: 30"); nothing written`);
  return doc;
}

export const editConfig: CommandSpec = {
  name: 'edit-config',
  summary: 'change the cluster configuration (validated, shown as a diff, written with CAS)',
  synopsis: 'edit-config [cluster] [--set key=value ...] [--pg name=value ...] [--file F | --file -] [--force]',
  help: [
    '--set key=value     a config key in snake_case, dotted for nesting (ttl=30, endpoint.kind=none); value read as YAML, empty removes',
    '--pg name=value     a postgresql parameter (shorthand for --set postgresql.parameters.name=value)',
    '--file F            a YAML mapping merged onto the config (null removes a key); "-" reads stdin',
    '--force, -f         do not ask for confirmation',
  ],
  options: { set: { type: 'string', multiple: true, short: 's' }, pg: { type: 'string', multiple: true, short: 'p' }, file: { type: 'string' }, ...FORCE_OPTION },
  positionals: [],
  async run(ctx, args: CommandArgs) {
    const sets = stringsOption(args, 'set').map((s) => setPatch(this, s));
    const pgs = stringsOption(args, 'pg').map((s) => pgPatch(this, s));
    const file = stringOption(this, args, 'file');
    if (sets.length === 0 && pgs.length === 0 && file === undefined) {
      throw new UsageError('edit-config needs an edit: pass --set key=value, --pg name=value or --file F', this.name);
    }
    const force = flag(args, 'force');
    const patches = [...(file === undefined ? [] : [await filePatch(ctx, this, file)]), ...sets, ...pgs];

    const read = await readConfig(ctx);
    const before = toDocument(read.config);
    const edited = patches.reduce((doc, p) => mergePatch(doc, p), before);
    const validated = fromDocument(edited);
    if (!validated.ok) {
      throw new RefusedError(`invalid config, nothing written:\n  ${validated.errors.join('\n  ')}`);
    }
    const memoryBytes = await smallestMemory(ctx);
    const checked = checkParameters(validated.config.postgresql.parameters, { source: 'cluster', ...(memoryBytes !== undefined ? { memoryBytes } : {}) });
    if (checked.problems.length > 0) {
      throw new RefusedError(`invalid postgresql parameters, nothing written:\n  ${checked.problems.map((p) => p.message).join('\n  ')}`);
    }
    const oldText = renderYaml(before);
    const newText = renderYaml(toDocument(validated.config));
    const label = clusterLabel(ctx.cluster);
    const diff = unifiedDiff(oldText, newText, `${label} config (version ${read.version ?? 'none: defaults'})`, `${label} config (edited)`);
    if (diff.length === 0) {
      ctx.say('Not changed');
      ctx.result({ changed: false, version: read.version });
      return 0;
    }
    ctx.say(diff.join('\n'));
    await ctx.confirm(`Apply these changes to ${label}?`, force);
    const item = await writeConfig(ctx, validated.config, read, 'edit-config');
    ctx.say(`Configuration of ${label} changed (version ${item.version})`);
    for (const line of applyNotes(read.config, item.config)) ctx.say(line);
    ctx.result({ changed: true, version: item.version, config: toDocument(item.config) });
    return 0;
  },
};

/** The least memory any member reported, bytes; undefined when none did. */
async function smallestMemory(ctx: CommandContext): Promise<number | undefined> {
  const snap = await ctx.store.readCluster(ctx.cluster);
  const sizes = snap.members.map((m) => m.memoryBytes).filter((b): b is number => b !== undefined);
  return sizes.length === 0 ? undefined : Math.min(...sizes);
}

/** How each changed parameter takes effect on the members. */
function applyNotes(before: ClusterConfig, after: ClusterConfig): string[] {
  const a = before.postgresql.parameters;
  const b = after.postgresql.parameters;
  const changed = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => a[k] !== b[k]).sort();
  const reload = changed.filter((k) => applyBy(k) === 'reload');
  const restart = changed.filter((k) => applyBy(k) === 'restart');
  const lines: string[] = [];
  if (reload.length > 0) lines.push(`${reload.join(', ')}: applied by a reload on every member within a loop`);
  if (restart.length > 0) lines.push(`${restart.join(', ')}: needs a restart of each member (shown under Pending restart in pgfloat list)`);
  return lines;
}
