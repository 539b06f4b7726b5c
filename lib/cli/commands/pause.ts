// `pgfloat pause` / `pgfloat resume`: maintenance mode. While paused the
// arbiter makes no automatic failover; switchover --candidate and failover
// still work.
import type { CommandSpec } from '../command.js';
import type { CommandContext } from '../context.js';
import { clusterLabel } from '../../dcs/keys.js';
import { readConfig, writeConfig } from './config-item.js';

async function setPaused(ctx: CommandContext, paused: boolean): Promise<number> {
  const read = await readConfig(ctx);
  const label = clusterLabel(ctx.cluster);
  if (read.config.paused === paused) {
    ctx.say(paused ? `Cluster management of ${label} is already paused` : `Cluster management of ${label} is not paused`);
    ctx.result({ paused, changed: false, version: read.version });
    return 0;
  }
  const item = await writeConfig(ctx, { ...read.config, paused }, read, paused ? 'pause' : 'resume');
  ctx.say(paused ? `Success: cluster management of ${label} is paused` : `Success: cluster management of ${label} is resumed`);
  ctx.result({ paused, changed: true, version: item.version });
  return 0;
}

export const pause: CommandSpec = {
  name: 'pause',
  summary: 'maintenance mode on: no automatic failover',
  synopsis: 'pause [cluster]',
  help: [],
  options: {},
  positionals: [],
  run: (ctx) => setPaused(ctx, true),
};

export const resume: CommandSpec = {
  name: 'resume',
  summary: 'maintenance mode off',
  synopsis: 'resume [cluster]',
  help: [],
  options: {},
  positionals: [],
  run: (ctx) => setPaused(ctx, false),
};
