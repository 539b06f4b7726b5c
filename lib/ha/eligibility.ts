// Who may become primary. Every failing rule is a reason string; the first
// failing rule is the one reported.
import { DEFAULT_CONFIG } from '../dcs/items.js';
import type { ClusterConfig, InitializeItem, LeaderItem, MemberItem, SyncItem } from '../dcs/items.js';
import type { ClusterSnapshot } from '../dcs/store.js';
import { formatSeconds } from './format.js';
import { heartbeatAge, type MemberObservations } from './observation.js';

export type Eligibility = { readonly eligible: true } | { readonly eligible: false; readonly reason: string };

export interface EligibilityContext {
  /** Arbiter time, epoch ms. */
  readonly now: number;
  readonly config: ClusterConfig;
  readonly leader: LeaderItem | null;
  readonly initialize: InitializeItem | null;
  readonly sync: SyncItem | null;
  /** The arbiter's observations, already updated with the snapshot being decided. */
  readonly members: MemberObservations;
  /** Manual failover: maximum_lag_on_failover does not apply. */
  readonly skipLag?: boolean;
  /** The WAL position lag is measured from; default the leader's lastLsn. */
  readonly referenceLsn?: number;
  /**
   * A holder that stopped writes during a switchover (phase `demoted`): it may
   * take the lease back as it is, so its role, timeline, lag and sync rules
   * do not apply to it.
   */
  readonly stoppedHolder?: string;
}

/** The context of a snapshot whose observations were updated at `now`. */
export function eligibilityContext(
  snapshot: ClusterSnapshot,
  members: MemberObservations,
  now: number,
  options: Pick<EligibilityContext, 'skipLag' | 'referenceLsn' | 'stoppedHolder'> = {},
): EligibilityContext {
  return {
    now,
    config: snapshot.config?.config ?? DEFAULT_CONFIG,
    leader: snapshot.leader,
    initialize: snapshot.initialize,
    sync: snapshot.sync,
    members,
    ...options,
  };
}

const ok: Eligibility = { eligible: true };
const no = (reason: string): Eligibility => ({ eligible: false, reason });

export function eligibility(member: MemberItem, ctx: EligibilityContext): Eligibility {
  const ttlMs = ctx.config.ttl * 1000;
  const age = heartbeatAge(member, ctx.members, ctx.now);
  if (age >= ttlMs) return no(`heartbeat stale ${formatSeconds(age)} (ttl ${formatSeconds(ttlMs)})`);
  const stopped = ctx.stoppedHolder !== undefined && ctx.stoppedHolder === member.name;
  // A holder that stopped writes for a handover is stopped on purpose: it can take its lease back (it starts
  // read-only and promotes under the new grant), and its WAL ends at the handover's final LSN.
  if (member.state !== 'running' && !(stopped && member.state === 'stopped')) return no(`state ${member.state}, not running`);
  // The member that won `initialize` runs as a primary before its first grant.
  const bootstrapper = ctx.leader === null && ctx.initialize?.initializedBy === member.name;
  const roleOk = member.role === 'replica' || ((stopped || bootstrapper) && member.role === 'primary');
  if (!roleOk) return no(`role ${member.role}, not a replica`);

  if (member.tags.nofailover) return no('nofailover tag');
  // Its pre_promote script refused the last grant: another grant now would meet the same refusal.
  if (member.promotionVetoed === true) return no('its pre_promote script vetoed a promotion lately');
  const fs = failsafeRule(member, ctx);
  if (fs !== ok) return fs;
  if (member.tags.failoverPriority <= 0) return no('nofailover tag (failover_priority 0)');

  const clusterSystemId = ctx.initialize?.systemId ?? null;
  if (member.systemId !== null && clusterSystemId !== null && member.systemId !== clusterSystemId) {
    return no(`system identifier ${member.systemId} differs from the cluster's ${clusterSystemId}`);
  }
  if (member.lsn === null && !stopped) return no('WAL position unknown');

  const leader = ctx.leader;
  if (leader === null || stopped) return ok;
  if (member.lsn === null) return no('WAL position unknown');

  if (member.timeline < leader.timeline) {
    return no(`timeline ${member.timeline} behind cluster's ${leader.timeline}`);
  }
  if (!ctx.skipLag) {
    const lag = (ctx.referenceLsn ?? leader.lastLsn) - member.lsn;
    const max = ctx.config.maximumLagOnFailover;
    if (lag > max) return no(`lag ${lag} bytes > maximum_lag_on_failover ${max}`);
  }
  return syncRule(member, ctx, leader);
}

