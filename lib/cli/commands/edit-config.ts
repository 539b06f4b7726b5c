// `pgfloat edit-config`: changes the cluster-wide configuration, given as
// --set/--pg/--file merge patches or edited whole in the operator's editor
// (where a removed key takes its default). The edit is validated before
// anything is written, shown as a diff, confirmed, and written with CAS on
// the version it was made from.
import { clusterLabel } from '../../dcs/keys.js';
import type { ClusterConfig } from '../../dcs/items.js';
import { applyBy, checkParameters } from '../../postgres/parameters.js';
import { FORCE_OPTION, flag, stringOption, stringsOption, type CommandArgs, type CommandSpec } from '../command.js';
import { fromDocument, mergePatch, renderYaml, toDocument, type Doc } from '../config-doc.js';
import type { CommandContext } from '../context.js';
import { unifiedDiff } from '../diff.js';
import { editText } from '../editor.js';
import { RefusedError } from '../errors.js';
import { filePatch, pgPatch, setPatch, yamlMapping } from './config-edits.js';
import { readConfig, writeConfig, type ConfigRead } from './config-item.js';

export const editConfig: CommandSpec = {
  name: 'edit-config',
  summary: 'change the cluster configuration (validated, shown as a diff, written with CAS)',
  synopsis: 'edit-config [cluster] [--set key=value ...] [--pg name=value ...] [--file F | --file -] [--force]',
  help: [
    '--set key=value     a config key in snake_case, dotted for nesting (ttl=30, endpoint.kind=none); value read as YAML, empty removes',
    '--pg name=value     a postgresql parameter (shorthand for --set postgresql.parameters.name=value)',
    '--file F            a YAML mapping merged onto the config (null removes a key); "-" reads stdin',
    'none of these       edit the whole config (as show-config prints it) in $VISUAL, else $EDITOR, else vi',
    '--force, -f         do not ask for confirmation',
  ],
  options: { set: { type: 'string', multiple: true, short: 's' }, pg: { type: 'string', multiple: true, short: 'p' }, file: { type: 'string' }, ...FORCE_OPTION },
  positionals: [],
  async run(ctx, args: CommandArgs) {
    const sets = stringsOption(args, 'set').map((s) => setPatch(this, s));
    const pgs = stringsOption(args, 'pg').map((s) => pgPatch(this, s));
    const file = stringOption(this, args, 'file');
    const force = flag(args, 'force');
    const patches = [...(file === undefined ? [] : [await filePatch(ctx, this, file)]), ...sets, ...pgs];

    const read = await readConfig(ctx);
    const before = toDocument(read.config);
    if (patches.length > 0) return apply(ctx, read, before, patches.reduce((doc, p) => mergePatch(doc, p), before), force);

    const text = renderYaml(before);
    const edited = await editText(text, `${ctx.cluster.scope}-config.yaml`, ctx.io.env);
    if (edited === text) return notChanged(ctx, read);
    const doc = yamlMapping(edited, 'the edited config');
    if (Object.keys(doc).length === 0) throw new RefusedError('the edited config is empty; nothing written');
    return apply(ctx, read, before, doc, force);
  },
};

function notChanged(ctx: CommandContext, read: ConfigRead): number {
  ctx.say('Not changed');
  ctx.result({ changed: false, version: read.version });
  return 0;
}

/** Validates `edited`, shows the diff from `before`, asks, and writes it with CAS on the version read. */
async function apply(ctx: CommandContext, read: ConfigRead, before: Doc, edited: Doc, force: boolean): Promise<number> {
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
  if (diff.length === 0) return notChanged(ctx, read);
  ctx.say(diff.join('\n'));
  await ctx.confirm(`Apply these changes to ${label}?`, force);
  const item = await writeConfig(ctx, validated.config, read, 'edit-config');
  ctx.say(`Configuration of ${label} changed (version ${item.version})`);
  for (const line of applyNotes(read.config, item.config)) ctx.say(line);
  ctx.result({ changed: true, version: item.version, config: toDocument(item.config) });
  return 0;
}

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
