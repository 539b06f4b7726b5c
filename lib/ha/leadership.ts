// Who leads, and who may take over: the one answer the arbiter, the agent's
// API and the CLI share.
// - A leader item whose phase is `released` names nobody: its holder let the
//   lease go.
// - A leader serves (replicas follow it, clone from it, rewind against it)
//   once it has confirmed its grant: active, or handing over.
// - Without the arbiter's observations (the agent's API, the CLI), a member's
//   heartbeat counts as fresh when its own `heartbeatAt` is within ttl of the
//   reader's clock: good enough for a pre-check, since the arbiter decides
//   again with its own clock before anything moves.
import type { LeaderItem, MemberItem } from '../dcs/items.js';
import type { ClusterSnapshot } from '../dcs/store.js';
import { eligibility, eligibilityContext, type Eligibility, type EligibilityContext } from './eligibility.js';
import type { MemberObservations } from './observation.js';

/** The leader item when some member holds the lease (any phase but `released`). */
export function currentLeader(snap: Pick<ClusterSnapshot, 'leader'>): LeaderItem | null {
  return snap.leader !== null && snap.leader.phase !== 'released' ? snap.leader : null;
}

/** The name of the member holding the lease, or null. */
export function leaderName(snap: Pick<ClusterSnapshot, 'leader'>): string | null {
  return currentLeader(snap)?.holder ?? null;
}

/** A leader that has confirmed its grant: safe to follow, clone from and rewind against. */
export function servingLeader(snap: Pick<ClusterSnapshot, 'leader'>): LeaderItem | null {
  const l = currentLeader(snap);
  return l !== null && (l.phase === 'active' || l.phase === 'handover' || l.phase === 'demoted') ? l : null;
}

/** Each member's version as first seen at its own heartbeat time (never in the future). */
export function heartbeatObservations(members: readonly MemberItem[], now: number): MemberObservations {
  return Object.fromEntries(members.map((m) => [m.name, { version: m.version, seenAt: Math.min(m.heartbeatAt, now) }]));
}

/** The eligibility context of a reader without arbiter observations (the agent's API, the CLI). */
export function readerEligibilityContext(snap: ClusterSnapshot, now: number, options: { skipLag?: boolean } = {}): EligibilityContext {
  return eligibilityContext(snap, heartbeatObservations(snap.members, now), now, options);
}

/** Whether `name` may take over now, by the arbiter's own rules, as a reader without observations sees it. */
export function mayTakeOver(snap: ClusterSnapshot, name: string, now: number, options: { skipLag?: boolean } = {}): Eligibility {
  const m = snap.members.find((x) => x.name === name);
  if (m === undefined) return { eligible: false, reason: `${name} is not a member` };
  return eligibility(m, readerEligibilityContext(snap, now, options));
}
