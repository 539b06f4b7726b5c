// The node agent's decision: a pure function of the cluster snapshot (or
// none, when the store could not be read), the local PostgreSQL's state and
// the agent's monotonic lease clock. The rules are a table, read top to
// bottom: the first situation that holds decides, and names itself.
//
// Invariants:
// - A node takes writes only while it holds the lease: a primary that is not
//   the holder is demoted at once; a holder that cannot renew fences itself
//   before ttl - safetyMargin has passed since the SEND time of its last
//   successful renew, on the monotonic clock.
// - A node never joins a cluster whose system identifier differs from its data.
import type { ClusterConfig, LeaderItem, MemberItem, MemberTags } from '../dcs/items.js';
import type { ClusterSnapshot } from '../dcs/store.js';

export interface LocalState {
  /** No usable data directory yet (absent or empty). */
  readonly empty: boolean;
  readonly systemId: string | null;
  readonly running: boolean;
  /** Null when PostgreSQL is not running. */
  readonly inRecovery: boolean | null;
  /** The member whose server this node streams from (by primary_conninfo), if any. */
  readonly following: string | null;
  /** The data directory was last a primary (its control file says so): it may have diverged. */
  readonly wasPrimary: boolean;
  /** Stopped, and shut down cleanly (a rewind needs no crash recovery first). */
  readonly cleanShutdown?: boolean;
  /** Replica: how long its WAL receiver has not been streaming while its timeline is behind the leader's, ms. */
  readonly receiverStuckMs?: number;
}

export interface LeaseClock {
  /** Monotonic ms, now. */
  readonly now: number;
  /** Monotonic ms at which the last successful renew (or confirm) was SENT; null if none this term. */
  readonly lastRenewSentAt: number | null;
  /** The term that renew was for. */
  readonly term: number | null;
}

export interface AgentInput {
  readonly name: string;
  readonly tags: MemberTags;
  /** Null when the store could not be read this loop. */
  readonly snapshot: ClusterSnapshot | null;
  /** The last config read, or the bootstrap config. */
  readonly config: ClusterConfig;
  readonly local: LocalState;
  readonly lease: LeaseClock;
  readonly shuttingDown: boolean;
  /** Time held back from the lease for the fencing itself, ms. */
  readonly safetyMarginMs: number;
}

export type AgentAction =
  | { readonly type: 'bootstrap'; readonly reason: string }
  | { readonly type: 'clone'; readonly from: string; readonly reason: string }
  | { readonly type: 'startPrimary'; readonly reason: string }
  | { readonly type: 'startStandby'; readonly reason: string }
  | { readonly type: 'takeFirstLease'; readonly reason: string }
  /**
   * Take the lease by CAS on holder and term first (a renew, which keeps the
   * phase), arm the fence keeper with it, and only then promote; `confirm`:
   * then confirm the grant (granted -> active), which is what replicas follow.
   * A grant that cannot be taken so is void, and PostgreSQL never takes
   * writes outside a lease the keeper holds.
   */
  | { readonly type: 'promote'; readonly term: number; readonly via: 'confirm' | 'renew'; readonly reason: string }
  | { readonly type: 'confirm'; readonly term: number; readonly reason: string }
  | { readonly type: 'renew'; readonly term: number; readonly reason: string }
  | { readonly type: 'handover'; readonly term: number; readonly reason: string }
  | { readonly type: 'demote'; readonly mode: 'fast' | 'immediate'; readonly reason: string }
  | { readonly type: 'follow'; readonly leader: string; readonly rewind: boolean; readonly reason: string }
  | { readonly type: 'release'; readonly term: number; readonly reason: string }
  | { readonly type: 'stop'; readonly reason: string }
  | { readonly type: 'refuse'; readonly reason: string }
  | { readonly type: 'wait'; readonly reason: string };

export interface AgentDecision {
  readonly situation: string;
  readonly actions: readonly AgentAction[];
}

interface Situation extends AgentInput {
  readonly leader: LeaderItem | null;
  readonly mine: boolean;
  readonly leaderMember: MemberItem | null;
  readonly primaryHere: boolean;
}

