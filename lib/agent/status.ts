// What the agent knows of itself and its cluster at the end of its last
// loop: the health API serves it, the heartbeat is built from it.
import type { MemberTags } from '../dcs/items.js';

export type AgentRole = 'primary' | 'replica' | 'uninitialized';

export interface AgentStatus {
  readonly name: string;
  readonly scope: string;
  readonly namespace: string;
  readonly role: AgentRole;
  /** PostgreSQL's state: running, stopped, starting, stopping, initializing, cloning, rewinding, demoting, crashed. */
  readonly pgState: string;
  /** A primary whose lease is live: it may take writes. False from the moment a demotion starts. */
  readonly holdsLease: boolean;
  /** Demotion (switchover, lost lease, fencing, shutdown) in progress. */
  readonly demoting: boolean;
  readonly timeline: number | null;
  /** Primary: current write position. Replica: the furthest of received and replayed. */
  readonly lsn: number | null;
  readonly replayLsn: number | null;
  /** Replica: bytes behind the leader's last reported position; null when unknown. */
  readonly lagBytes: number | null;
  /** Replica: listed in synchronous_standby_names by the primary (the sync item). */
  readonly syncStandby: boolean;
  readonly leader: string | null;
  readonly term: number | null;
  readonly paused: boolean;
  readonly systemId: string | null;
  readonly serverVersion: number | null;
  /** Parameters whose new value waits for a restart (pg_settings.pending_restart). */
  readonly pendingRestart: readonly string[];
  /** Cluster-wide parameters set aside, not written, with why. */
  readonly parameterProblems: readonly string[];
  /** A restart an operator scheduled on this node (epoch ms), with its conditions. */
  readonly scheduledRestart?: { readonly at: number; readonly role?: 'primary' | 'replica'; readonly pendingOnly?: boolean } | null;
  readonly tags: MemberTags;
  /** Monotonic ms of the end of the last completed loop, and the loop period. */
  readonly lastLoopAt: number;
  readonly loopWaitMs: number;
  readonly ttlMs: number;
  readonly connUrl: string;
  readonly apiUrl: string;
  /** Store items of this cluster set aside as malformed at the last read ("leader (field phase)"). */
  readonly malformedItems?: readonly string[];
  /** failsafe_mode: this primary holds its role by the members' promises (the store is out of reach). */
  readonly failsafeActive?: boolean;
  /** failsafe_mode: the promise this member gave not to promote, and for how long still, ms. */
  readonly failsafePromise?: { readonly holder: string; readonly term: number; readonly leftMs: number } | null;
  /** Store calls of this agent that failed since it started. */
  readonly storeErrors?: number;
  /** Loop reads since it started: of the whole partition, and of its head alone (a replica following a healthy leader). */
  readonly storeReads?: { readonly cluster: number; readonly head: number };
}

/** The cluster as the agent last read it, for GET /cluster. */
export interface ClusterView {
  readonly scope: string;
  readonly paused: boolean;
  readonly leader: string | null;
  readonly term: number | null;
  readonly members: readonly {
    readonly name: string;
    readonly role: 'leader' | 'sync_standby' | 'replica';
    readonly state: string;
    readonly host: string;
    readonly port: number;
    readonly apiUrl: string;
    readonly timeline: number;
    readonly lagBytes: number | null;
    readonly tags: MemberTags;
  }[];
}
