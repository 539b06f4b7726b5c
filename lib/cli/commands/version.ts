// `pgfloat version [cluster]`: the CLI's version, then each member's agent
// and PostgreSQL versions as its heartbeat reports them. Without a cluster
// named anywhere, the CLI's version alone.
import { DcsError } from '../../dcs/errors.js';
import type { MemberItem } from '../../dcs/items.js';
import { clusterLabel } from '../../dcs/keys.js';
import type { CommandSpec } from '../command.js';
import type { Reporter } from '../context.js';
import { postgresVersion } from '../format.js';
import { VERSION } from '../../agent/version.js';

interface MemberVersions {
  readonly name: string;
  /** null: the agent does not report its version. */
  readonly agent: string | null;
  /** major.minor; null: not reported (the server is not running, or the agent predates the field). */
  readonly postgres: string | null;
}

function versionsOf(m: MemberItem): MemberVersions {
  return { name: m.name, agent: m.agentVersion ?? null, postgres: m.serverVersion === undefined ? null : postgresVersion(m.serverVersion) };
}

function report(out: Reporter, members: readonly MemberVersions[]): void {
  out.say(`pgfloat ${VERSION}`);
  for (const m of members) out.say(`${m.name}: pgfloat ${m.agent ?? 'unknown'} PostgreSQL ${m.postgres ?? 'unknown'}`);
  out.result({ cli: VERSION, members });
}

export const version: CommandSpec = {
  name: 'version',
  summary: "the CLI's version, and each member's agent and PostgreSQL versions",
  synopsis: 'version [cluster]',
  help: [],
  options: {},
  positionals: [],
  async runWithoutCluster(out) {
    report(out, []);
    return 0;
  },
  async run(ctx) {
    let members: readonly MemberItem[];
    try {
      members = (await ctx.store.readCluster(ctx.cluster)).members;
    } catch (err) {
      if (!(err instanceof DcsError)) throw err;
      report(ctx, []);
      ctx.io.stderr.write(`pgfloat: members of ${clusterLabel(ctx.cluster)} not read: ${err.message}\n`);
      return 1;
    }
    report(ctx, members.map(versionsOf));
    if (members.length === 0) ctx.io.stderr.write(`No members in ${clusterLabel(ctx.cluster)}\n`);
    return 0;
  },
};
