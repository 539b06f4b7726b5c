// The config item as the config commands read and write it: absent reads
// as the defaults with no version; a write is a CAS on the version read.
import { DEFAULT_CONFIG, type ClusterConfig, type ConfigItem } from '../../dcs/items.js';
import type { CommandContext } from '../context.js';
import { LostRaceError } from '../errors.js';

export interface ConfigRead {
  readonly config: ClusterConfig;
  /** null: no config item yet (the defaults apply). */
  readonly version: number | null;
}

export async function readConfig(ctx: CommandContext): Promise<ConfigRead> {
  const item = await ctx.store.getConfig(ctx.cluster);
  return item === null ? { config: DEFAULT_CONFIG, version: null } : { config: item.config, version: item.version };
}

export async function writeConfig(ctx: CommandContext, config: ClusterConfig, read: ConfigRead, what: string): Promise<ConfigItem> {
  const res = await ctx.store.putConfig(ctx.cluster, config, read.version);
  if (!res.ok) {
    const now = res.current === null ? 'it was deleted' : `version ${res.current.version}`;
    throw new LostRaceError(`${what} not written: the config changed while you edited (${now}); run again`);
  }
  return res.item;
}
