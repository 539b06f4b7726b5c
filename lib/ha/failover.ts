// Failover: automatic (the leader is gone) and manual (an operator names the
// member to promote). Both grant a new term with a CAS on the leader version
// the decision was made from.
import type { FailoverItem, MemberItem } from '../dcs/items.js';
import type { Grant } from '../dcs/store.js';
import { clearFailover, none, type ArbiterAction, type GrantAction } from './actions.js';
import { assess, eligibility, type EligibilityContext } from './eligibility.js';
import { formatLsn, formatSeconds } from './format.js';
import { currentLeader } from './leadership.js';
import { contextOf, keepWaiting, leaderAge, leaderSeen, memberNamed, versionOf, type Tick } from './tick.js';

type GrantKind = Grant['kind'];

export function grantTo(t: Tick, member: MemberItem, kind: GrantKind, reason: string): GrantAction {
  const leader = t.snapshot.leader;
  return {
    type: 'grant',
    reason,
    grant: {
      holder: member.name,
      expected: leader === null ? null : versionOf(leader),
      previous: leader?.holder ?? null,
      // A holder that stopped writes for a handover reports no position while stopped: its WAL ends at the final LSN.
      lastLsn: member.lsn ?? (member.name === leader?.holder ? (leader.finalLsn ?? leader.lastLsn) : 0),
      timeline: member.timeline,
      reason,
      kind,
      grantedAt: t.now,
    },
  };
}

/** Why the leader is gone, or null while its lease is live. */
export function leaderLost(t: Tick): string | null {
  const { leader, initialize } = t.snapshot;
  if (leader === null) {
    return initialize === null ? null : `no leader yet (cluster initialized by ${initialize.initializedBy})`;
  }
  if (leader.phase === 'released') return `${leader.holder} released the lease of term ${leader.term}`;
  if (t.leaseExpired) {
    return `${leader.holder}'s lease expired: version ${leader.version} unchanged for ${formatSeconds(leaderAge(t))} (ttl ${formatSeconds(t.ttlMs)})`;
  }
  return null;
}

function liveLeader(t: Tick): string {
  const leader = t.snapshot.leader;
  if (leader === null) return 'cluster not bootstrapped yet: agents race for initialize';
  switch (leader.phase) {
    case 'granted':
      return `${leader.holder} granted term ${leader.term}, waiting for its promotion (${leaderSeen(t, leader)})`;
    case 'handover':
    case 'demoted':
      return `leader ${leader.holder} handing over to ${leader.candidate ?? 'an unnamed candidate'} (${leaderSeen(t, leader)})`;
    default:
      return `leader ${leader.holder} healthy (${leaderSeen(t, leader)})`;
  }
}

export type Successor =
  | { readonly member: MemberItem; readonly eligibleCount: number; readonly previousHolder: boolean }
  | { readonly member: null; readonly refused: readonly string[] };

/**
 * The best eligible member other than the current holder. The holder itself
 * is the last resort: it can only be eligible as a running replica (it
 * fenced itself and restarted as one), and a cluster whose only healthy
 * member is its old primary must not stay without a leader.
 */
export function chooseSuccessor(t: Tick, ctx: EligibilityContext): Successor {
  const holder = t.snapshot.leader?.holder;
  const others = assess(
    t.snapshot.members.filter((m) => m.name !== holder),
    ctx,
  );
  const best = others.eligible[0];
  if (best !== undefined) return { member: best, eligibleCount: others.eligible.length, previousHolder: false };
  const refused = [...others.refused];
  const previous = memberNamed(t, holder);
  if (previous !== undefined) {
    const e = eligibility(previous, ctx);
    if (e.eligible) return { member: previous, eligibleCount: 1, previousHolder: true };
    refused.push(`${previous.name}: ${e.reason}`);
  }
  return { member: null, refused: refused.sort() };
}