/**
 * failsafe_mode: a member that promised a primary cut off from the store not
 * to promote would not act on a grant; and while the leader item names a
 * failsafe set, its holder may still hold its role by the promises of that
 * set alone, so no member outside it may be granted. (The member's own
 * refusal is what keeps this safe when the arbiter reads a promise late.)
 */
function failsafeRule(member: MemberItem, ctx: EligibilityContext): Eligibility {
  if (member.failsafe !== undefined) {
    return no(`promised ${member.failsafe.holder} (term ${member.failsafe.term}) not to promote: failsafe mode holds that primary's role while it cannot reach the store`);
  }
  const leader = ctx.leader;
  if (!ctx.config.failsafeMode || leader === null || leader.failsafe === undefined || leader.phase === 'released' || leader.phase === 'demoted' || member.name === leader.holder) return ok;
  if (!leader.failsafe.includes(member.name)) return no(`not in the failsafe set of ${leader.holder} (term ${leader.term}: ${leader.failsafe.join(', ') || 'none'})`);
  return ok;
}

/**
 * In synchronous mode only a standby that the last primary's agent recorded
 * in `sync` may take over: the record of this holder, or, while the holder's
 * grant is unconfirmed, the record of whoever wrote it (the grantee may never
 * have promoted; the commits to keep are that primary's), as after a grantee
 * released a grant it never recorded a sync state under. The grantee itself
 * stays a candidate. Without such a record (mode just switched on, or a new
 * leader not yet written it) synchronous replication is not in force: the
 * rule is waived, except in strict mode.
 */
function syncRule(member: MemberItem, ctx: EligibilityContext, leader: LeaderItem): Eligibility {
  if (!ctx.config.synchronousMode) return ok;
  const sync = ctx.sync;
  // A grantee that released without ever writing the record (a vetoed promotion) leaves its predecessor's in force too.
  const unrecorded = leader.phase === 'granted' || (leader.phase === 'released' && sync?.leader === leader.previous);
  const inForce = sync !== null && (sync.leader === leader.holder || unrecorded);
  if (inForce) {
    if (sync.standbys.includes(member.name) || member.name === leader.holder || member.name === sync.leader) return ok;
    const listed = sync.standbys.length > 0 ? sync.standbys.join(', ') : 'none';
    return no(`not a synchronous standby (sync standbys of ${sync.leader}: ${listed})`);
  }
  if (ctx.config.synchronousModeStrict) {
    return no(`not a synchronous standby (no sync record for leader ${leader.holder}, synchronous_mode_strict)`);
  }
  return ok;
}

/** Highest LSN first, then highest failover priority, then name ascending. */
export function rankCandidates(members: readonly MemberItem[]): MemberItem[] {
  return [...members].sort((x, y) => {
    const lx = x.lsn ?? -1;
    const ly = y.lsn ?? -1;
    if (lx !== ly) return ly - lx;
    const px = x.tags.failoverPriority;
    const py = y.tags.failoverPriority;
    if (px !== py) return py - px;
    return x.name < y.name ? -1 : x.name > y.name ? 1 : 0;
  });
}

export interface Assessment {
  /** Eligible members, best first. */
  readonly eligible: readonly MemberItem[];
  /** "name: reason" for every member left out. */
  readonly refused: readonly string[];
}

export function assess(members: readonly MemberItem[], ctx: EligibilityContext): Assessment {
  const eligible: MemberItem[] = [];
  const refused: string[] = [];
  for (const m of members) {
    const e = eligibility(m, ctx);
    if (e.eligible) eligible.push(m);
    else refused.push(`${m.name}: ${e.reason}`);
  }
  return { eligible: rankCandidates(eligible), refused };
}
