// What the agent's step machine (agent-step.ts) hears and asks for.
//
// Protocol: each step returns effects to run in order. All but the last are
// instant (a log line, the in-process fence timer); the last is either a
// call, whose outcome is the next `result` event, or the end of the loop
// (`sleep`, `exit`). A `detached` effect is run beside the loop; only a
// detached heartbeat reports back, by its own event.
import type { ClusterConfig, MemberStatus, SyncState } from '../dcs/items.js';
import type { ClusterSnapshot, Grant, HolderWrite } from '../dcs/store.js';
import type { LocalState, Reason } from './agent.js';
import type { ReplicationReading, SyncSpec } from './agent-sync.js';

/** What the agent reads of a running server. */
export interface PgReading {
  readonly inRecovery: boolean;
  readonly timeline: number;
  readonly currentLsn: number | null;
  readonly receivedLsn: number | null;
  readonly replayedLsn: number | null;
  readonly systemId: string;
  /** ms; a new value is a new postmaster. */
  readonly postmasterStartedAt: number;
  readonly receiverStreaming: boolean;
}

export type AgentEvent =
  /** A loop begins: the cluster as read (null: the store could not be read) and the local server. */
  | {
      readonly type: 'tick';
      readonly now: number;
      /** When this loop's store read was sent (monotonic ms); `now` when absent. The next loop starts loop_wait after it. */
      readonly startedAt?: number;
      readonly snapshot: ClusterSnapshot | null;
      /** `head`: the snapshot is the last full read with a head read merged in (head-read.ts); absent: a full read. */
      readonly read?: 'cluster' | 'head';
      readonly local: LocalState;
      readonly status: PgReading | null;
      readonly shuttingDown: boolean;
    }
  /** The outcome of the last call effect. */
  | { readonly type: 'result'; readonly now: number; readonly outcome: Outcome }
  /** The in-process fence timer fired; `standbySignal`: the data directory has one (nothing to fence). */
  | { readonly type: 'fenceDue'; readonly now: number; readonly standbySignal: boolean }
  /**
   * failsafe_mode: `holder`, primary of `term` and cut off from the store, asks
   * this member (over the agent API, authenticated) to promise not to promote
   * for `durationMs`. Answered at once by a `failsafeAnswer` effect; it may
   * arrive between any two steps of a loop.
   */
  | { readonly type: 'failsafeAsk'; readonly now: number; readonly holder: string; readonly term: number; readonly durationMs: number }
  /**
   * An operator asked this agent, over its authenticated API, to restart its
   * PostgreSQL or to re-create it from the leader (reinit). It runs in the
   * next loop that finds the node steady, after the loop's own actions (a
   * holder's renew first), or is refused; `operatorDone` answers it.
   */
  | { readonly type: 'operator'; readonly now: number; readonly id: number; readonly op: OperatorOp }
  /** The shell stopped waiting for an operator request: it is dropped if it has not begun. */
  | { readonly type: 'operatorCancel'; readonly now: number; readonly id: number }
  /** The outcome of a detached heartbeat; it may arrive between any two steps of a loop. */
  | { readonly type: 'heartbeatDone'; readonly now: number; readonly outcome: Outcome };

export type Outcome =
  | { readonly kind: 'ok' }
  | { readonly kind: 'status'; readonly status: PgReading | null }
  /** A store write whose condition held; `item` is what is stored now. */
  | { readonly kind: 'written'; readonly item: { readonly version: number; readonly term?: number } }
  /** A store write whose condition failed: a lost race, `current` the winner. */
  | { readonly kind: 'lost'; readonly current: { readonly [k: string]: unknown } | null }
  /** The call failed: store unavailable, a PostgreSQL command or the keeper failed. */
  | { readonly kind: 'error'; readonly message: string }
  | { readonly kind: 'control'; readonly clusterState: string; readonly checkpointLsn: number; readonly systemId: string }
  | { readonly kind: 'replication'; readonly rows: readonly ReplicationReading[] }
  | { readonly kind: 'running'; readonly running: boolean }
  | { readonly kind: 'promoted'; readonly durationMs: number }
  | { readonly kind: 'rewound'; readonly rewound: boolean; readonly durationMs: number }
  /** Each asked member's answer to a failsafe call: `ok` only for a promise given. */
  | { readonly kind: 'failsafe'; readonly answers: Readonly<Record<string, 'ok' | 'refused' | 'unreachable'>> }
  /** A hook script's end: `ok` only for exit status 0 within its timeout; `message` says why not. */
  | { readonly kind: 'hook'; readonly ok: boolean; readonly message: string };

export type StoreOp =
  | { readonly op: 'grantFirst'; readonly grant: Omit<Grant, 'grantedAt'> }
  | { readonly op: 'renew'; readonly w: HolderWrite & { readonly lastLsn: number; readonly timeline: number; readonly failsafe?: readonly string[]; readonly unfenced?: boolean } }
  | { readonly op: 'confirm'; readonly w: HolderWrite & { readonly lastLsn: number; readonly timeline: number } }
  | { readonly op: 'completeHandover'; readonly w: HolderWrite & { readonly finalLsn: number } }
  | { readonly op: 'release'; readonly w: HolderWrite & { readonly lastLsn: number } }
  | { readonly op: 'putSync'; readonly state: SyncState; readonly expectedVersion: number | null }
  | { readonly op: 'initialize'; readonly init: { readonly initializedBy: string; readonly systemId?: string }; readonly expectedVersion: number | null }
  | { readonly op: 'putConfig'; readonly config: ClusterConfig };

