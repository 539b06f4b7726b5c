// One cluster, one tick: read the partition, decide with lib/ha, apply the
// actions in order, one conditional step each. A lost race stops the tick;
// the next tick plans again from a fresh read.
import type { ClusterId } from '../dcs/keys.js';
import { clusterLabel } from '../dcs/keys.js';
import { DEFAULT_CONFIG } from '../dcs/items.js';
import type { CallOptions, ClusterSnapshot, MalformedEntry, Store } from '../dcs/store.js';
import { targetFromMember } from '../endpoint/mover.js';
import { actionHeldBy, decide, describeHeld, heldBy } from '../ha/arbiter.js';
import type { ArbiterAction, ClusterMetrics } from '../ha/actions.js';
import type { EndpointCheck } from '../ha/tick.js';
import { ClusterTickError, LeaseEndingError } from './errors.js';
import type { MoverCache } from './movers.js';

export interface Log {
  debug(message: string, ...attributes: Record<string, unknown>[]): void;
  info(message: string, ...attributes: Record<string, unknown>[]): void;
  warn(message: string, ...attributes: Record<string, unknown>[]): void;
  error(message: string, ...attributes: Record<string, unknown>[]): void;
}

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export interface TickDeps {
  readonly store: Store;
  readonly movers: MoverCache;
  readonly clock: Clock;
  readonly log: Log;
  readonly arbiterId: string;
  readonly leaseMs: number;
  /** Deadline of each store call and endpoint move. */
  readonly stepTimeoutMs: number;
  /** How often the endpoint itself is looked at, beside its record (default 30 s; a process's first tick always looks). */
  readonly endpointCheckEveryMs?: number;
}

const ENDPOINT_CHECK_EVERY_MS = 30_000;

/**
 * Looks at the endpoint itself when the record says it points at the active
 * leader and no look was made within endpointCheckEveryMs: the record
 * survives restarts of the arbiter, the endpoint (a local proxy, an address
 * moved by hand) may not. A look that fails says nothing.
 */
async function checkEndpoint(deps: TickDeps, c: ClusterId, s: ClusterSnapshot): Promise<EndpointCheck | null> {
  // A malformed config must not swap the cluster's mover for the default one (closing a proxy it owns).
  if (heldBy(s, 'endpoint').length > 0) return null;
  const l = s.leader;
  const r = s.endpoint;
  if (l === null || l.phase !== 'active' || r === null || r.term !== l.term || r.member !== l.holder) return null;
  const member = s.members.find((m) => m.name === r.member);
  if (member === undefined) return null;
  const mover = deps.movers.get(c, s.config?.config.endpoint ?? DEFAULT_CONFIG.endpoint);
  const now = deps.clock.now();
  const last = deps.movers.checkedAt(c);
  if (last !== undefined && now - last < (deps.endpointCheckEveryMs ?? ENDPOINT_CHECK_EVERY_MS)) return null;
  try {
    const pointsThere = await mover.pointsAt(targetFromMember(member, r.term), { timeoutMs: deps.stepTimeoutMs });
    deps.movers.markChecked(c, now);
    return { member: r.member, term: r.term, pointsThere };
  } catch (err) {
    deps.log.warn(`${clusterLabel(c)}: could not look at the endpoint: ${(err as Error).message}`);
    return null;
  }
}

export interface TickOutcome {
  readonly cluster: string;
  readonly applied: readonly ArbiterAction['type'][];
  /** The action whose condition failed, if the tick stopped early. */
  readonly stoppedAt: ArbiterAction['type'] | null;
  readonly grants: number;
  readonly endpointMoves: number;
  readonly metrics: ClusterMetrics;
  readonly reasons: readonly string[];
  /** Leadership is moving (a grant not yet confirmed, a handover, a request, an endpoint behind): tick again soon. */
  readonly transition: boolean;
  /** Items of the partition set aside as malformed (lib/ha/malformed.ts says what each holds). */
  readonly malformed: readonly MalformedEntry[];
}

function inTransition(s: ClusterSnapshot): boolean {
  // A held cluster waits for a repair, not for a step of its own: no fast ticks.
  if (heldBy(s, 'leadership').length > 0) return false;
  const l = s.leader;
  if (l === null) return s.initialize !== null;
  return l.phase !== 'active' || s.failover !== null || s.endpoint === null || s.endpoint.term < l.term;
}

