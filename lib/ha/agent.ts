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

/**
 * Why the agent does something: a stable code for programs and tests, and
 * words for operators. Code never reads the words.
 */
export interface Reason {
  readonly code: ReasonCode;
  readonly text: string;
}

export const RULE_REASON_CODES = [
  'shutdown_demote', 'shutdown_release', 'shutdown_stop', 'fence_lease_expired', 'store_unreachable', 'foreign_system',
  'bootstrap_wait_nofailover', 'bootstrap_race', 'bootstrap_resume', 'clone_from_leader', 'no_data_wait', 'bootstrap_start',
  'bootstrap_first_lease', 'granted_confirm', 'granted_start_standby', 'granted_promote', 'handover', 'demoted_stay_out',
  'demoted_keep_lease', 'holder_start_standby', 'holder_promote', 'holder_renew', 'not_holder_demote', 'replica_diverged',
  'replica_streaming', 'replica_follow', 'no_leader_start', 'no_leader_wait', 'handover_no_final_lsn', 'failsafe_hold',
  'paused_shutdown', 'paused_renew', 'paused_hands_off', 'rewind_gave_up',
] as const;

/** Codes of the steps that carry out a decision (agent-step.ts). */
export const STEP_REASON_CODES = [
  'lease_lost', 'grant_void', 'keeper_unarmed', 'confirm_lost', 'store_unavailable', 'pg_failed', 'handover_unclean',
  'initialize_lost', 'bootstrap_foreign_files', 'bootstrap_postmaster_running', 'fence_deadline', 'heartbeat_failed',
  'heartbeat_conflict', 'member_gone', 'promoted', 'rewound', 'initdb', 'keeper_disarm_failed', 'checkpoint_failed', 'action',
  'failsafe_active', 'failsafe_incomplete', 'failsafe_ended', 'failsafe_promised', 'failsafe_promise', 'failsafe_refused',
  'arbiter_wake', 'fence_rearmed', 'fence_off', 'rewind_failed', 'operator_restart', 'operator_reinit', 'operator_refused', 'operator_failed', 'operator_done',
  'pre_promote_vetoed',
] as const;

export type ReasonCode = (typeof RULE_REASON_CODES)[number] | (typeof STEP_REASON_CODES)[number];

export function r(code: ReasonCode, text: string): Reason {
  return { code, text };
}

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
  /** The data directory holds any file at all (an `empty` one may still hold a half-done initdb's). */
  readonly hasFiles?: boolean;
  /** This node's own bootstrap left its marker: the only evidence that allows emptying a data directory. */
  readonly bootstrapMarker?: boolean;
  /** A postmaster runs in the data directory (by its pid file), answering or not. */
  readonly postmasterRunning?: boolean;
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
  /**
   * failsafe_mode is on and this primary's failsafe set for its term is in
   * the store (a renew that carried it was acknowledged): with the store out
   * of reach, the members' promises may keep the role.
   */
  readonly failsafeReady?: boolean;
  /**
   * Maintenance mode: the store holds this holder's lease as unfenced (a
   * renew said so while paused) and the fence is off, so no lease clock
   * fences PostgreSQL; no automatic grant can happen while it stands.
   */
  readonly unfenced?: boolean;
  /** pg_rewind against the current leader's term failed every attempt: no rewind until the term changes or an operator reinits. */
  readonly rewindFailed?: boolean;
}

export type AgentAction =
  | { readonly type: 'bootstrap'; readonly reason: Reason }
  | { readonly type: 'clone'; readonly from: string; readonly reason: Reason }
  | { readonly type: 'startPrimary'; readonly reason: Reason }
  | { readonly type: 'startStandby'; readonly reason: Reason }
  | { readonly type: 'takeFirstLease'; readonly reason: Reason }
  /**
   * Take the lease by CAS on holder and term first (a renew, which keeps the
   * phase), arm the fence keeper with it, and only then promote; `confirm`:
   * then confirm the grant (granted -> active), which is what replicas follow.
   * A grant that cannot be taken so is void, and PostgreSQL never takes
   * writes outside a lease the keeper holds.
   */
  | { readonly type: 'promote'; readonly term: number; readonly via: 'confirm' | 'renew'; readonly reason: Reason }
  | { readonly type: 'confirm'; readonly term: number; readonly reason: Reason }
  | { readonly type: 'renew'; readonly term: number; readonly reason: Reason }
  | { readonly type: 'handover'; readonly term: number; readonly reason: Reason }
  | { readonly type: 'demote'; readonly mode: 'fast' | 'immediate'; readonly reason: Reason }
  | { readonly type: 'follow'; readonly leader: string; readonly rewind: boolean; readonly reason: Reason }
  | { readonly type: 'release'; readonly term: number; readonly reason: Reason }
  /** failsafe_mode: ask every member of the failsafe set to promise not to promote; all promise, the role holds on. */
  | { readonly type: 'failsafe'; readonly term: number; readonly reason: Reason }
  | { readonly type: 'stop'; readonly reason: Reason }
  /** An operator's request (agent-step.ts appends it to a steady loop's actions). */
  | { readonly type: 'operator'; readonly id: number; readonly op: 'restart' | 'reinit'; readonly reason: Reason }
  | { readonly type: 'refuse'; readonly reason: Reason }
  | { readonly type: 'wait'; readonly reason: Reason };

