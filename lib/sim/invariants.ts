// What every schedule must keep, checked as the simulation runs.
export const INVARIANTS = [
  /** No two nodes acknowledge writes in overlapping intervals. */
  'single-writer',
  /** Synchronous mode: a node that becomes writable holds every acknowledged write. */
  'no-acked-loss-sync',
  /** Asynchronous mode: a lost acknowledged write lies within maximum_lag_on_failover of what its primary last reported. */
  'bounded-loss-async',
  /** When a new term is granted, no other node is writable: the old primary fenced itself first (the timing inequality). */
  'fenced-before-grant',
  /** The leader item's term never decreases. */
  'terms-grow',
  /** The endpoint record's term never decreases. */
  'endpoint-forward',
  /** A data directory with files is emptied only with this node's bootstrap marker. */
  'no-unevidenced-wipe',
  /** Strict synchronous mode, from the first promotion on: every acknowledged write is, at its acknowledgement, in another node's WAL too. */
  'strict-two-copies',
  /** A fence deadline never lies past the send time of the node's latest applied leader write + ttl - margin. */
  'lease-from-send',
  /** A fence (the agent's timer or its keeper) stops only a node that takes writes, never a running standby. */
  'fence-spares-standbys',
  /** A planned handover under a reachable store never costs the lease: its holder is not fenced mid-handover. */
  'handover-keeps-lease',
  /** failsafe_mode: a member that promised a primary not to promote does not, until the promise ends. */
  'promise-kept',
  /** failsafe_mode: a failsafe round asks every member of the set its caller stored for the term. */
  'failsafe-asks-all',
  /** Nothing the store or the schedule does makes an agent or an arbiter invocation fail: every promise is handled. */
  'processes-survive',
  /** Once faults stop: exactly one writable node, the active holder, within the stated bound. */
  'liveness',
] as const;
export type Invariant = (typeof INVARIANTS)[number];

export interface Violation {
  readonly invariant: Invariant;
  readonly at: number;
  readonly detail: string;
}
