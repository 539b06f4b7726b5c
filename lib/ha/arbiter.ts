// The arbiter's decision for one cluster at one tick: a pure function of the
// snapshot, the arbiter's clock and its identity. The shell applies the
// actions in order, one conditional write each, and stops at the first lost
// race; `observe` comes first so that no decision rests on observations the
// store refused.
import type { ClusterSnapshot } from '../dcs/store.js';
import { none, type ArbiterAction, type ClusterMetrics, type ObserveAction } from './actions.js';
import { reconcileEndpoint } from './endpoint.js';
import { InvalidArbiterInputError } from './errors.js';
import { automaticFailover, manualFailover } from './failover.js';
import { formatIso, formatSeconds } from './format.js';
import { describeHeld, heldBy } from './malformed.js';
import { clusterMetrics } from './metrics.js';
import { continueHandover, switchover } from './switchover.js';
import { makeTick, type EndpointCheck, type Tick } from './tick.js';

export type * from './actions.js';
export { canTransition, LEADER_PHASE_TRANSITIONS } from './leader-phase.js';
export { eligibility, eligibilityContext, rankCandidates, type Eligibility, type EligibilityContext } from './eligibility.js';
export { actionHeldBy, describeHeld, heldBy, HOLDS, type DecisionStep } from './malformed.js';

export interface ArbiterInput {
  readonly snapshot: ClusterSnapshot;
  /** The arbiter's own clock, epoch ms. */
  readonly now: number;
  /** This arbiter invocation. */
  readonly arbiterId: string;
  /** Arbitration lease length, ms. */
  readonly leaseMs: number;
  /** The shell's latest look at the endpoint itself; absent when it has not looked. */
  readonly endpointCheck?: EndpointCheck | null;
}

export interface Decision {
  readonly actions: readonly ArbiterAction[];
  readonly metrics: ClusterMetrics;
  /** Every action's reason, in order, then notes that led to no action. */
  readonly reasons: readonly string[];
}

export function decide(input: ArbiterInput): Decision {
  validate(input);
  const { snapshot, now, arbiterId } = input;
  const t = makeTick(snapshot, now, input.endpointCheck ?? null);
  const held = snapshot.arbiter;
  if (held !== null && held.owner !== arbiterId && held.leaseExpiresAt > now) {
    const reason = `arbiter ${held.owner} holds the lease until ${formatIso(held.leaseExpiresAt)} (${formatSeconds(held.leaseExpiresAt - now)} left)`;
    return { actions: [none(reason)], metrics: clusterMetrics(t, 0), reasons: [reason] };
  }

  // A malformed item is unknown, not absent: each step that reads one is held (lib/ha/malformed.ts).
  const observe = heldBy(snapshot, 'observe').length > 0 ? null : planObserve(input, t);
  const leadershipHeld = heldBy(snapshot, 'leadership');
  const leadership =
    leadershipHeld.length > 0
      ? [none(`${describeHeld(leadershipHeld)}: no grant, handover or request clearing until repaired`, 'held-malformed')]
      : planLeadership(t);
  const movesLeader = leadership.some((a) => a.type === 'grant' || a.type === 'beginHandover');
  const endpointHeld = heldBy(snapshot, 'endpoint');
  const endpoint = movesLeader
    ? { actions: [], notes: [] }
    : endpointHeld.length > 0
      ? { actions: [], notes: [`${describeHeld(endpointHeld)}: endpoint left as it is until repaired`] }
      : reconcileEndpoint(t);

  const work = [...leadership, ...endpoint.actions].filter((a) => a.type !== 'none');
  const idle = leadership.filter((a) => a.type === 'none');
  const body = work.length > 0 ? work : idle.length > 0 ? idle.slice(0, 1) : [none('nothing to do')];
  const actions = observe === null ? body : [observe, ...body];
  const reasons = [
    ...(observe === null ? [] : [observe.reason]),
    ...leadership.map((a) => a.reason),
    ...endpoint.actions.map((a) => a.reason),
    ...endpoint.notes,
  ];
  const grants = actions.filter((a) => a.type === 'grant').length;
  return { actions, metrics: clusterMetrics(t, grants), reasons };
}

function planLeadership(t: Tick): ArbiterAction[] {
  const { leader, initialize, failover } = t.snapshot;
  if (leader === null && initialize === null) return [none('cluster not bootstrapped yet: agents race for initialize')];
  if (failover !== null) {
    return failover.request.kind === 'failover' ? manualFailover(t, failover) : switchover(t, failover);
  }
  if (leader !== null && (leader.phase === 'handover' || leader.phase === 'demoted')) {
    return continueHandover(t, null, leader);
  }
  return automaticFailover(t);
}

/**
 * Writes the arbiter item when an observation changed, when this arbiter
 * takes the lease, or when less than half of its lease is left. Otherwise
 * the item stays as it is, saving a write per tick.
 */
function planObserve(input: ArbiterInput, t: Tick): ObserveAction | null {
  const { snapshot, now, arbiterId, leaseMs } = input;
  const previous = snapshot.arbiter;
  const parts: string[] = [];
  if (previous === null) {
    parts.push(`lease taken by ${arbiterId} (no arbiter item yet)`);
  } else if (previous.owner !== arbiterId) {
    parts.push(`lease taken over from ${previous.owner} (expired at ${formatIso(previous.leaseExpiresAt)})`);
  } else if (previous.leaseExpiresAt - now < leaseMs / 2) {
    parts.push(`lease renewed (${formatSeconds(Math.max(0, previous.leaseExpiresAt - now))} of ${formatSeconds(leaseMs)} left)`);
  }
  parts.push(...t.observation.changes);
  if (parts.length === 0) return null;
  return {
    type: 'observe',
    state: {
      owner: arbiterId,
      leaseExpiresAt: now + leaseMs,
      leader: t.observation.leader,
      members: t.observation.members,
      request: t.observation.request,
    },
    expectedVersion: previous?.version ?? null,
    reason: `observe: ${parts.join('; ')}`,
  };
}

function validate(input: ArbiterInput): void {
  if (!Number.isSafeInteger(input.now) || input.now < 0) {
    throw new InvalidArbiterInputError('now', `${input.now} is not an epoch time in whole milliseconds: pass Date.now()`);
  }
  if (!Number.isSafeInteger(input.leaseMs) || input.leaseMs <= 0) {
    throw new InvalidArbiterInputError('leaseMs', `${input.leaseMs} is not a positive whole number of milliseconds`);
  }
  if (typeof input.arbiterId !== 'string' || input.arbiterId.length === 0) {
    throw new InvalidArbiterInputError('arbiterId', 'empty: pass the invocation id, e.g. the Lambda request id');
  }
}