interface Rule {
  readonly situation: string;
  readonly when: (s: Situation) => boolean;
  readonly then: (s: Situation) => AgentAction[];
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const leaseLeftMs = (s: Situation): number =>
  s.lease.lastRenewSentAt === null ? -Infinity : s.lease.lastRenewSentAt + s.config.ttl * 1000 - s.safetyMarginMs - s.lease.now;
const holdsLeaseLocally = (s: Situation): boolean => s.lease.term !== null && s.lease.lastRenewSentAt !== null;
/** How long a replica may stay unable to stream while behind before it is rewound: a fresh start needs a moment. */
const stuckLimitMs = (s: Situation): number => Math.max(2 * s.config.loopWait, s.config.ttl) * 1000;
const leaderUsable = (l: LeaderItem | null): l is LeaderItem => l !== null && l.phase !== 'released';
/** A leader that has confirmed its promotion: safe to clone from, rewind against and stream from. */
const leaderServing = (l: LeaderItem | null): l is LeaderItem => l !== null && (l.phase === 'active' || l.phase === 'handover' || l.phase === 'demoted');

/** The rule table. Order matters: the first situation that holds decides. */
export const AGENT_RULES: readonly Rule[] = [
  {
    situation: 'shutting down while holding the lease',
    when: (s) => s.shuttingDown && s.mine && s.leader !== null,
    then: (s) => [
      ...(s.primaryHere ? [{ type: 'demote', mode: 'fast', reason: 'clean shutdown: stop taking writes first' } as const] : []),
      { type: 'release', term: (s.leader as LeaderItem).term, reason: 'clean shutdown: release the lease so the arbiter elects at once' },
    ],
  },
  {
    situation: 'shutting down',
    when: (s) => s.shuttingDown,
    then: () => [{ type: 'stop', reason: 'clean shutdown' }],
  },
  {
    situation: 'store unreachable while holding the lease, lease run out',
    when: (s) => s.snapshot === null && s.primaryHere && holdsLeaseLocally(s) && leaseLeftMs(s) <= 0,
    then: (s) => [
      {
        type: 'demote',
        mode: 'immediate',
        reason: `fencing: no successful renew for ${seconds(s.lease.now - (s.lease.lastRenewSentAt ?? 0))} (ttl ${s.config.ttl} s less ${seconds(s.safetyMarginMs)} margin)`,
      },
    ],
  },
  {
    situation: 'store unreachable',
    when: (s) => s.snapshot === null,
    then: (s) => [
      {
        type: 'wait',
        reason: s.primaryHere && holdsLeaseLocally(s) ? `store unreachable; lease good for ${seconds(leaseLeftMs(s))} more` : 'store unreachable',
      },
    ],
  },
  {
    // Only a node about to join: a running server is never stopped on the store's word alone.
    situation: 'data of another cluster',
    when: (s) => !s.local.running && !s.local.empty && s.local.systemId !== null && s.snapshot?.initialize?.systemId !== undefined && s.snapshot.initialize.systemId !== s.local.systemId,
    then: (s) => [
      {
        type: 'refuse',
        reason: `the data directory belongs to system ${s.local.systemId}, but cluster ${s.snapshot?.cluster.scope} is system ${s.snapshot?.initialize?.systemId}: refusing to join (move the data directory away to clone afresh)`,
      },
    ],
  },
  {
    situation: 'no data, cluster not initialized',
    when: (s) => s.local.empty && s.snapshot?.initialize === null,
    then: (s) =>
      s.tags.nofailover
        ? [{ type: 'wait', reason: 'cluster not initialized and this node is tagged nofailover: waiting for another to bootstrap' }]
        : [{ type: 'bootstrap', reason: 'cluster not initialized: race for initialize' }],
  },
  {
    situation: 'bootstrap of this node unfinished',
    when: (s) => s.snapshot?.initialize?.initializedBy === s.name && s.snapshot.initialize.systemId === undefined && s.leader === null,
    then: () => [{ type: 'bootstrap', reason: 'this node won initialize but its bootstrap did not finish: initdb again' }],
  },
  {
    situation: 'no data, a leader to clone from',
    when: (s) => s.local.empty && s.leaderMember !== null && s.leader?.phase === 'active' && !s.mine,
    then: (s) => [{ type: 'clone', from: (s.leaderMember as MemberItem).name, reason: `clone from the leader ${s.leader?.holder}` }],
  },
  {
    situation: 'no data, no leader yet',
    when: (s) => s.local.empty,
    then: () => [{ type: 'wait', reason: 'no data and no active leader to clone from' }],
  },
  {
    situation: 'initialized by this node, no lease taken yet',
    when: (s) => s.leader === null && s.snapshot?.initialize?.initializedBy === s.name,
    then: (s) => [
      ...(s.local.running && s.local.inRecovery === false ? [] : [{ type: 'startPrimary', reason: 'bootstrap: start the new primary' } as const]),
      { type: 'takeFirstLease', reason: 'bootstrap: take the first lease (term 1)' },
    ],
  },
  {
    situation: 'granted the lease',
    when: (s) => s.mine && s.leader?.phase === 'granted',
    then: (s) => {
      const term = (s.leader as LeaderItem).term;
      if (s.local.running && s.local.inRecovery === false) return [{ type: 'confirm', term, reason: `already primary: confirm term ${term}` }];
      if (!s.local.running) {
        return [
          { type: 'startStandby', reason: `granted term ${term} while stopped: start read-only first` },
          { type: 'promote', term, via: 'confirm', reason: `granted term ${term}: confirm, then promote` },
        ];
      }
      return [{ type: 'promote', term, via: 'confirm', reason: `granted term ${term}: confirm, then promote` }];
    },
  },
  {
    situation: 'asked to hand over',
    when: (s) => s.mine && s.leader?.phase === 'handover',
    then: (s) => [{ type: 'handover', term: (s.leader as LeaderItem).term, reason: `switchover to ${s.leader?.candidate}: stop writes and report the final LSN` }],
  },
  {
    situation: 'handed over, waiting for the candidate',
    when: (s) => s.mine && s.leader?.phase === 'demoted',
    then: (s) => [
      ...(s.primaryHere ? [{ type: 'demote', mode: 'fast', reason: 'demoted: stay out of writes' } as const] : []),
      { type: 'renew', term: (s.leader as LeaderItem).term, reason: `demoted: keep the lease until ${s.leader?.candidate} is granted` },
    ],
  },
  {
    situation: 'holder, PostgreSQL down',
    when: (s) => s.mine && s.leader?.phase === 'active' && !s.local.running,
    then: (s) => [
      { type: 'startStandby', reason: 'holder with PostgreSQL down: start it read-only first' },
      { type: 'promote', term: (s.leader as LeaderItem).term, via: 'renew', reason: 'holder: renew the lease, then promote' },
    ],
  },
  {
    situation: 'holder running as a standby',
    when: (s) => s.mine && s.leader?.phase === 'active' && s.local.inRecovery === true,
    then: (s) => [{ type: 'promote', term: (s.leader as LeaderItem).term, via: 'renew', reason: 'holder found running as a standby: renew the lease, then promote' }],
  },
  {
    situation: 'holder',
    when: (s) => s.mine && s.leader?.phase === 'active',
    then: (s) => [{ type: 'renew', term: (s.leader as LeaderItem).term, reason: `renew term ${s.leader?.term}` }],
  },
  {
    situation: 'primary without the lease',
    when: (s) => s.primaryHere && !s.mine,
    then: (s) => [
      {
        type: 'demote',
        mode: 'fast',
        reason: leaderUsable(s.leader) ? `the lease belongs to ${s.leader.holder} (term ${s.leader.term}): demote` : 'no lease held: demote',
      },
    ],
  },
  {
    situation: 'replica of the leader, diverged',
    when: (s) => leaderServing(s.leader) && !s.mine && s.local.running && s.local.following === s.leader.holder && (s.local.receiverStuckMs ?? 0) > stuckLimitMs(s),
    then: (s) => [
      {
        type: 'follow',
        leader: (s.leader as LeaderItem).holder,
        rewind: true,
        reason: `cannot stream from ${s.leader?.holder} for ${seconds(s.local.receiverStuckMs ?? 0)} while behind its timeline ${s.leader?.timeline}: stop and rewind`,
      },
    ],
  },
  {
    situation: 'replica of the leader',
    when: (s) => leaderUsable(s.leader) && !s.mine && s.local.running && s.local.following === s.leader.holder,
    then: (s) => [{ type: 'wait', reason: `streaming from ${s.leader?.holder}` }],
  },
  {
    situation: 'replica to re-point or start',
    when: (s) => leaderServing(s.leader) && !s.mine && s.leaderMember !== null,
    then: (s) => [
      {
        type: 'follow',
        leader: (s.leader as LeaderItem).holder,
        // A former primary is rewound. So is any cleanly stopped node: pg_rewind answers at once when there
        // is nothing to do, and a standby whose last checkpoint sits at the fork point cannot follow the new
        // timeline without it. A standby that crashed is not: pg_rewind's crash recovery would end its
        // recovery and write WAL of its own; it restarts as a standby instead.
        rewind: s.local.wasPrimary || (!s.local.running && s.local.cleanShutdown === true),
        reason: s.local.running ? `follow ${s.leader?.holder} (was following ${s.local.following ?? 'nobody'})` : `start as a replica of ${s.leader?.holder}`,
      },
    ],
  },
  {
    situation: 'no leader, PostgreSQL down',
    when: (s) => !s.local.empty && !s.local.running && !s.mine,
    then: (s) => [
      {
        type: 'startStandby',
        reason: `${s.leader?.phase === 'released' ? `lease released by ${s.leader.holder}` : 'no leader'}: start read-only, so the arbiter can see this node's WAL position and elect`,
      },
    ],
  },
  {
    situation: 'no leader',
    when: () => true,
    then: (s) => [{ type: 'wait', reason: s.leader?.phase === 'released' ? `lease released by ${s.leader.holder}: waiting for the arbiter` : 'no leader: waiting for the arbiter' }],
  },
];

export function decideAgent(input: AgentInput): AgentDecision {
  const leader = input.snapshot?.leader ?? null;
  const s: Situation = {
    ...input,
    leader,
    mine: leader !== null && leader.holder === input.name && leader.phase !== 'released',
    leaderMember: leader === null ? null : (input.snapshot?.members.find((m) => m.name === leader.holder) ?? null),
    primaryHere: input.local.running && input.local.inRecovery === false,
  };
  for (const rule of AGENT_RULES) {
    if (rule.when(s)) return { situation: rule.situation, actions: rule.then(s) };
  }
  throw new Error('unreachable: the last agent rule always holds');
}