export interface AgentDecision {
  readonly situation: string;
  readonly code: SituationCode;
  readonly actions: readonly AgentAction[];
}

export type SituationCode =
  | 'paused_shutting_down'
  | 'paused_holder'
  | 'paused'
  | 'shutting_down_while_holding_the_lease'
  | 'shutting_down'
  | 'store_unreachable_while_holding_the_lease_lease_run_out'
  | 'store_unreachable_failsafe'
  | 'store_unreachable'
  | 'data_of_another_cluster'
  | 'no_data_cluster_not_initialized'
  | 'bootstrap_of_this_node_unfinished'
  | 'no_data_a_leader_to_clone_from'
  | 'no_data_no_leader_yet'
  | 'initialized_by_this_node_no_lease_taken_yet'
  | 'granted_the_lease'
  | 'asked_to_hand_over'
  | 'asked_to_hand_over_no_final_lsn'
  | 'handed_over_waiting_for_the_candidate'
  | 'holder_postgresql_down'
  | 'holder_running_as_a_standby'
  | 'holder'
  | 'primary_without_the_lease'
  | 'replica_of_the_leader_diverged'
  | 'replica_of_the_leader'
  | 'replica_to_re_point_or_start'
  | 'no_leader_postgresql_down'
  | 'no_leader';

interface Situation extends AgentInput {
  readonly leader: LeaderItem | null;
  readonly mine: boolean;
  readonly leaderMember: MemberItem | null;
  readonly primaryHere: boolean;
}