/** A member to copy from or stream from, by its address in the store. */
export interface UpstreamRef {
  readonly name: string;
  readonly connUrl: string;
}

export type OperatorOp = 'restart' | 'reinit';

export type PgOp =
  | { readonly op: 'start' }
  /** Fast stop, then start as the data directory says (standby.signal kept). */
  | { readonly op: 'restart' }
  /**
   * Re-creates the data directory from `from`: checks that `from` answers and
   * is of this node's system first, then stops, empties, clones and starts a
   * standby. Only on an operator's request to this node.
   */
  | { readonly op: 'reinit'; readonly from: UpstreamRef; readonly expectedSystemId: string | undefined }
  /** Writes standby.signal, then starts: read-only whatever the data directory last was. */
  | { readonly op: 'startStandby' }
  | { readonly op: 'promote' }
  | { readonly op: 'stop'; readonly mode: 'fast' | 'immediate' }
  | { readonly op: 'checkpoint' }
  | { readonly op: 'controldata' }
  | { readonly op: 'clone'; readonly from: UpstreamRef; readonly expectedSystemId: string | undefined }
  | { readonly op: 'rewind'; readonly from: UpstreamRef }
  | { readonly op: 'follow'; readonly from: UpstreamRef; readonly expectedSystemId: string | undefined }
  | { readonly op: 'setSync'; readonly spec: SyncSpec | null }
  | { readonly op: 'replication' }
  | { readonly op: 'createSlots'; readonly members: readonly string[] }
  | { readonly op: 'isRunning' }
  /** Writes this node's bootstrap marker, then empties the data directory when `wipe`. */
  | { readonly op: 'prepareBootstrap'; readonly wipe: boolean }
  | { readonly op: 'initdb' }
  | { readonly op: 'clearBootstrapMarker' }
  | { readonly op: 'ensureReplicationRole' };

/** The member item fields the step decides; the shell adds identity and wall time. */
export type HeartbeatFields = Pick<MemberStatus, 'role' | 'state' | 'timeline' | 'lsn' | 'replayLsn' | 'systemId' | 'failsafe' | 'rewindFailed' | 'promotionVetoed'>;

/** A member asked in a failsafe call, at its agent API. */
export interface FailsafeTarget {
  readonly name: string;
  readonly apiUrl: string;
}

export type Effect =
  | { readonly type: 'log'; readonly level: 'info' | 'warn' | 'error'; readonly reason: Reason; readonly situation?: string }
  /** Sets (or clears, null) the in-process fence timer, monotonic ms. */
  | { readonly type: 'fenceTimer'; readonly at: number | null }
  | { readonly type: 'readStatus' }
  | { readonly type: 'store'; readonly op: StoreOp }
  /**
   * Writes this member's item. Detached, it runs beside the sleep and the next
   * loop's read (at most one in flight: the shell drops one asked for while
   * another runs) and its outcome comes back as a `heartbeatDone` event.
   */
  | { readonly type: 'heartbeat'; readonly fields: HeartbeatFields; readonly expectedVersion: number | null; readonly detached?: boolean }
  | { readonly type: 'pg'; readonly op: PgOp; readonly detached?: boolean }
  /** Arm: past `deadline` (monotonic ms) the keeper stops a writable PostgreSQL. */
  | { readonly type: 'keeper'; readonly op: 'arm'; readonly deadline: number }
  | { readonly type: 'keeper'; readonly op: 'disarm' }
  /** failsafe_mode: ask every target, at once, to promise not to promote for `durationMs`. */
  | { readonly type: 'failsafe'; readonly holder: string; readonly term: number; readonly durationMs: number; readonly targets: readonly FailsafeTarget[] }
  /**
   * Runs the operator's pre_promote script and waits for its end (bounded by
   * callback_timeout): its outcome is a `hook` outcome; anything but ok vetoes
   * the promotion.
   */
  | { readonly type: 'hook'; readonly name: 'pre_promote' }
  /** An operator's request has begun: it runs to its end now, whatever comes. */
  | { readonly type: 'operatorBegun'; readonly id: number }
  /** The answer to an `operator` event. */
  | { readonly type: 'operatorDone'; readonly id: number; readonly ok: boolean; readonly reason: Reason }
  /** The answer to a `failsafeAsk` event. */
  | { readonly type: 'failsafeAnswer'; readonly ok: boolean; readonly reason: Reason }
  /**
   * Asks the arbiter for ticks out of schedule (detached, answer not awaited):
   * the leader item has stood still past ttl + loop_wait, so either its holder
   * is gone and nobody has judged it yet, or no arbiter invocation is running.
   */
  | { readonly type: 'wakeArbiter'; readonly reason: Reason }
  | { readonly type: 'sleep'; readonly ms: number }
  /** The agent ends: a refusal (it must not run here) or the end of a clean shutdown. */
  | { readonly type: 'exit'; readonly refused: Reason | null };

export type CallEffect = Extract<Effect, { type: 'readStatus' | 'store' | 'heartbeat' | 'pg' | 'keeper' | 'failsafe' | 'hook' }>;

export function isCall(e: Effect): e is CallEffect {
  const call = e.type === 'readStatus' || e.type === 'store' || e.type === 'heartbeat' || e.type === 'pg' || e.type === 'keeper' || e.type === 'failsafe' || e.type === 'hook';
  return call && !((e.type === 'pg' || e.type === 'heartbeat') && e.detached === true);
}
