// `pgfloat dsn [cluster]`: the libpq connection string of the leader, of a
// named member, or of the first streaming replica, from the connUrl the
// member's heartbeat reports.
import type { MemberItem } from '../../dcs/items.js';
import { clusterLabel } from '../../dcs/keys.js';
import { buildConninfo } from '../../postgres/quote.js';
import { memberNamed } from '../candidate.js';
import { currentLeader, memberRow } from '../cluster-view.js';
import { stringOption, type CommandArgs, type CommandSpec } from '../command.js';
import type { CommandContext } from '../context.js';
import { RefusedError, UsageError } from '../errors.js';
import { memberArgument } from './switchover.js';

const DEFAULT_PG_PORT = 5432;
const ROLES = ['leader', 'replica'] as const;
type Role = (typeof ROLES)[number];

type Wanted = { readonly member: string } | { readonly role: Role };

function wanted(spec: CommandSpec, args: CommandArgs): Wanted {
  const rawMember = stringOption(spec, args, 'member');
  const rawRole = stringOption(spec, args, 'role');
  if (rawMember !== undefined && rawRole !== undefined) {
    throw new UsageError('--member and --role contradict each other: pass one of them', spec.name);
  }
  if (rawMember !== undefined) return { member: memberArgument(spec, '--member', rawMember) };
  if (rawRole === undefined) return { role: 'leader' };
  const role = ROLES.find((r) => r === rawRole);
  if (role === undefined) throw new UsageError(`--role ${rawRole}: one of ${ROLES.join(', ')}`, spec.name);
  return { role };
}

/** "host=... port=..." from a postgres:// URL; RefusedError when it is none. */
export function conninfoOf(m: MemberItem): string {
  let host = '';
  let port = '';
  try {
    const url = new URL(m.connUrl);
    if (url.protocol === 'postgres:' || url.protocol === 'postgresql:') {
      // URL keeps the brackets of an IPv6 literal and the %-escapes; libpq wants the host bare.
      host = decodeURIComponent(url.hostname).replace(/^\[(.*)\]$/, '$1');
      port = url.port;
    }
  } catch {
    host = '';
  }
  if (host === '' || host.includes('\0')) {
    throw new RefusedError(`${m.name} reports connUrl ${JSON.stringify(m.connUrl)}, not a postgres://host:port URL: no connection string to give`);
  }
  return buildConninfo({ host, port: port === '' ? DEFAULT_PG_PORT : Number(port) });
}

async function target(ctx: CommandContext, w: Wanted): Promise<MemberItem> {
  const snap = await ctx.store.readCluster(ctx.cluster);
  const label = clusterLabel(ctx.cluster);
  if ('member' in w) return memberNamed(snap, w.member, `dsn --member ${w.member}`);
  const leader = currentLeader(snap);
  if (w.role === 'leader') {
    if (leader === null) throw new RefusedError(`dsn refused: ${label} has no leader (pass --member M for a given member)`);
    return memberNamed(snap, leader.holder, `dsn of leader ${leader.holder}`);
  }
  // A replica as `list` shows it: running, streaming, its heartbeat within ttl.
  const rows = snap.members.map((m) => ({ m, row: memberRow(m, snap, ctx.now()) }));
  const replica = rows.find(({ row }) => (row.role === 'Replica' || row.role === 'Sync Standby') && row.state === 'streaming');
  if (replica === undefined) {
    const others = rows.filter(({ row }) => row.role !== 'Leader').map(({ row }) => `${row.member}: ${row.role}, ${row.state}`);
    throw new RefusedError(`dsn refused: ${label} has no streaming replica (${others.length > 0 ? others.join('; ') : 'no member but the leader'})`);
  }
  return replica.m;
}

export const dsn: CommandSpec = {
  name: 'dsn',
  summary: 'the libpq connection string of the leader, a member or a replica',
  synopsis: 'dsn [cluster] [--member M | --role leader|replica]',
  help: [
    '--member M          the connection string of member M',
    '--role R            leader (default), or replica: the first streaming replica by name',
  ],
  options: { member: { type: 'string' }, role: { type: 'string' } },
  positionals: [],
  async run(ctx, args) {
    const w = wanted(this, args);
    const m = await target(ctx, w);
    const conninfo = conninfoOf(m);
    ctx.say(conninfo);
    ctx.result({ member: m.name, dsn: conninfo });
    return 0;
  },
};
