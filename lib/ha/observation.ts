// The arbiter's own view of time: for each version of the leader item and of
// every member item, the arbiter time at which it was first seen. Node
// clocks never enter a decision; only "this version has not changed for
// ttl of my time" does.
import type { ArbiterItem, ArbiterState, LeaderItem, MemberItem } from '../dcs/items.js';
import type { ClusterSnapshot } from '../dcs/store.js';

export type LeaderObservation = NonNullable<ArbiterState['leader']>;
export type MemberObservations = ArbiterState['members'];

export interface Observation {
  readonly leader: LeaderObservation | null;
  readonly members: MemberObservations;
  /** The failover item's version and when the arbiter first saw it; null when there is none. */
  readonly request: { readonly version: number; readonly seenAt: number } | null;
  /** What differs from the previous observation, for the observe reason. Empty: nothing. */
  readonly changes: readonly string[];
}

/**
 * Updates the previous observation with a snapshot: a version still in
 * place keeps its seenAt, a new or changed one is seen at `now`, members no
 * longer in the snapshot are dropped.
 */
export function observeCluster(snapshot: ClusterSnapshot, previous: ArbiterItem | null, now: number): Observation {
  const changes: string[] = [];
  const leader = observeLeader(snapshot.leader, previous?.leader ?? null, now, changes);
  const members: Record<string, { version: number; seenAt: number }> = {};
  const before = previous?.members ?? {};
  const changed: string[] = [];
  const added: string[] = [];
  for (const m of snapshot.members) {
    const old = Object.hasOwn(before, m.name) ? before[m.name] : undefined;
    if (old && old.version === m.version) {
      members[m.name] = { version: old.version, seenAt: old.seenAt };
    } else {
      members[m.name] = { version: m.version, seenAt: now };
      (old ? changed : added).push(m.name);
    }
  }
  const present = new Set(snapshot.members.map((m) => m.name));
  const gone = Object.keys(before)
    .filter((name) => !present.has(name))
    .sort();
  if (added.length > 0) changes.push(`member ${added.join(', ')} first seen`);
  if (changed.length > 0) changes.push(`heartbeat of ${changed.join(', ')} changed`);
  if (gone.length > 0) changes.push(`member ${gone.join(', ')} gone`);
  const item = snapshot.failover;
  const seen = previous?.request ?? null;
  let request: Observation['request'] = null;
  if (item !== null) {
    request = seen !== null && seen.version === item.version ? { version: seen.version, seenAt: seen.seenAt } : { version: item.version, seenAt: now };
    if (request.seenAt === now) changes.push(`${item.request.kind} request first seen`);
  } else if (seen !== null) {
    changes.push('request gone');
  }
  return { leader, members, request, changes };
}

function observeLeader(
  leader: LeaderItem | null,
  old: LeaderObservation | null,
  now: number,
  changes: string[],
): LeaderObservation | null {
  if (leader === null) {
    if (old !== null) changes.push('leader item gone');
    return null;
  }
  if (old !== null && old.term === leader.term && old.version === leader.version) {
    return { term: old.term, version: old.version, seenAt: old.seenAt };
  }
  changes.push(
    old === null
      ? `leader ${leader.holder} term ${leader.term} version ${leader.version} first seen`
      : `leader term ${old.term} version ${old.version} -> term ${leader.term} version ${leader.version}`,
  );
  return { term: leader.term, version: leader.version, seenAt: now };
}

/**
 * The leader's lease is expired only when the observation holds the very
 * term and version of the leader item and that version has been in place for
 * ttl of arbiter time. A `released` lease is handled by the caller.
 */
export function leaderLeaseExpired(
  leader: LeaderItem | null,
  observed: LeaderObservation | null,
  now: number,
  ttlMs: number,
): boolean {
  if (leader === null || observed === null) return false;
  if (observed.term !== leader.term || observed.version !== leader.version) return false;
  return now - observed.seenAt >= ttlMs;
}

/** Arbiter time since the member's current version was first seen; 0 when it is new. */
export function heartbeatAge(member: MemberItem, observed: MemberObservations, now: number): number {
  const o = Object.hasOwn(observed, member.name) ? observed[member.name] : undefined;
  if (o === undefined || o.version !== member.version) return 0;
  return Math.max(0, now - o.seenAt);
}

/** A member seen for the first time, or whose version changed, counts as fresh. */
export function heartbeatFresh(member: MemberItem, observed: MemberObservations, now: number, ttlMs: number): boolean {
  return heartbeatAge(member, observed, now) < ttlMs;
}
