// A cluster snapshot as the operator sees it: one row per member with its
// role, state, timeline and lag, plus the cluster-wide markers (maintenance
// mode, a pending request, a leader not in its steady phase). Shared by
// `list` and `topology`.
import { DEFAULT_CONFIG, type LeaderItem, type MemberItem } from '../dcs/items.js';
import { clusterLabel } from '../dcs/keys.js';
import type { ClusterSnapshot } from '../dcs/store.js';
import type { CommandContext } from './context.js';
import { currentLeader } from '../ha/leadership.js';
import { RefusedError } from './errors.js';
import { formatIso, formatLsn, hostOf, lagMb, seconds } from './format.js';
import type { Column } from './table.js';

export interface MemberRow {
  readonly member: string;
  readonly host: string;
  readonly role: 'Leader' | 'Sync Standby' | 'Replica' | 'Uninitialized' | 'Primary (no lease)';
  readonly state: string;
  readonly timeline: number;
  /** null for the leader, and when there is no leader to measure from. */
  readonly lagMb: number | null;
  /** The member's WAL position is unknown while a leader exists. */
  readonly lagUnknown: boolean;
  /** Settings whose new value waits for a restart of this member. */
  readonly pendingRestart: readonly string[];
  /** Tags that differ from the defaults, in Patroni's names. */
  readonly tags: Readonly<Record<string, boolean | number>>;
}

export const MEMBER_COLUMNS: readonly Column[] = [
  { header: 'Member' },
  { header: 'Host' },
  { header: 'Role' },
  { header: 'State' },
  { header: 'TL', align: 'right' },
  { header: 'Lag in MB', align: 'right' },
];

/** The columns for `rows`: Pending restart and Tags only when some member has them, as in patronictl. */
export function memberColumns(rows: readonly MemberRow[]): Column[] {
  const cols: Column[] = [...MEMBER_COLUMNS];
  if (rows.some((r) => r.pendingRestart.length > 0)) cols.push({ header: 'Pending restart' });
  if (rows.some((r) => Object.keys(r.tags).length > 0)) cols.push({ header: 'Tags' });
  return cols;
}

/** The cluster's snapshot; a cluster with no item at all is most likely a wrong --cluster or --table. */
export async function readExistingCluster(ctx: CommandContext): Promise<ClusterSnapshot> {
  const snap = await ctx.store.readCluster(ctx.cluster);
  const empty = snap.initialize === null && snap.config === null && snap.leader === null && snap.members.length === 0;
  if (empty && snap.failover === null && snap.malformed.length === 0) {
    throw new RefusedError(
      `cluster ${clusterLabel(ctx.cluster)} not found: no member, leader, config or initialize item in the store; check --cluster and --table`,
    );
  }
  return snap;
}

export { currentLeader };

function roleOf(m: MemberItem, snap: ClusterSnapshot, leader: LeaderItem | null): MemberRow['role'] {
  if (leader !== null && leader.holder === m.name) return 'Leader';
  if (m.role === 'uninitialized') return 'Uninitialized';
  if (m.role === 'primary') return 'Primary (no lease)';
  const sync = snap.sync;
  if (leader !== null && sync !== null && sync.leader === leader.holder && sync.standbys.includes(m.name)) return 'Sync Standby';
  return 'Replica';
}

/**
 * The member's state; a replica that runs is shown as `streaming`. A
 * heartbeat older than ttl by this machine's clock is marked: the agent may
 * be gone (the arbiter judges this by its own clock, not by this one).
 */
function stateOf(m: MemberItem, role: MemberRow['role'], now: number, ttlMs: number): string {
  const replica = m.state === 'running' && (role === 'Replica' || role === 'Sync Standby');
  // An agent that does not report its WAL receiver is taken at its word that a running replica streams.
  const state = replica ? (m.receiver === undefined || m.receiver === 'streaming' ? 'streaming' : `not streaming (receiver ${m.receiver})`) : m.state;
  const age = now - m.heartbeatAt;
  const marked = m.rewindFailed === true ? `${state}, rewind failed (pgfloat reinit ${m.name})` : state;
  return age >= ttlMs ? `${marked} (heartbeat ${seconds(age)} s ago)` : marked;
}

export function memberRow(m: MemberItem, snap: ClusterSnapshot, now: number): MemberRow {
  const leader = currentLeader(snap);
  const ttlMs = (snap.config?.config ?? DEFAULT_CONFIG).ttl * 1000;
  const role = roleOf(m, snap, leader);
  const isLeader = role === 'Leader';
  const lagUnknown = !isLeader && leader !== null && m.lsn === null;
  const lag = isLeader || leader === null || m.lsn === null ? null : lagMb(leader.lastLsn - m.lsn);
  return {
    member: m.name,
    host: hostOf(m.connUrl, m.privateIp),
    role,
    state: stateOf(m, role, now, ttlMs),
    timeline: m.timeline,
    lagMb: lag,
    lagUnknown,
    pendingRestart: m.pendingRestart ?? [],
    tags: changedTags(m),
  };
}