export function noEligible(t: Tick, refused: readonly string[]): string {
  const list = refused.length > 0 ? refused.join('; ') : 'no members';
  const strict =
    t.config.synchronousMode && t.config.synchronousModeStrict
      ? 'synchronous_mode_strict: no automatic failover without an eligible synchronous standby; '
      : '';
  return `${strict}no eligible member: ${list}`;
}

/** Leader released, lease expired, or never granted: elect the best eligible member. */
export function automaticFailover(t: Tick): ArbiterAction[] {
  const lost = leaderLost(t);
  if (lost === null) return [none(liveLeader(t))];
  if (t.config.paused) return [none(`paused: no automatic failover (${lost})`)];
  const l = currentLeader(t.snapshot);
  if (l !== null && l.unfenced === true) {
    return [
      none(
        `${l.holder} holds term ${l.term} unfenced (renewed while paused): its PostgreSQL may still take writes, so no automatic failover until it renews again (${lost}); once it is stopped, pgfloat failover --candidate M --holder-stopped`,
      ),
    ];
  }
  const choice = chooseSuccessor(t, contextOf(t));
  if (choice.member === null) return [none(`${noEligible(t, choice.refused)} (${lost})`)];
  const m = choice.member;
  const { leader, initialize } = t.snapshot;
  const kind: GrantKind = leader === null && initialize?.initializedBy === m.name ? 'bootstrap' : 'failover';
  const why = choice.previousHolder
    ? 'the previous holder is the only eligible member'
    : `best of ${choice.eligibleCount} eligible, lsn ${formatLsn(m.lsn ?? 0)}, priority ${m.tags.failoverPriority}`;
  return [grantTo(t, m, kind, `${kind}: ${lost}; granting ${m.name} (${why})`)];
}

/** An operator's `failover --to`: allowed while paused, skips the lag rule, never waits. */
export function manualFailover(t: Tick, item: FailoverItem): ArbiterAction[] {
  const r = item.request;
  const leader = t.snapshot.leader;
  const holding = currentLeader(t.snapshot);
  const to = r.to;
  if (to === undefined) return [clearFailover(item.version, 'failover request names no candidate (to): cleared')];
  if (r.from !== undefined && r.from !== leader?.holder) {
    return [clearFailover(item.version, `failover from ${r.from}, but ${leader ? `${leader.holder} leads` : 'no member leads'}: cleared`)];
  }
  if (holding !== null && holding.holder === to) {
    return [clearFailover(item.version, `failover to ${to}: ${to} already leads (term ${holding.term}, ${holding.phase}): cleared`)];
  }
  if (holding !== null && holding.unfenced === true && r.holderStopped !== true) {
    return [
      clearFailover(
        item.version,
        `failover to ${to} refused: ${holding.holder} holds term ${holding.term} unfenced (renewed while paused) and may still take writes; stop its PostgreSQL, then pgfloat failover --candidate ${to} --holder-stopped`,
      ),
    ];
  }
  const m = memberNamed(t, to);
  if (m === undefined) return [clearFailover(item.version, `failover to ${to} refused: ${to} is not a member`)];
  // A candidate ineligible for a passing reason is waited for a bounded time
  // (keepWaiting); past it, or for a lasting reason, the request is cleared,
  // so it can never fire long after the operator stopped watching.
  const e = eligibility(m, contextOf(t, { skipLag: true }));
  if (!e.eligible) {
    const waiting = keepWaiting(t, to, e.reason);
    return [waiting !== null ? none(`failover to ${to}: ${waiting}`) : clearFailover(item.version, `failover to ${to} refused: ${e.reason}`)];
  }
  const replacing = leader === null ? '' : `, replacing ${leader.holder} (term ${leader.term}, ${leader.phase})`;
  const paused = t.config.paused ? ' while paused' : '';
  const reason = `manual failover to ${to} requested by ${r.requestedBy}${paused}${replacing}`;
  return [grantTo(t, m, 'manual-failover', reason), clearFailover(item.version, `failover to ${to} granted: request done`)];
}