/**
 * One tick of one cluster. No write is sent at or after `actUntil` (arbiter
 * clock, the end of the loop lease the tick acts under), and each store call
 * and endpoint move is given at most the time left before it.
 */
export async function tickCluster(deps: TickDeps, c: ClusterId, actUntil = Number.POSITIVE_INFINITY): Promise<TickOutcome> {
  const label = clusterLabel(c);
  let snapshot: ClusterSnapshot;
  try {
    snapshot = await deps.store.readCluster(c, { timeoutMs: deps.stepTimeoutMs });
  } catch (err) {
    throw new ClusterTickError(label, 'read', err);
  }
  const endpointCheck = await checkEndpoint(deps, c, snapshot);
  const decision = decide({ snapshot, now: deps.clock.now(), arbiterId: deps.arbiterId, leaseMs: deps.leaseMs, endpointCheck });
  const applied: ArbiterAction['type'][] = [];
  let grants = 0;
  let endpointMoves = 0;
  const outcome = (stoppedAt: ArbiterAction['type'] | null, transition: boolean): TickOutcome => ({
    cluster: label,
    applied,
    stoppedAt,
    grants,
    endpointMoves,
    metrics: { ...decision.metrics, failovers: grants },
    reasons: decision.reasons,
    transition,
    malformed: snapshot.malformed,
  });
  const budget = (step: string) => (): CallOptions => {
    const left = actUntil - deps.clock.now();
    if (left <= 0) throw new LeaseEndingError(`${label}: ${step}`);
    return { timeoutMs: Math.min(deps.stepTimeoutMs, left) };
  };
  for (const action of decision.actions) {
    // The rules never plan a held step (lib/ha/malformed.ts); the shell checks again before it writes.
    const held = actionHeldBy(snapshot, action.type);
    if (held.length > 0) {
      deps.log.error(`${label}: ${action.type} refused: ${describeHeld(held)}`, { cluster: label, action: action.type });
      return outcome(action.type, false);
    }
    let ok: boolean;
    try {
      ok = await apply(deps, c, snapshot, action, budget(action.type));
    } catch (err) {
      if (err instanceof LeaseEndingError) {
        deps.log.warn(err.message, { cluster: label, action: action.type });
        return outcome(action.type, true);
      }
      throw new ClusterTickError(label, action.type, err);
    }
    if (action.type !== 'none' && action.type !== 'observe') {
      deps.log.info(`${label}: ${action.type}${ok ? '' : ' lost a race'}: ${action.reason}`, { cluster: label, action: action.type, ok });
    }
    if (!ok) return outcome(action.type, true);
    applied.push(action.type);
    if (action.type === 'grant') grants += 1;
    if (action.type === 'moveEndpoint') endpointMoves += 1;
  }
  deps.log.debug(`${label}: ${decision.reasons.join('; ')}`, { cluster: label });
  return outcome(null, grants > 0 || decision.actions.some((a) => a.type === 'beginHandover') || inTransition(snapshot));
}

/** Applies one action; false when its condition failed (a lost race). `o` gives each call its deadline. */
async function apply(deps: TickDeps, c: ClusterId, snapshot: ClusterSnapshot, action: ArbiterAction, o: () => CallOptions): Promise<boolean> {
  const { store } = deps;
  switch (action.type) {
    case 'none':
      return true;
    case 'observe':
      return (await store.putArbiter(c, action.state, action.expectedVersion, o())).ok;
    case 'grant':
      return (await store.grantLeader(c, action.grant, o())).ok;
    case 'beginHandover':
      return (await store.beginHandover(c, { expected: action.expected, candidate: action.candidate }, o())).ok;
    case 'clearFailover':
      return (await store.clearFailover(c, action.expectedVersion, o())).ok;
    case 'recordHistoryStep':
      // Idempotent: a step already recorded is not a conflict.
      await store.recordHistoryStep(c, action.term, action.step, action.at, o());
      return true;
    case 'moveEndpoint': {
      const member = snapshot.members.find((m) => m.name === action.member);
      if (member === undefined) return false;
      const mover = deps.movers.get(c, snapshot.config?.config.endpoint ?? DEFAULT_CONFIG.endpoint);
      const moved = await mover.move(targetFromMember(member, action.term), o());
      const at = deps.clock.now();
      const recorded = await store.recordEndpoint(c, { member: action.member, term: action.term, target: moved.target, movedAt: at }, o());
      if (!recorded.ok) return false;
      await store.recordHistoryStep(c, action.term, 'endpointMovedAt', at, o());
      return true;
    }
  }
}
