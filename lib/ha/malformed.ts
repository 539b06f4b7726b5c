// What the arbiter may still do on a cluster with malformed items. A
// malformed singleton is unknown, never absent: every step of a decision that
// reads it is held until the item is repaired. Observing goes on (it writes
// only the arbiter item), so leases are not judged from stale observations
// once the item is repaired.
import type { ClusterSnapshot, MalformedEntry, SingletonKind } from '../dcs/store.js';
import type { ArbiterActionType } from './actions.js';

/** The steps of a decision, as the actions they write. */
export type DecisionStep = 'observe' | 'leadership' | 'endpoint';

export const STEP_OF: Readonly<Record<ArbiterActionType, DecisionStep | null>> = {
  observe: 'observe',
  grant: 'leadership',
  beginHandover: 'leadership',
  clearFailover: 'leadership',
  moveEndpoint: 'endpoint',
  recordHistoryStep: 'endpoint',
  none: null,
};

/**
 * The steps each malformed singleton holds:
 * - initialize: bootstrap or failover, the system identifier every candidate must match;
 * - leader: who holds the lease and its version, the term the endpoint follows;
 * - config: ttl, pause, synchronous mode, lag limit and the endpoint's kind;
 * - endpoint: where the endpoint points and for which term;
 * - arbiter: the observations every lease judgement rests on, and this item's version (so no observe either);
 * - sync: the synchronous standbys a failover must choose from;
 * - failover: nothing; the request is ignored (as if the operator had not asked) until repaired,
 *   and it cannot be cleared by version.
 * A malformed member item holds nothing: that member is simply not a candidate.
 */
export const HOLDS: Readonly<Record<SingletonKind, readonly DecisionStep[]>> = {
  initialize: ['leadership', 'endpoint'],
  leader: ['leadership', 'endpoint'],
  config: ['leadership', 'endpoint'],
  endpoint: ['leadership', 'endpoint'],
  arbiter: ['observe', 'leadership', 'endpoint'],
  sync: ['leadership'],
  failover: [],
};

/** The malformed entries that hold `step`, in key order; empty when it may go ahead. */
export function heldBy(snapshot: ClusterSnapshot, step: DecisionStep): readonly MalformedEntry[] {
  return snapshot.malformed.filter((e) => e.kind !== 'member' && e.kind !== 'history' && HOLDS[e.kind].includes(step));
}

/** The malformed entries that hold an action of this type. */
export function actionHeldBy(snapshot: ClusterSnapshot, type: ArbiterActionType): readonly MalformedEntry[] {
  const step = STEP_OF[type];
  return step === null ? [] : heldBy(snapshot, step);
}

/** "malformed leader (field phase), initialize (field systemId)" */
export function describeHeld(entries: readonly MalformedEntry[]): string {
  return `malformed ${entries.map((e) => `${e.key} (field ${e.field})`).join(', ')}`;
}