interface Rule {
  readonly situation: string;
  readonly code: SituationCode;
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

/**
 * While paused, the agent leaves PostgreSQL alone except where an operator's
 * own request moves the lease: a grant or handover of this node, the demotion
 * of a primary whose lease another holds, and re-pointing a running replica
 * at the new leader (a reload, no restart). Streaming on is not an action.
 */
function pausedMayAct(s: Situation): boolean {
  if (s.mine && (s.leader?.phase === 'granted' || s.leader?.phase === 'handover' || s.leader?.phase === 'demoted')) return true;
  if (s.primaryHere && !s.mine && leaderUsable(s.leader)) return true;
  const l = s.leader;
  if (!leaderUsable(l) || s.mine || !s.local.running || s.local.inRecovery !== true) return false;
  if (s.local.following === l.holder) return (s.local.receiverStuckMs ?? 0) <= stuckLimitMs(s);
  return leaderServing(l) && s.leaderMember !== null && !s.local.wasPrimary;
}

function rewindGaveUpWait(s: Situation): AgentAction {
  return { type: 'wait', reason: r('rewind_gave_up', `pg_rewind from ${s.leader?.holder} failed every attempt: waiting for an operator (pgfloat reinit ${s.name})`) };
}

/** The rule table. Order matters: the first situation that holds decides. */
export const AGENT_RULES: readonly Rule[] = [
  {
    // Maintenance: an agent restarted while paused (an upgrade) finds PostgreSQL as it left it.
    situation: 'paused, shutting down',
    code: 'paused_shutting_down',
    when: (s) => s.config.paused && s.shuttingDown,
    then: () => [{ type: 'wait', reason: r('paused_shutdown', 'paused: PostgreSQL is left as it is and the lease is not released') }],
  },
  {
    situation: 'shutting down while holding the lease',
    code: 'shutting_down_while_holding_the_lease',
    when: (s) => s.shuttingDown && s.mine && s.leader !== null,
    then: (s) => [
      ...(s.primaryHere ? [{ type: 'demote', mode: 'fast', reason: r('shutdown_demote', 'clean shutdown: stop taking writes first') } as const] : []),
      { type: 'release', term: (s.leader as LeaderItem).term, reason: r('shutdown_release', 'clean shutdown: release the lease so the arbiter elects at once') },
    ],
  },
  {
    situation: 'shutting down',
    code: 'shutting_down',
    when: (s) => s.shuttingDown,
    then: () => [{ type: 'stop', reason: r('shutdown_stop', 'clean shutdown') }],
  },
  {
    situation: 'store unreachable while holding the lease, lease run out',
    code: 'store_unreachable_while_holding_the_lease_lease_run_out',
    when: (s) => s.snapshot === null && s.primaryHere && holdsLeaseLocally(s) && leaseLeftMs(s) <= 0 && s.unfenced !== true,
    then: (s) => [
      {
        type: 'demote',
        mode: 'immediate',
        reason: r('fence_lease_expired', `fencing: no successful renew for ${seconds(s.lease.now - (s.lease.lastRenewSentAt ?? 0))} (ttl ${s.config.ttl} s less ${seconds(s.safetyMarginMs)} margin)`),
      },
    ],
  },
  {
    // The lease clock still runs: only promises gathered before it runs out extend it (agent-step.ts).
    situation: 'store unreachable, failsafe mode',
    code: 'store_unreachable_failsafe',
    when: (s) => s.snapshot === null && s.primaryHere && holdsLeaseLocally(s) && s.failsafeReady === true && s.unfenced !== true,
    then: (s) => [
      {
        type: 'failsafe',
        term: s.lease.term as number,
        reason: r('failsafe_hold', `store unreachable; failsafe mode: asking every member to promise not to promote (lease good for ${seconds(leaseLeftMs(s))} more)`),
      },
    ],
  },
  {
    situation: 'store unreachable',
    code: 'store_unreachable',
    when: (s) => s.snapshot === null,
    then: (s) => [
      {
        type: 'wait',
        reason: r('store_unreachable', s.primaryHere && holdsLeaseLocally(s) ? `store unreachable; lease good for ${seconds(leaseLeftMs(s))} more` : 'store unreachable'),
      },
    ],
  },
  {
    // Only a node about to join: a running server is never stopped on the store's word alone.
    situation: 'data of another cluster',
    code: 'data_of_another_cluster',
    when: (s) => !s.local.running && !s.local.empty && s.local.systemId !== null && s.snapshot?.initialize?.systemId !== undefined && s.snapshot.initialize.systemId !== s.local.systemId,
    then: (s) => [
      {
        type: 'refuse',
        reason: r('foreign_system', `the data directory belongs to system ${s.local.systemId}, but cluster ${s.snapshot?.cluster.scope} is system ${s.snapshot?.initialize?.systemId}: refusing to join (move the data directory away to clone afresh)`),
      },
    ],
  },
  {
    // Its renews say unfenced, and once one lands the fence is off (agent-step.ts): no lease clock stops PostgreSQL.
    situation: 'paused, holder',
    code: 'paused_holder',
    when: (s) => s.config.paused && s.mine && s.leader?.phase === 'active',
    then: (s) => [{ type: 'renew', term: (s.leader as LeaderItem).term, reason: r('paused_renew', `paused: renew term ${s.leader?.term} unfenced, leaving PostgreSQL as it is`) }],
  },
  {
    situation: 'paused',
    code: 'paused',
    when: (s) => s.config.paused && !pausedMayAct(s),
    then: () => [{ type: 'wait', reason: r('paused_hands_off', 'paused: PostgreSQL is left as it is (maintenance mode)') }],
  },
  {
    situation: 'no data, cluster not initialized',
    code: 'no_data_cluster_not_initialized',
    when: (s) => s.local.empty && s.snapshot?.initialize === null,
    then: (s) =>
      s.tags.nofailover
        ? [{ type: 'wait', reason: r('bootstrap_wait_nofailover', 'cluster not initialized and this node is tagged nofailover: waiting for another to bootstrap') }]
        : [{ type: 'bootstrap', reason: r('bootstrap_race', 'cluster not initialized: race for initialize') }],
  },
  {
    situation: 'bootstrap of this node unfinished',
    code: 'bootstrap_of_this_node_unfinished',
    when: (s) => s.snapshot?.initialize?.initializedBy === s.name && s.snapshot.initialize.systemId === undefined && s.leader === null,
    then: () => [{ type: 'bootstrap', reason: r('bootstrap_resume', 'this node won initialize but its bootstrap did not finish: initdb again') }],
  },
  {
    situation: 'no data, a leader to clone from',
    code: 'no_data_a_leader_to_clone_from',
    when: (s) => s.local.empty && s.leaderMember !== null && s.leader?.phase === 'active' && !s.mine,
    then: (s) => [{ type: 'clone', from: (s.leaderMember as MemberItem).name, reason: r('clone_from_leader', `clone from the leader ${s.leader?.holder}`) }],
  },
  {
    situation: 'no data, no leader yet',
    code: 'no_data_no_leader_yet',
    when: (s) => s.local.empty,
    then: () => [{ type: 'wait', reason: r('no_data_wait', 'no data and no active leader to clone from') }],
  },
  {
    situation: 'initialized by this node, no lease taken yet',
    code: 'initialized_by_this_node_no_lease_taken_yet',
    // The lease before any write; never on data that was a standby's: the initialize item alone promotes nothing.
    when: (s) => s.leader === null && s.snapshot?.initialize?.initializedBy === s.name && s.local.wasPrimary !== false && !(s.local.running && s.local.inRecovery === true),
    then: (s) => [
      { type: 'takeFirstLease', reason: r('bootstrap_first_lease', 'bootstrap: take the first lease (term 1)') },
      ...(s.local.running ? [] : [{ type: 'startPrimary', reason: r('bootstrap_start', 'bootstrap: start the new primary') } as const]),
    ],
  },
  {
    situation: 'granted the lease',
    code: 'granted_the_lease',
    when: (s) => s.mine && s.leader?.phase === 'granted',
    then: (s) => {
      const term = (s.leader as LeaderItem).term;
      if (s.local.running && s.local.inRecovery === false) return [{ type: 'confirm', term, reason: r('granted_confirm', `already primary: confirm term ${term}`) }];
      if (!s.local.running) {
        return [
          { type: 'startStandby', reason: r('granted_start_standby', `granted term ${term} while stopped: start read-only first`) },
          { type: 'promote', term, via: 'confirm', reason: r('granted_promote', `granted term ${term}: confirm, then promote`) },
        ];
      }
      return [{ type: 'promote', term, via: 'confirm', reason: r('granted_promote', `granted term ${term}: confirm, then promote`) }];
    },
  },
  {
    situation: 'asked to hand over',
    code: 'asked_to_hand_over',
    // Only a running primary, or one stopped cleanly (its final LSN is known), can finish a handover.
    when: (s) => s.mine && s.leader?.phase === 'handover' && (s.primaryHere || (!s.local.running && s.local.wasPrimary && s.local.cleanShutdown === true)),
    then: (s) => [{ type: 'handover', term: (s.leader as LeaderItem).term, reason: r('handover', `switchover to ${s.leader?.candidate}: stop writes and report the final LSN`) }],
  },
  {
    // A renew here would keep the lease alive forever with no final LSN to report: let it run out.
    situation: 'asked to hand over, no final LSN to report',
    code: 'asked_to_hand_over_no_final_lsn',
    when: (s) => s.mine && s.leader?.phase === 'handover',
    then: (s) => [
      { type: 'wait', reason: r('handover_no_final_lsn', `switchover to ${s.leader?.candidate}: PostgreSQL is not a running or cleanly stopped primary here, so there is no final LSN; the lease runs out and the arbiter fails over`) },
    ],
  },
  {
    situation: 'handed over, waiting for the candidate',
    code: 'handed_over_waiting_for_the_candidate',
    when: (s) => s.mine && s.leader?.phase === 'demoted',
    then: (s) => [
      ...(s.primaryHere ? [{ type: 'demote', mode: 'fast', reason: r('demoted_stay_out', 'demoted: stay out of writes') } as const] : []),
      { type: 'renew', term: (s.leader as LeaderItem).term, reason: r('demoted_keep_lease', `demoted: keep the lease until ${s.leader?.candidate} is granted`) },
    ],
  },
  {
    situation: 'holder, PostgreSQL down',
    code: 'holder_postgresql_down',
    when: (s) => s.mine && s.leader?.phase === 'active' && !s.local.running,
    then: (s) => [
      { type: 'startStandby', reason: r('holder_start_standby', 'holder with PostgreSQL down: start it read-only first') },
      { type: 'promote', term: (s.leader as LeaderItem).term, via: 'renew', reason: r('holder_promote', 'holder: renew the lease, then promote') },
    ],
  },
  {
    situation: 'holder running as a standby',
    code: 'holder_running_as_a_standby',
    when: (s) => s.mine && s.leader?.phase === 'active' && s.local.inRecovery === true,
    then: (s) => [{ type: 'promote', term: (s.leader as LeaderItem).term, via: 'renew', reason: r('holder_promote', 'holder found running as a standby: renew the lease, then promote') }],
  },
  {
    situation: 'holder',
    code: 'holder',
    when: (s) => s.mine && s.leader?.phase === 'active',
    then: (s) => [{ type: 'renew', term: (s.leader as LeaderItem).term, reason: r('holder_renew', `renew term ${s.leader?.term}`) }],
  },
  {
    situation: 'primary without the lease',
    code: 'primary_without_the_lease',
    when: (s) => s.primaryHere && !s.mine,
    then: (s) => [
      {
        type: 'demote',
        mode: 'fast',
        reason: r('not_holder_demote', leaderUsable(s.leader) ? `the lease belongs to ${s.leader.holder} (term ${s.leader.term}): demote` : 'no lease held: demote'),
      },
    ],
  },
  {
    situation: 'replica of the leader, diverged',
    code: 'replica_of_the_leader_diverged',
    when: (s) => leaderServing(s.leader) && !s.mine && s.local.running && s.local.following === s.leader.holder && (s.local.receiverStuckMs ?? 0) > stuckLimitMs(s),
    then: (s) => [
      s.rewindFailed === true ? rewindGaveUpWait(s) : {
        type: 'follow',
        leader: (s.leader as LeaderItem).holder,
        rewind: true,
        reason: r('replica_diverged', `cannot stream from ${s.leader?.holder} for ${seconds(s.local.receiverStuckMs ?? 0)} while behind its timeline ${s.leader?.timeline}: stop and rewind`),
      },
    ],
  },
  {
    situation: 'replica of the leader',
    code: 'replica_of_the_leader',
    when: (s) => leaderUsable(s.leader) && !s.mine && s.local.running && s.local.following === s.leader.holder,
    then: (s) => [{ type: 'wait', reason: r('replica_streaming', `streaming from ${s.leader?.holder}`) }],
  },
  {
    situation: 'replica to re-point or start',
    code: 'replica_to_re_point_or_start',
    when: (s) => leaderServing(s.leader) && !s.mine && s.leaderMember !== null,
    then: (s) => [
      s.rewindFailed === true && (s.local.wasPrimary || (!s.local.running && s.local.cleanShutdown === true)) ? rewindGaveUpWait(s) : {
        type: 'follow',
        leader: (s.leader as LeaderItem).holder,
        // A former primary is rewound. So is any cleanly stopped node: pg_rewind answers at once when there
        // is nothing to do, and a standby whose last checkpoint sits at the fork point cannot follow the new
        // timeline without it. A standby that crashed is not: pg_rewind's crash recovery would end its
        // recovery and write WAL of its own; it restarts as a standby instead.
        rewind: s.local.wasPrimary || (!s.local.running && s.local.cleanShutdown === true),
        reason: r('replica_follow', s.local.running ? `follow ${s.leader?.holder} (was following ${s.local.following ?? 'nobody'})` : `start as a replica of ${s.leader?.holder}`),
      },
    ],
  },
  {
    situation: 'no leader, PostgreSQL down',
    code: 'no_leader_postgresql_down',
    when: (s) => !s.local.empty && !s.local.running && !s.mine,
    then: (s) => [
      {
        type: 'startStandby',
        reason: r('no_leader_start', `${s.leader?.phase === 'released' ? `lease released by ${s.leader.holder}` : 'no leader'}: start read-only, so the arbiter can see this node's WAL position and elect`),
      },
    ],
  },
  {
    situation: 'no leader',
    code: 'no_leader',
    when: () => true,
    then: (s) => [{ type: 'wait', reason: r('no_leader_wait', s.leader?.phase === 'released' ? `lease released by ${s.leader.holder}: waiting for the arbiter` : 'no leader: waiting for the arbiter') }],
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
    if (rule.when(s)) return { situation: rule.situation, code: rule.code, actions: rule.then(s) };
  }
  throw new Error('unreachable: the last agent rule always holds');
}