function changedTags(m: MemberItem): Record<string, boolean | number> {
  const out: Record<string, boolean | number> = {};
  if (m.tags.nofailover) out['nofailover'] = true;
  if (m.tags.failoverPriority !== 1) out['failover_priority'] = m.tags.failoverPriority;
  if (m.tags.nosync) out['nosync'] = true;
  if (m.tags.noloadbalance) out['noloadbalance'] = true;
  return out;
}

export function memberRows(snap: ClusterSnapshot, now: number): MemberRow[] {
  return snap.members.map((m) => memberRow(m, snap, now));
}

/** The cells of a row under `columns` (memberColumns). */
export function tableCells(r: MemberRow, name = r.member, columns: readonly Column[] = MEMBER_COLUMNS): string[] {
  const cells = [name, r.host, r.role, r.state, String(r.timeline), r.lagUnknown ? 'unknown' : r.lagMb === null ? '' : String(r.lagMb)];
  if (columns.some((c) => c.header === 'Pending restart')) cells.push(r.pendingRestart.length > 0 ? `* ${r.pendingRestart.join(', ')}` : '');
  if (columns.some((c) => c.header === 'Tags')) cells.push(Object.entries(r.tags).map(([k, v]) => `${k}: ${v}`).join(', '));
  return cells;
}

/** "+ Cluster: orders (7312345678901234567) " */
export function tableTitle(snap: ClusterSnapshot): string {
  const id = snap.initialize?.systemId ?? 'uninitialized';
  return `+ Cluster: ${snap.cluster.scope} (${id}) `;
}

/** Lines printed under the table, each starting with a space as patronictl's do. */
export function footer(snap: ClusterSnapshot): string[] {
  const lines: string[] = [];
  const l = snap.leader;
  if (l !== null && l.phase !== 'active') {
    const what: Record<LeaderItem['phase'], string> = {
      granted: `granted term ${l.term}, promoting`,
      active: '',
      handover: `handing over to ${l.candidate ?? 'an unnamed candidate'} (term ${l.term})`,
      demoted: `stopped writes at ${formatLsn(l.finalLsn ?? l.lastLsn)}, handing over to ${l.candidate ?? 'an unnamed candidate'} (term ${l.term})`,
      released: `released the lease of term ${l.term}: no leader`,
    };
    lines.push(` Leader ${l.holder}: ${what[l.phase]}`);
  }
  if (l !== null && l.phase !== 'released' && l.unfenced === true) {
    lines.push(` Leader ${l.holder}: holds term ${l.term} unfenced (renewed while paused): no automatic failover until it renews after a resume`);
  }
  if (snap.leader === null && !snap.malformed.some((e) => e.kind === 'leader')) lines.push(snap.initialize === null ? ' No leader: not bootstrapped yet' : ' No leader');
  const f = snap.failover;
  if (f !== null) {
    const r = f.request;
    const noun = r.kind === 'switchover' ? 'Switchover' : 'Failover';
    const when = r.scheduledAt === undefined ? 'pending' : `scheduled at: ${formatIso(r.scheduledAt)}`;
    const route = [r.from === undefined ? null : `from: ${r.from}`, r.to === undefined ? null : `to: ${r.to}`].filter((x) => x !== null);
    lines.push(` ${noun} ${when}${route.length > 0 ? ` ${route.join(' ')}` : ''} (requested by ${r.requestedBy})`);
  }
  if (snap.config?.config.paused === true) lines.push(' Maintenance mode: on');
  for (const e of snap.malformed) lines.push(` Malformed item ${e.key}, field ${e.field}: set aside (${e.message})`);
  return lines;
}

/**
 * The JSON of `list` (and `topology`), a stable shape:
 * { cluster: "<namespace>/<scope>", systemId: string | null, paused: boolean,
 *   leader: { name, term, phase } | null,
 *   members: [{ Cluster, Member, Host, Role, State, TL, "Lag in MB": number | null,
 *               "Pending restart": string[], Tags: { name: value } (non-default tags) }],
 *   failover: { kind, from, to, scheduledAt, requestedAt, requestedBy } | null }
 * Times are ISO 8601; from/to/scheduledAt are null when not set. The leader
 * is null when no member holds the lease (absent or released).
 */
export function clusterJson(snap: ClusterSnapshot, rows: readonly MemberRow[]): unknown {
  const leader = currentLeader(snap);
  const f = snap.failover?.request ?? null;
  return {
    cluster: clusterLabel(snap.cluster),
    systemId: snap.initialize?.systemId ?? null,
    paused: snap.config?.config.paused ?? false,
    leader: leader === null ? null : { name: leader.holder, term: leader.term, phase: leader.phase },
    members: rows.map((r) => ({
      Cluster: snap.cluster.scope,
      Member: r.member,
      Host: r.host,
      Role: r.role,
      State: r.state,
      TL: r.timeline,
      'Lag in MB': r.lagMb,
      'Pending restart': [...r.pendingRestart],
      Tags: { ...r.tags },
    })),
    failover:
      f === null
        ? null
        : {
            kind: f.kind,
            from: f.from ?? null,
            to: f.to ?? null,
            scheduledAt: f.scheduledAt === undefined ? null : formatIso(f.scheduledAt),
            requestedAt: formatIso(f.requestedAt),
            requestedBy: f.requestedBy,
          },
  };
}
