// The node agent as a pure step machine: agentStep(state, event) -> { state,
// effects }. Time is an input (`now`, monotonic ms); nothing here reads a
// clock, a socket or a file. Each loop begins with a `tick` (the cluster as
// read, the local PostgreSQL as read); decideAgent's rule table chooses the
// actions; each action runs as steps, one call effect at a time, and the
// outcome of each call is the next event. A lost race or an error stops the
// loop's remaining actions: the next tick plans again from a fresh read.
//
// Invariants:
// - PostgreSQL takes writes only inside a lease this node holds by a
//   successful CAS: a promotion renews its grant (holder and term) first,
//   then arms the fence keeper with deadline = send time of that renew +
//   ttl - safetyMargin, then (synchronous mode) makes every commit wait for a
//   standby, then promotes, then confirms granted -> active.
// - The lease is counted from the SEND time of the renew or confirm that
//   succeeded (`now` of the event that issued it), never from its answer.
// - A handover renews first, so its checkpoint and shutdown run inside a
//   fresh lease; it reports a final LSN only after a clean shutdown.
// - A data directory is emptied only on this node's own evidence (its
//   bootstrap marker, no postmaster running), never on the store's word.
// - failsafe_mode: with the store out of reach, a primary extends its lease
//   only by a round of promises from every member of its failsafe set, each
//   answered before the current deadline; the extension is counted from the
//   round's send time. The failsafe set it asks always includes the set the
//   store may hold for its term (acknowledged, or sent and unanswered).
// - A member that promised not to promote does not, on any grant, until the
//   promise ends; it promises only while it holds no lease, is no primary and
//   is not on its way to becoming one.
import type { ClusterConfig, MemberStatus, MemberTags } from '../dcs/items.js';
import type { ClusterSnapshot } from '../dcs/store.js';
import { decideAgent, r, type AgentAction, type LocalState, type Reason, type ReasonCode, type SituationCode } from './agent.js';
import type { AgentEvent, CallEffect, Effect, FailsafeTarget, HeartbeatFields, OperatorOp, Outcome, PgReading, StoreOp } from './agent-effects.js';
import { ANY_STANDBY, resolveSync, type SyncStep } from './agent-sync.js';

export type * from './agent-effects.js';

export const LOCAL_PHASES = ['uninitialized', 'stopped', 'starting', 'running', 'demoting', 'stopping', 'initializing', 'cloning', 'rewinding'] as const;
/** What this node's PostgreSQL is doing, as far as the agent made it so. */
export type LocalPhase = (typeof LOCAL_PHASES)[number];

/** Fixed for the life of the process. */
export interface AgentParams {
  readonly name: string;
  readonly tags: MemberTags;
  /** Time held back from the lease for the fencing itself, ms. */
  readonly safetyMarginMs: number;
  /** Polling interval while the cluster is in transition, ms. */
  readonly fastPollMs: number;
  /** A fence keeper outside the agent holds the deadline; without one only the in-process timer does. */
  readonly keeper: boolean;
  /** This member's conn URL: another member heartbeating under this name is reported. */
  readonly connUrl: string;
  /** The agent can wake the arbiter out of schedule (a function to invoke is configured). */
  readonly wakesArbiter?: boolean;
  /** Patroni's remove_data_directory_on_rewind_failure: a failed pg_rewind re-creates the node from the leader. */
  readonly reinitOnRewindFailure?: boolean;
  /** A pre_promote script is configured: a promotion runs it, and its failure vetoes the promotion. */
  readonly prePromote?: boolean;
}

export interface LeaseHeld {
  readonly term: number | null;
  /** Monotonic ms at which the last successful renew or confirm was sent. */
  readonly sentAt: number | null;
}

/** failsafe_mode: what the store may hold as this primary's failsafe set, for `term`. */
export interface FailsafeSet {
  readonly term: number | null;
  /** The set of the last acknowledged renew that carried one. */
  readonly acked: readonly string[] | null;
  /** Members of renews sent since, unanswered: the store may hold their set. */
  readonly pending: readonly string[];
}

/** A promise this member gave: no promotion before `until` (monotonic ms). */
export interface FailsafePromise {
  readonly holder: string;
  readonly term: number;
  readonly until: number;
}

export interface AgentState {
  readonly config: ClusterConfig;
  readonly snapshot: ClusterSnapshot | null;
  /** The last snapshot read (the store may be out of reach now). */
  readonly known: ClusterSnapshot | null;
  /** When each member's item was first seen at its current version, monotonic ms. */
  readonly membersSeen: Readonly<Record<string, { readonly version: number; readonly at: number }>>;
  readonly failsafe: FailsafeSet;
  /** The role is held by failsafe promises: the store is out of reach. */
  readonly failsafeActive: boolean;
  readonly promise: FailsafePromise | null;
  /** Until when (monotonic ms) the heartbeat says promotionVetoed: the pre_promote script refused a promotion. */
  readonly vetoedUntil: number | null;
  /** Monotonic ms of this process's first loop: a promise of an earlier process is not remembered. */
  readonly startedAt: number | null;
  readonly local: LocalState;
  /** The running server's last reading, timeline made sticky. */
  readonly status: PgReading | null;
  readonly phase: LocalPhase;
  /** /primary answers 503 from the moment a demotion starts. */
  readonly demoting: boolean;
  readonly lease: LeaseHeld;
  /** The in-process fence timer's deadline, monotonic ms. */
  readonly fenceAt: number | null;
  /** The keeper acknowledged an arm and no disarm since. */
  readonly keeperArmed: boolean;
  /**
   * Maintenance mode: a renew that said unfenced landed, and the in-process
   * timer and the keeper were then turned off. Only while the store holds the
   * lease as unfenced may the fence be off; a renew that clears it is sent
   * only once the fence is armed again.
   */
  readonly fenceOff: boolean;
  /**
   * pg_rewind from `leader` (of `term`) failed `failures` times in a row. At
   * REWIND_ATTEMPTS the node stops trying until the leader's term changes,
   * an operator reinitializes it, or the agent restarts.
   */
  readonly rewindFailed: { readonly leader: string; readonly term: number; readonly failures: number; readonly message: string } | null;
  /** The operator's request waiting for a steady loop, or running in this one. */
  readonly operator: { readonly id: number; readonly op: OperatorOp } | null;
  /** Since when the WAL receiver has not streamed while this replica's timeline is behind the leader's. */
  readonly stuckSince: number | null;
  /** The highest timeline seen since this postmaster started. */
  readonly seenTimeline: { readonly started: number; readonly timeline: number } | null;
  /** When this node first saw the leader item's current version. */
  readonly leaderSeen: { readonly version: number; readonly at: number } | null;
  /** Synchronous standbys not settled yet: poll fast. */
  readonly syncPending: boolean;
  readonly shuttingDown: boolean;
  /** The last wake of the arbiter (monotonic ms), for the leader item's version it found standing still, and the wait before the next. */
  readonly wokeArbiter: { readonly version: number; readonly at: number; readonly nextMs: number } | null;
  /** The version this member's item has as its last heartbeat wrote it: a read may be older. */
  readonly ownVersion: number | null;
  /** When the last full read of the partition was sent (monotonic ms); head reads stand on it (head-read.ts). */
  readonly fullReadAt: number | null;
  /** The last loop found a replica streaming from a healthy leader: the next may read the head only. */
  readonly headReads: boolean;
  /** The loop in progress; null between loops. */
  readonly run: Run | null;
}

export interface Run {
  /** When the loop's store read was sent, monotonic ms. */
  readonly startedAt: number;
  readonly situation: string;
  readonly actions: readonly AgentAction[];
  readonly index: number;
  readonly step: string;
  readonly data: StepData;
  /** The kind of call whose outcome is awaited. */
  readonly awaiting: CallEffect['type'] | null;
  /** A store call of this loop failed: the heartbeat is skipped. */
  readonly storeFailed?: boolean;
}

/** What the steps of one action carry from one to the next. */
export interface StepData {
  readonly w?: { readonly holder: string; readonly term: number; readonly lastLsn: number; readonly timeline: number };
  readonly sent?: number;
  readonly version?: number;
  readonly wipe?: boolean;
  readonly mode?: 'fast' | 'immediate';
  /** Where a sub-procedure (demote, sync) continues. */
  readonly after?: string;
  readonly sync?: { readonly steps: readonly SyncStep[]; readonly i: number; readonly pendingAfter: boolean };
  /** The failsafe set a renew carries. */
  readonly set?: readonly string[];
  /** The renew says unfenced (paused). */
  readonly unfenced?: boolean;
  /** The fence was armed before a renew that clears an unfenced lease. */
  readonly rearmed?: boolean;
}

export interface StepResult {
  readonly state: AgentState;
  readonly effects: readonly Effect[];
}

const EMPTY_LOCAL: LocalState = { empty: true, systemId: null, running: false, inRecovery: null, following: null, wasPrimary: false };

export function initialAgentState(config: ClusterConfig): AgentState {
  return {
    config,
    snapshot: null,
    known: null,
    membersSeen: {},
    fullReadAt: null,
    headReads: false,
    failsafe: { term: null, acked: null, pending: [] },
    failsafeActive: false,
    promise: null,
    vetoedUntil: null,
    startedAt: null,
    local: EMPTY_LOCAL,
    status: null,
    phase: 'stopped',
    demoting: false,
    lease: { term: null, sentAt: null },
    fenceAt: null,
    keeperArmed: false,
    fenceOff: false,
    rewindFailed: null,
    operator: null,
    stuckSince: null,
    seenTimeline: null,
    leaderSeen: null,
    syncPending: false,
    shuttingDown: false,
    wokeArbiter: null,
    ownVersion: null,
    run: null,
  };
}

type Draft = { -readonly [K in keyof AgentState]: AgentState[K] };

/** A step's verdict: wait for a call, run another step now, or end the action. */
type Next =
  | { readonly call: CallEffect; readonly step: string; readonly data?: StepData }
  | { readonly goto: string; readonly data?: StepData }
  | 'done'
  | 'stop'
  | 'end'
  | { readonly exit: Reason | null };

interface Ctx {
  readonly d: Draft;
  readonly p: AgentParams;
  readonly now: number;
  readonly out: Effect[];
  readonly data: StepData;
  readonly action: AgentAction | null;
}

export function agentStep(state: AgentState, event: AgentEvent, p: AgentParams): StepResult {
  const d: Draft = { ...state };
  const out: Effect[] = [];
  switch (event.type) {
    case 'tick':
      onTick(d, p, event, out);
      break;
    case 'result':
      if (d.run !== null) drive(d, p, event.now, out, event.outcome);
      break;
    case 'fenceDue':
      onFenceDue(d, event.now, event.standbySignal, out);
      break;
    case 'failsafeAsk':
      onFailsafeAsk(d, p, event, out);
      break;
    case 'heartbeatDone':
      onHeartbeatDone(d, p, event.outcome, out);
      break;
    case 'operator':
      if (d.operator !== null) out.push(operatorDone(event.id, false, r('operator_refused', `busy: a ${d.operator.op} is already asked for`)));
      else d.operator = { id: event.id, op: event.op };
      break;
    case 'operatorCancel':
      // One that has begun runs to its end: a restart or reinit is not cut off half way.
      if (d.operator?.id === event.id && !operatorRunning(d)) d.operator = null;
      break;
  }
  return { state: d, effects: out };
}

function onTick(d: Draft, p: AgentParams, e: Extract<AgentEvent, { type: 'tick' }>, out: Effect[]): void {
  d.snapshot = e.snapshot;
  d.startedAt ??= e.now;
  if (e.snapshot !== null) {
    d.known = e.snapshot;
    if (e.read !== 'head') d.fullReadAt = Math.min(e.startedAt ?? e.now, e.now);
    d.membersSeen = seenAt(d.membersSeen, e.snapshot, e.now);
    if (d.failsafeActive) out.push(log('info', 'failsafe_ended', 'the store is reachable again: leasing resumes'));
    d.failsafeActive = false;
  }
  if (d.promise !== null && e.now >= d.promise.until) d.promise = null;
  if (e.snapshot?.config) d.config = e.snapshot.config.config;
  const l = e.snapshot?.leader ?? null;
  if (l !== null && (d.leaderSeen === null || d.leaderSeen.version !== l.version)) d.leaderSeen = { version: l.version, at: e.now };
  wakeArbiter(d, p, e.now, out);
  const status = sticky(d, e.status);
  d.status = status;
  d.local = { ...e.local, receiverStuckMs: receiverStuck(d, status, e.now) };
  d.phase = e.local.running ? 'running' : e.local.empty ? 'uninitialized' : 'stopped';
  if (!e.local.running || e.local.inRecovery !== false) d.demoting = false;
  d.shuttingDown = d.shuttingDown || e.shuttingDown;
  // A malformed leader item (or initialize item, for a node without data) is read as "the store cannot tell":
  // the lease clock runs and fences at its deadline, and nothing is bootstrapped, promoted or demoted on it.
  // Other malformed items are set aside: with data here, no rule acts on an initialize item that is not there.
  const blind = e.snapshot !== null && e.snapshot.malformed.some((m) => m.kind === 'leader' || (m.kind === 'initialize' && e.local.empty));
  const decision = decideAgent({
    name: p.name,
    tags: p.tags,
    snapshot: blind ? null : e.snapshot,
    config: d.config,
    local: d.local,
    lease: { now: e.now, lastRenewSentAt: d.lease.sentAt, term: d.lease.term },
    shuttingDown: d.shuttingDown,
    safetyMarginMs: p.safetyMarginMs,
    failsafeReady: failsafeReady(d),
    unfenced: d.fenceOff && d.lease.term !== null,
    rewindFailed: rewindGaveUp(d),
  });
  d.headReads = e.snapshot !== null && !blind && decision.code === 'replica_of_the_leader' && d.promise === null && !d.shuttingDown && !d.failsafeActive;
  const operator = planOperator(d, p, decision.code, blind, out);
  d.run = { startedAt: Math.min(e.startedAt ?? e.now, e.now), situation: decision.situation, actions: [...decision.actions, ...operator], index: 0, step: 'begin', data: {}, awaiting: null };
  drive(d, p, e.now, out, null);
}

/**
 * A leader item that has not changed for ttl + loop_wait is one the arbiter
 * should have judged by now (a healthy holder renews every loop_wait): ask it
 * for ticks out of schedule. The first wake for a version comes at once; while
 * the same version stands still, the next waits twice as long (ttl, 2 ttl, ...
 * up to WAKE_BACKOFF_MAX_MS), so a cluster the arbiter cannot mend is not a
 * stream of invocations. Never while paused (nothing to judge) nor by the
 * holder of a lease it keeps.
 */
function wakeArbiter(d: Draft, p: AgentParams, now: number, out: Effect[]): void {
  const l = d.snapshot?.leader ?? null;
  if (p.wakesArbiter !== true || l === null || d.config.paused || d.leaderSeen === null || d.leaderSeen.version !== l.version) return;
  if (l.holder === p.name && l.phase !== 'released') return;
  const still = now - d.leaderSeen.at;
  const ttlMs = d.config.ttl * 1000;
  if (still <= ttlMs + d.config.loopWait * 1000) return;
  const last = d.wokeArbiter !== null && d.wokeArbiter.version === l.version ? d.wokeArbiter : null;
  if (last !== null && now - last.at < last.nextMs) return;
  d.wokeArbiter = { version: l.version, at: now, nextMs: last === null ? ttlMs : Math.min(last.nextMs * 2, WAKE_BACKOFF_MAX_MS) };
  const reason = r('arbiter_wake', `the leader item (${l.holder}, term ${l.term}, ${l.phase}) has not changed for ${seconds(still)}: waking the arbiter`);
  out.push(log('warn', 'arbiter_wake', reason.text), { type: 'wakeArbiter', reason });
}

/** The longest wait between two wakes of the arbiter for one leader item standing still. */
export const WAKE_BACKOFF_MAX_MS = 300_000;

function onFenceDue(d: Draft, now: number, standbySignal: boolean, out: Effect[]): void {
  if (d.lease.term === null || d.lease.sentAt === null || d.fenceAt === null || now < d.fenceAt) return;
  // A standby takes no writes: nothing to fence.
  if (standbySignal) return;
  out.push(log('warn', 'fence_deadline', `fencing: no successful renew of term ${d.lease.term} for ${seconds(now - d.lease.sentAt)}; stopping PostgreSQL`));
  d.demoting = true;
  d.phase = 'demoting';
  d.lease = { term: null, sentAt: null };
  d.failsafeActive = false;
  d.fenceAt = null;
  out.push({ type: 'fenceTimer', at: null });
  out.push({ type: 'pg', op: { op: 'stop', mode: 'immediate' }, detached: true });
}

/** The actions that make this node writable, or may. */
const PROMOTING = new Set<AgentAction['type']>(['promote', 'confirm', 'takeFirstLease', 'startPrimary', 'bootstrap']);

/**
 * failsafe_mode, the member's side: promise `holder` not to promote for
 * `durationMs`, only while this node holds no lease, is no primary, and no
 * action of this loop could make it one. A later promotion waits for the
 * promise to end (step()).
 */
function onFailsafeAsk(d: Draft, p: AgentParams, e: Extract<AgentEvent, { type: 'failsafeAsk' }>, out: Effect[]): void {
  const answer = (ok: boolean, code: ReasonCode, text: string): void => {
    out.push({ type: 'failsafeAnswer', ok, reason: r(code, text) });
    if (!ok) out.push(log('warn', code, `failsafe call from ${e.holder} (term ${e.term}) refused: ${text}`));
  };
  const known = d.known;
  const leader = known?.leader ?? null;
  const maxMs = maxPromiseMs(d);
  if (!d.config.failsafeMode) return answer(false, 'failsafe_refused', 'failsafe_mode is off in the cluster config this member last read');
  if (e.holder === p.name) return answer(false, 'failsafe_refused', 'a member does not ask itself');
  if (!Number.isInteger(e.durationMs) || e.durationMs <= 0 || e.durationMs > maxMs) {
    return answer(false, 'failsafe_refused', `durationMs ${e.durationMs} outside 1..${maxMs} (2 x ttl)`);
  }
  if (!(known?.members ?? []).some((m) => m.name === e.holder)) return answer(false, 'failsafe_refused', `${e.holder} is not a member of this cluster`);
  if (leader !== null && (leader.term > e.term || (leader.term === e.term && leader.holder !== e.holder))) {
    return answer(false, 'failsafe_refused', `the lease is ${leader.holder}'s, term ${leader.term}, as this member last read it`);
  }
  const primary = d.local.running && d.local.inRecovery === false;
  if (d.lease.term !== null || primary || d.status?.inRecovery === false) return answer(false, 'failsafe_refused', 'this member holds a lease or runs as a primary');
  const run = d.run;
  if (run !== null && !run.step.startsWith('tail') && run.actions.slice(run.index).some((a) => PROMOTING.has(a.type))) {
    return answer(false, 'failsafe_refused', 'this member is on its way to promote');
  }
  const until = Math.max(d.promise?.until ?? 0, e.now + e.durationMs);
  if (d.promise === null || d.promise.holder !== e.holder || d.promise.term !== e.term) {
    out.push(log('info', 'failsafe_promise', `failsafe: promised ${e.holder} (term ${e.term}) not to promote for ${seconds(e.durationMs)}`));
  }
  d.promise = { holder: e.holder, term: e.term, until };
  answer(true, 'failsafe_promise', `no promotion for ${seconds(e.durationMs)}`);
}

/**
 * A promise holds until its end. A promise an earlier agent process gave is
 * not remembered, so for the longest promise it could have given (2 x ttl)
 * after this process starts, in failsafe mode, every promotion waits, except
 * in a cluster that never had a leader (nobody can hold on by failsafe there).
 */
/**
 * This member acts on no grant now: it promised a primary not to promote, or
 * it started in failsafe mode too recently to know what an earlier process
 * promised. A grant to it while the old primary still holds on is harmless.
 */
export function holdsPromotionBack(state: AgentState, now: number): boolean {
  return promised(state, now);
}

function promised(d: Draft | AgentState, now: number): boolean {
  if (d.promise !== null && now < d.promise.until) return true;
  const neverLed = d.known !== null && d.known.leader === null && !d.known.malformed.some((m) => m.kind === 'leader');
  return d.config.failsafeMode && !neverLed && d.startedAt !== null && now < d.startedAt + maxPromiseMs(d);
}

const maxPromiseMs = (d: Draft | AgentState): number => d.config.ttl * 1000 * 2;

/** failsafe_mode on, and the store holds (or may hold) this primary's failsafe set for its lease's term. */
function failsafeReady(d: Draft): boolean {
  return d.config.failsafeMode && d.lease.term !== null && d.failsafe.term === d.lease.term && d.failsafe.acked !== null;
}

/** A member's item seen at a new version is alive at `now`; members gone are forgotten. */
function seenAt(prev: AgentState['membersSeen'], snap: ClusterSnapshot, now: number): AgentState['membersSeen'] {
  const next: Record<string, { version: number; at: number }> = {};
  for (const m of snap.members) {
    const was = prev[m.name];
    next[m.name] = was !== undefined && was.version === m.version ? was : { version: m.version, at: now };
  }
  return next;
}

/** Steps whose code reads an error outcome itself; any other step stops the loop's actions on one. */
const READS_ERRORS = new Set([
  'tfl:armed',
  'promote:armed',
  'promote:hooked',
  'promote:vetoBeat',
  'promote:vetoReleased',
  'promote:confirmArmed',
  'confirm:armed',
  'renew:renewed',
  'renew:armed',
  'fs:answered',
  'fs:armed',
  'handover:armed',
  'handover:checkpointed',
  'tail:probed',
  'tail:disarmed',
  'tail:beat',
  'slots:done',
  'renew:unfenced',
  'rearmed',
  'operator:done',
  'follow:rewound',
  'follow:reinited',
]);

function drive(d: Draft, p: AgentParams, now: number, out: Effect[], first: Outcome | null): void {
  let outcome = first;
  for (;;) {
    const run = d.run;
    if (run === null) return;
    const action = run.step.startsWith('tail') ? null : (run.actions[run.index] ?? null);
    let next: Next;
    if (outcome?.kind === 'error' && run.awaiting === 'store' && run.storeFailed !== true) d.run = { ...run, storeFailed: true };
    if (outcome?.kind === 'error' && !READS_ERRORS.has(run.step)) {
      const what = action?.type ?? 'loop';
      out.push(log('error', run.awaiting === 'store' ? 'store_unavailable' : 'pg_failed', `${what} failed: ${outcome.message}`, run.situation));
      next = 'stop';
    } else if (action === null && !run.step.startsWith('tail')) {
      next = { goto: 'tail' };
    } else {
      next = step({ d, p, now, out, data: run.data, action }, run.step, outcome);
    }
    outcome = null;
    const cur = d.run as Run;
    if (next === 'done') {
      const index = cur.index + 1;
      d.run = { ...cur, index, step: index < cur.actions.length ? 'begin' : 'tail', data: {}, awaiting: null };
    } else if (next === 'stop') {
      d.run = { ...cur, step: 'tail', data: {}, awaiting: null };
    } else if (next === 'end') {
      d.run = null;
      return;
    } else if ('exit' in next) {
      out.push({ type: 'exit', refused: next.exit });
      d.run = null;
      return;
    } else if ('goto' in next) {
      d.run = { ...cur, step: next.goto, data: next.data ?? cur.data, awaiting: null };
    } else {
      d.run = { ...cur, step: next.step, data: next.data ?? cur.data, awaiting: next.call.type };
      out.push(next.call);
      return;
    }
  }
}

function step(c: Ctx, name: string, o: Outcome | null): Next {
  if (name.startsWith('tail')) return tail(c, name, o);
  if (name.startsWith('demote:')) return demoteStep(c, name);
  if (name.startsWith('sync:')) return syncStep(c, name, o);
  if (name.startsWith('slots:')) return name === 'slots:begin' ? createSlots(c) : 'done';
  if (name.startsWith('fs:')) return failsafeRound(c, name, o);
  const a = c.action as AgentAction;
  if (name === 'rearmed') {
    if (!keeperAnswer(c, o)) return 'stop';
    return { goto: 'begin', data: { rearmed: true } };
  }
  if (name === 'begin' && c.data.rearmed !== true && mustRearm(c, a)) {
    c.out.push(log('info', 'fence_rearmed', `the lease of term ${(c.d.snapshot?.leader?.term ?? 0)} is held unfenced: arming the fence before the renew that clears it`));
    return holdLease(c, (c.d.snapshot?.leader?.term ?? 0), c.now, 'rearmed');
  }
  // A confirm is of a node already primary: nothing left to hold back.
  if (name === 'begin' && PROMOTING.has(a.type) && a.type !== 'confirm' && promised(c.d, c.now)) {
    const pr = c.d.promise;
    const why = pr !== null && c.now < pr.until ? `promised ${pr.holder} (term ${pr.term}) not to promote for ${seconds(pr.until - c.now)} more` : 'this agent just started in failsafe mode and cannot know what an earlier process promised';
    c.out.push(log('warn', 'failsafe_promised', `${a.type} held back: ${why}`));
    return 'stop';
  }
  if (name === 'begin' && a.type !== 'wait' && a.type !== 'renew' && c.data.rearmed !== true) {
    c.out.push({ type: 'log', level: 'info', reason: { code: a.reason.code, text: `${a.type}: ${a.reason.text}` }, situation: c.d.run?.situation });
  }
  switch (a.type) {
    case 'wait':
      return 'done';
    case 'operator':
      return operatorStep(c, a, name, o);
    case 'refuse':
      return { exit: a.reason };
    case 'stop':
      return name === 'begin' ? pgCall(c, 'stopping', { op: 'stop', mode: 'fast' }, 'stop:stopped') : 'done';
    case 'startStandby':
      return name === 'begin' ? pgCall(c, 'starting', { op: 'startStandby' }, 'startStandby:started') : 'done';
    case 'startPrimary':
      return startPrimary(c, name, o);
    case 'clone':
      return clone(c, a, name);
    case 'bootstrap':
      return bootstrap(c, name, o);
    case 'takeFirstLease':
      return takeFirstLease(c, name, o);
    case 'promote':
      return promote(c, a, name, o);
    case 'confirm':
      return confirm(c, a.term, name, o);
    case 'renew':
      return renew(c, a.term, name, o);
    case 'handover':
      return handover(c, a.term, name, o);
    case 'demote':
      return { goto: 'demote:begin', data: { mode: a.mode, after: 'done' } };
    case 'follow':
      return follow(c, a, name, o);
    case 'release':
      return release(c, a.term, name, o);
    case 'failsafe':
      return { goto: 'fs:begin', data: { after: 'stop' } };
  }
}

// ---- actions ---------------------------------------------------------------

function startPrimary(c: Ctx, name: string, o: Outcome | null): Next {
  switch (name) {
    case 'begin':
      return pgCall(c, 'starting', { op: 'start' }, 'startPrimary:started');
    case 'startPrimary:started':
      return { call: { type: 'readStatus' }, step: 'startPrimary:status' };
    case 'startPrimary:status':
      // Started read-only (a standby.signal): the next tick promotes it, under the promotion protocol.
      readStatus(c, o);
      return 'done';
    default:
      return 'done';
  }
}

function clone(c: Ctx, a: Extract<AgentAction, { type: 'clone' }>, name: string): Next {
  const snap = c.d.snapshot;
  switch (name) {
    case 'begin': {
      const from = snap?.members.find((m) => m.name === a.from);
      if (from === undefined) return 'stop';
      return pgCall(c, 'cloning', { op: 'clone', from: { name: from.name, connUrl: from.connUrl }, expectedSystemId: snap?.initialize?.systemId }, 'clone:cloned');
    }
    case 'clone:cloned':
      return pgCall(c, 'starting', { op: 'start' }, 'clone:started');
    default:
      return 'done';
  }
}

/** Wins (or resumes) the initialize race, then initdb, records the system identifier, starts the new primary. */
function bootstrap(c: Ctx, name: string, o: Outcome | null): Next {
  const { d, p } = c;
  const snap = d.snapshot;
  switch (name) {
    case 'begin': {
      const local = d.local;
      const hasFiles = local.hasFiles ?? !local.empty;
      if (hasFiles) {
        if (local.bootstrapMarker !== true) {
          c.out.push(log('error', 'bootstrap_foreign_files', 'bootstrap needs an empty data directory, but it holds files that no bootstrap of this node left (no bootstrap marker): leaving them untouched; move them away to bootstrap here'));
          return 'stop';
        }
        if (local.postmasterRunning ?? local.running) {
          c.out.push(log('error', 'bootstrap_postmaster_running', 'a postmaster runs in the data directory: not emptying it'));
          return 'stop';
        }
      }
      const init = snap?.initialize ?? null;
      if (init === null) return storeCall({ op: 'initialize', init: { initializedBy: p.name }, expectedVersion: null }, 'bootstrap:won', { wipe: hasFiles });
      if (init.initializedBy === p.name && init.systemId === undefined) return { goto: 'bootstrap:initdb', data: { wipe: hasFiles, version: init.version } };
      return 'stop';
    }
    case 'bootstrap:won':
      if (o?.kind !== 'written') {
        c.out.push(log('info', 'initialize_lost', `${String(o?.kind === 'lost' ? o.current?.initializedBy : 'another member')} won the initialize race: will clone`));
        return 'stop';
      }
      return { goto: 'bootstrap:initdb', data: { ...c.data, version: o.item.version } };
    case 'bootstrap:initdb':
      c.out.push(log('info', 'initdb', 'won the initialize race: initdb'));
      return pgCall(c, 'initializing', { op: 'prepareBootstrap', wipe: c.data.wipe === true }, 'bootstrap:prepared');
    case 'bootstrap:prepared':
      return { call: { type: 'pg', op: { op: 'initdb' } }, step: 'bootstrap:initialized' };
    case 'bootstrap:initialized':
      return { call: { type: 'pg', op: { op: 'controldata' } }, step: 'bootstrap:control' };
    case 'bootstrap:control':
      if (o?.kind !== 'control') return 'stop';
      return storeCall({ op: 'initialize', init: { initializedBy: p.name, systemId: o.systemId }, expectedVersion: c.data.version ?? null }, 'bootstrap:recorded');
    case 'bootstrap:recorded':
      if (o?.kind !== 'written') return 'stop';
      return { call: { type: 'pg', op: { op: 'clearBootstrapMarker' } }, step: 'bootstrap:cleared' };
    case 'bootstrap:cleared':
      if (snap?.config === null || snap?.config === undefined) return storeCall({ op: 'putConfig', config: d.config }, 'bootstrap:configured');
      return { goto: 'bootstrap:configured' };
    case 'bootstrap:configured':
      return pgCall(c, 'starting', { op: 'start' }, 'bootstrap:started');
    case 'bootstrap:started':
      return { call: { type: 'pg', op: { op: 'ensureReplicationRole' } }, step: 'bootstrap:roled' };
    default:
      return 'done';
  }
}

function takeFirstLease(c: Ctx, name: string, o: Outcome | null): Next {
  switch (name) {
    case 'begin':
      return { call: { type: 'readStatus' }, step: 'tfl:status' };
    case 'tfl:status': {
      const status = readStatus(c, o);
      const grant = { holder: c.p.name, expected: null, previous: null, lastLsn: status?.currentLsn ?? 0, timeline: status?.timeline ?? 1, reason: `bootstrap by ${c.p.name}`, kind: 'bootstrap' as const };
      return storeCall({ op: 'grantFirst', grant }, 'tfl:granted', { sent: c.now });
    }
    case 'tfl:granted':
      if (o?.kind !== 'written') return 'stop';
      return holdLease(c, o.item.term ?? 1, c.data.sent ?? c.now, 'tfl:armed');
    default:
      keeperAnswer(c, o);
      return 'done';
  }
}

function promote(c: Ctx, a: Extract<AgentAction, { type: 'promote' }>, name: string, o: Outcome | null): Next {
  const { d } = c;
  const leader = d.snapshot?.leader;
  switch (name) {
    case 'begin':
      return { call: { type: 'readStatus' }, step: 'promote:before' };
    case 'promote:before': {
      // The lease first, by CAS on holder and term (a renew keeps a grant's phase): a grant that cannot be
      // taken so is void for this node.
      const before = readStatus(c, o);
      const w = { holder: c.p.name, term: a.term, lastLsn: walPosition(before) ?? leader?.lastLsn ?? 0, timeline: before?.timeline ?? leader?.timeline ?? 1 };
      return storeCall({ op: 'renew', w }, 'promote:renewed', { w, sent: c.now });
    }
    case 'promote:renewed':
      if (o?.kind !== 'written') {
        const cur = o?.kind === 'lost' ? o.current : null;
        c.out.push(log('warn', 'grant_void', `cannot take term ${a.term}: the lease is ${cur === null ? 'gone' : `${String(cur.holder)}'s, term ${String(cur.term)}`}; not promoting`));
        return 'stop';
      }
      return holdLease(c, a.term, c.data.sent ?? c.now, 'promote:armed');
    case 'promote:armed':
      // Only once the keeper holds the deadline may PostgreSQL take writes.
      if (!keeperAnswer(c, o)) return 'stop';
      // The operator's pre_promote runs inside the lease just taken, so its answer is about this grant.
      if (c.p.prePromote === true) return { call: { type: 'hook', name: 'pre_promote' }, step: 'promote:hooked' };
      return { goto: 'promote:hooked' };
    case 'promote:hooked': {
      const veto = o === null ? null : o.kind === 'hook' ? (o.ok ? null : o.message) : o.kind === 'error' ? o.message : null;
      // The script may have run past the lease: a promotion then would only meet the fence.
      const late = veto === null && o !== null && (d.fenceAt === null || c.now >= d.fenceAt) ? 'it ran past the lease deadline' : null;
      const why = veto ?? late;
      if (why !== null) {
        d.vetoedUntil = c.now + 3 * d.config.ttl * 1000;
        c.out.push(log('warn', 'pre_promote_vetoed', `pre_promote vetoed the promotion of term ${a.term} (${why}): releasing the grant so the arbiter chooses again`));
        // The item says vetoed before the grant is released: an arbiter that reads the release reads the veto too.
        return { call: heartbeat(d, c.p.name, c.now), step: 'promote:vetoBeat' };
      }
      if (d.config.synchronousMode) {
        // No commit is acknowledged before a standby has it: from the first write on.
        return { call: { type: 'pg', op: { op: 'setSync', spec: ANY_STANDBY } }, step: 'promote:syncSet' };
      }
      return { goto: 'promote:promote' };
    }
    case 'promote:vetoBeat': {
      onHeartbeatDone(d, c.p, o, c.out);
      const w = c.data.w ?? { holder: c.p.name, term: a.term, lastLsn: leader?.lastLsn ?? 0, timeline: 1 };
      return storeCall({ op: 'release', w: { holder: w.holder, term: w.term, lastLsn: w.lastLsn } }, 'promote:vetoReleased');
    }
    case 'promote:vetoReleased':
      // Not promoted: no lease to hold, released or not (an unreleased grant expires; the fence has nothing to stop).
      d.fenceAt = null;
      c.out.push({ type: 'fenceTimer', at: null });
      d.lease = { term: null, sentAt: null };
      if (o?.kind !== 'written') c.out.push(log('warn', 'pre_promote_vetoed', `the vetoed grant of term ${a.term} was not released (${o?.kind === 'error' ? o.message : 'lost the race'}): it expires`));
      return 'stop';
    case 'promote:syncSet':
      d.syncPending = true;
      return { goto: 'promote:promote' };
    case 'promote:promote':
      if (promised(d, c.now)) {
        c.out.push(log('warn', 'failsafe_promised', `promotion held back: promised ${d.promise?.holder} not to promote`));
        return 'stop';
      }
      return { call: { type: 'pg', op: { op: 'promote' } }, step: 'promote:promoted' };
    case 'promote:promoted':
      c.out.push(log('info', 'promoted', `promoted in ${o?.kind === 'promoted' ? o.durationMs.toFixed(0) : '?'} ms`));
      if (a.via === 'confirm') return { call: { type: 'readStatus' }, step: 'promote:after' };
      return { goto: 'slots:begin' };
    case 'promote:after': {
      const after = readStatus(c, o);
      const w = c.data.w ?? { holder: c.p.name, term: a.term, lastLsn: 0, timeline: 1 };
      return storeCall({ op: 'confirm', w: { ...w, lastLsn: walPosition(after) ?? w.lastLsn, timeline: after?.timeline ?? w.timeline } }, 'promote:confirmed', { ...c.data, sent: c.now });
    }
    case 'promote:confirmed':
      if (o?.kind === 'written') return holdLease(c, a.term, c.data.sent ?? c.now, 'promote:confirmArmed');
      c.out.push(log('warn', 'confirm_lost', `the confirm of term ${a.term} lost the race: the next loop re-plans`));
      return { goto: 'slots:begin' };
    case 'promote:confirmArmed':
      keeperAnswer(c, o);
      return { goto: 'slots:begin' };
    default:
      return 'done';
  }
}

function confirm(c: Ctx, term: number, name: string, o: Outcome | null): Next {
  switch (name) {
    case 'begin':
      return { call: { type: 'readStatus' }, step: 'confirm:status' };
    case 'confirm:status': {
      const status = readStatus(c, o);
      return storeCall({ op: 'confirm', w: { holder: c.p.name, term, lastLsn: status?.currentLsn ?? 0, timeline: status?.timeline ?? 1 } }, 'confirm:confirmed', { sent: c.now });
    }
    case 'confirm:confirmed':
      if (o?.kind !== 'written') return 'stop';
      return holdLease(c, term, c.data.sent ?? c.now, 'confirm:armed');
    case 'confirm:armed':
      keeperAnswer(c, o);
      return { goto: 'slots:begin' };
    default:
      return 'done';
  }
}

function renew(c: Ctx, term: number, name: string, o: Outcome | null): Next {
  const { d } = c;
  const leader = d.snapshot?.leader;
  switch (name) {
    case 'begin':
      return d.local.running ? { call: { type: 'readStatus' }, step: 'renew:status' } : { goto: 'renew:status' };
    case 'renew:status': {
      const status = o === null ? null : readStatus(c, o);
      const set = d.config.failsafeMode ? failsafeSetOf(c) : undefined;
      if (set !== undefined) d.failsafe = sending(d.failsafe, term, set);
      const unfenced = rendersUnfenced(d);
      const w = {
        holder: c.p.name,
        term,
        lastLsn: status?.currentLsn ?? leader?.lastLsn ?? 0,
        timeline: status?.timeline ?? leader?.timeline ?? 1,
        ...(set !== undefined ? { failsafe: set } : {}),
        ...(unfenced ? { unfenced: true } : {}),
      };
      return storeCall({ op: 'renew', w }, 'renew:renewed', { sent: c.now, ...(set !== undefined ? { set } : {}), ...(unfenced ? { unfenced } : {}) });
    }
    case 'renew:renewed':
      if (o?.kind === 'error') {
        c.out.push(log('error', 'store_unavailable', `renew failed: ${o.message}`, d.run?.situation));
        // The store out of reach mid-loop: the promises are gathered now, while the lease still runs.
        if (failsafeReady(d) && d.local.running && d.local.inRecovery === false) return { goto: 'fs:begin', data: { after: 'stop' } };
        return 'stop';
      }
      if (o?.kind === 'written' && c.data.set !== undefined) d.failsafe = { term, acked: c.data.set, pending: [] };
      if (o?.kind !== 'written') {
        c.out.push(log('warn', 'lease_lost', `lease lost (term ${term}): demoting at once`));
        return { goto: 'demote:begin', data: { mode: 'immediate', after: 'stop' } };
      }
      if (c.data.unfenced === true) return unfence(c, term, c.data.sent ?? c.now);
      return holdLease(c, term, c.data.sent ?? c.now, 'renew:armed');
    case 'renew:unfenced':
      if (o?.kind === 'error') c.out.push(log('warn', 'keeper_disarm_failed', `${o.message}: the keeper still holds the lease's last deadline`));
      else if (o !== null) d.keeperArmed = false;
      return { goto: 'renew:armed' };
    case 'renew:armed':
      keeperAnswer(c, o);
      // Only a running primary has standbys to choose: a holder stopped by its handover renews and waits.
      if (!(d.local.running && d.local.inRecovery === false)) return 'done';
      if (d.config.synchronousMode || d.snapshot?.sync?.leader === c.p.name) return { goto: 'sync:begin', data: { after: 'done' } };
      return 'done';
    default:
      return 'done';
  }
}

function handover(c: Ctx, term: number, name: string, o: Outcome | null): Next {
  const { d } = c;
  const leader = d.snapshot?.leader;
  switch (name) {
    case 'begin': {
      // A fresh lease first: the handover runs inside it, never past it.
      const w = { holder: c.p.name, term, lastLsn: walPosition(d.status) ?? leader?.lastLsn ?? 0, timeline: d.status?.timeline ?? leader?.timeline ?? 1 };
      return storeCall({ op: 'renew', w }, 'handover:renewed', { sent: c.now });
    }
    case 'handover:renewed':
      if (o?.kind !== 'written') {
        c.out.push(log('warn', 'lease_lost', `lease lost (term ${term}) as the handover began: demoting at once`));
        return { goto: 'demote:begin', data: { mode: 'immediate', after: 'stop' } };
      }
      return holdLease(c, term, c.data.sent ?? c.now, 'handover:armed');
    case 'handover:armed':
      keeperAnswer(c, o);
      // A checkpoint while still serving leaves the shutdown checkpoint little to write: a shorter write gap.
      return { call: { type: 'pg', op: { op: 'checkpoint' } }, step: 'handover:checkpointed' };
    case 'handover:checkpointed':
      if (o?.kind === 'error') c.out.push(log('warn', 'checkpoint_failed', `checkpoint before handing over failed: ${o.message}`));
      d.demoting = true;
      return pgCall(c, 'demoting', { op: 'stop', mode: 'fast' }, 'handover:stopped');
    case 'handover:stopped':
      return { call: { type: 'pg', op: { op: 'controldata' } }, step: 'handover:control' };
    case 'handover:control':
      // Only a clean shutdown's checkpoint is the end of WAL: anything else must not be reported as the final LSN.
      if (o?.kind !== 'control' || o.clusterState !== 'shut down') {
        c.out.push(log('warn', 'handover_unclean', `PostgreSQL did not shut down cleanly (${o?.kind === 'control' ? o.clusterState : 'unknown'}): no final LSN to report; the arbiter will judge the lease`));
        return 'stop';
      }
      return storeCall({ op: 'completeHandover', w: { holder: c.p.name, term, finalLsn: o.checkpointLsn } }, 'handover:completed');
    default:
      return o?.kind === 'written' ? 'done' : 'stop';
  }
}

function follow(c: Ctx, a: Extract<AgentAction, { type: 'follow' }>, name: string, o: Outcome | null): Next {
  const { d } = c;
  const snap = d.snapshot;
  const leader = snap?.members.find((m) => m.name === a.leader);
  if (leader === undefined) return 'stop';
  const from = { name: leader.name, connUrl: leader.connUrl };
  switch (name) {
    case 'begin':
      // A follower holds no lease: no fence timer may stop it later.
      d.fenceAt = null;
      c.out.push({ type: 'fenceTimer', at: null });
      d.lease = { term: null, sentAt: null };
      if (d.local.running && d.local.inRecovery === true && !a.rewind) {
        return { call: { type: 'pg', op: { op: 'follow', from, expectedSystemId: snap?.initialize?.systemId } }, step: 'follow:done' };
      }
      if (d.local.running) return { goto: 'demote:begin', data: { mode: 'fast', after: 'follow:restart' } };
      return { goto: 'follow:restart' };
    case 'follow:restart':
      if (a.rewind) return pgCall(c, 'rewinding', { op: 'rewind', from }, 'follow:rewound');
      return { call: { type: 'pg', op: { op: 'follow', from, expectedSystemId: snap?.initialize?.systemId } }, step: 'follow:start' };
    case 'follow:rewound':
      if (o?.kind === 'error') return rewindFailure(c, a.leader, o.message, from);
      d.rewindFailed = null;
      c.out.push(log('info', 'rewound', `pg_rewind ${o?.kind === 'rewound' && o.rewound ? 'rewound' : 'found nothing to rewind'} in ${o?.kind === 'rewound' ? o.durationMs.toFixed(0) : '?'} ms`));
      return { goto: 'follow:start' };
    case 'follow:reinited':
      if (o?.kind === 'error') {
        c.out.push(log('error', 'rewind_failed', `re-creating this node from ${a.leader} after a failed pg_rewind failed too: ${o.message}`));
        return 'stop';
      }
      d.rewindFailed = null;
      c.out.push(log('info', 'operator_done', `re-created from ${a.leader} after a failed pg_rewind`));
      return 'done';
    case 'follow:start':
      return pgCall(c, 'starting', { op: 'start' }, 'follow:done');
    default:
      return 'done';
  }
}

/** Attempts of pg_rewind against one leader term before the node stops trying. */
export const REWIND_ATTEMPTS = 3;

function rewindGaveUp(d: Draft): boolean {
  const f = d.rewindFailed;
  const l = d.snapshot?.leader;
  return f !== null && f.failures >= REWIND_ATTEMPTS && l !== null && l !== undefined && l.holder === f.leader && l.term === f.term;
}

/**
 * pg_rewind failed: a transient cause (the leader briefly unreachable) gets
 * REWIND_ATTEMPTS tries; then, with remove_data_directory_on_rewind_failure,
 * the node is re-created from the leader (a reinit checks the leader's
 * system first), else it is marked, reported and left for an operator.
 */
function rewindFailure(c: Ctx, leader: string, message: string, from: { name: string; connUrl: string }): Next {
  const { d, p } = c;
  const term = d.snapshot?.leader?.term ?? 0;
  const prev = d.rewindFailed;
  const failures = prev !== null && prev.leader === leader && prev.term === term ? prev.failures + 1 : 1;
  d.rewindFailed = { leader, term, failures, message };
  if (failures < REWIND_ATTEMPTS) {
    c.out.push(log('warn', 'rewind_failed', `pg_rewind from ${leader} failed (attempt ${failures} of ${REWIND_ATTEMPTS}): ${message}`));
    return 'stop';
  }
  if (p.reinitOnRewindFailure === true) {
    c.out.push(log('warn', 'rewind_failed', `pg_rewind from ${leader} failed ${failures} times (${message}): remove_data_directory_on_rewind_failure is set, re-creating this node from ${leader}`));
    return pgCall(c, 'cloning', { op: 'reinit', from, expectedSystemId: d.snapshot?.initialize?.systemId }, 'follow:reinited');
  }
  c.out.push(
    log(
      'error',
      'rewind_failed',
      `pg_rewind from ${leader} failed ${failures} times (${message}): not tried again for term ${term}; pgfloat reinit ${p.name} re-creates this node from the leader, or set postgresql.remove_data_directory_on_rewind_failure`,
    ),
  );
  return 'stop';
}

function release(c: Ctx, term: number, name: string, o: Outcome | null): Next {
  const { d } = c;
  if (name === 'begin') return storeCall({ op: 'release', w: { holder: c.p.name, term, lastLsn: d.snapshot?.leader?.lastLsn ?? 0 } }, 'release:released');
  d.fenceAt = null;
  c.out.push({ type: 'fenceTimer', at: null });
  d.lease = { term: null, sentAt: null };
  return o?.kind === 'written' ? 'done' : 'stop';
}

// ---- sub-procedures ----------------------------------------------------------

/** Stops taking writes: 503 on /primary first, then PostgreSQL stops. The keeper keeps its deadline until a later loop sees PostgreSQL not writable. */
function demoteStep(c: Ctx, name: string): Next {
  const { d } = c;
  if (name === 'demote:begin') {
    d.demoting = true;
    d.lease = { term: null, sentAt: null };
    return pgCall(c, 'demoting', { op: 'stop', mode: c.data.mode ?? 'fast' }, 'demote:stopped');
  }
  d.fenceAt = null;
  c.out.push({ type: 'fenceTimer', at: null });
  d.phase = 'stopped';
  return continueWith(c.data.after);
}

/** Keeps synchronous_standby_names and the sync item consistent (agent-sync.ts). */
function syncStep(c: Ctx, name: string, o: Outcome | null): Next {
  const { d, p } = c;
  const snap = d.snapshot;
  const term = d.lease.term ?? snap?.leader?.term ?? 0;
  switch (name) {
    case 'sync:begin':
      if (snap === null) return continueWith(c.data.after);
      if (d.config.synchronousMode) return { call: { type: 'pg', op: { op: 'replication' } }, step: 'sync:rows' };
      return { goto: 'sync:rows' };
    case 'sync:rows': {
      if (snap === null) return continueWith(c.data.after);
      const plan = resolveSync({ name: p.name, term, config: d.config, snapshot: snap, replication: o?.kind === 'replication' ? o.rows : null });
      return { goto: 'sync:next', data: { ...c.data, sync: { steps: plan.steps, i: 0, pendingAfter: plan.pendingAfter } } };
    }
    case 'sync:next': {
      const sync = c.data.sync;
      if (sync === undefined) return continueWith(c.data.after);
      const s = sync.steps[sync.i];
      if (s === undefined) {
        d.syncPending = sync.pendingAfter;
        return continueWith(c.data.after);
      }
      const data = { ...c.data, sync: { ...sync, i: sync.i + 1 } };
      if (s.kind === 'pg') return { call: { type: 'pg', op: { op: 'setSync', spec: s.spec } }, step: 'sync:next', data };
      return { call: { type: 'store', op: { op: 'putSync', state: s.state, expectedVersion: s.expectedVersion } }, step: 'sync:stored', data };
    }
    case 'sync:stored': {
      const sync = c.data.sync;
      const s = sync?.steps[sync.i - 1];
      if (o?.kind === 'lost' && s?.kind === 'store') {
        if (s.onLost === 'stop') return continueWith(c.data.after);
        if (s.onLost === 'pending') {
          d.syncPending = true;
          return continueWith(c.data.after);
        }
      }
      return { goto: 'sync:next' };
    }
    default:
      return continueWith(c.data.after);
  }
}

/**
 * failsafe_mode, the primary's side: one round of calls to every member the
 * store may name in this term's failsafe set. Only a round in which all
 * promised, answered before the current deadline, extends the lease, counted
 * from the round's send time.
 */
function failsafeRound(c: Ctx, name: string, o: Outcome | null): Next {
  const { d, p } = c;
  const term = d.lease.term;
  switch (name) {
    case 'fs:begin': {
      if (term === null) return continueWith(c.data.after);
      const names = [...new Set([...(d.failsafe.acked ?? []), ...d.failsafe.pending])].filter((n) => n !== p.name).sort();
      const targets: FailsafeTarget[] = names.map((n) => ({ name: n, apiUrl: d.known?.members.find((m) => m.name === n)?.apiUrl ?? '' }));
      return { call: { type: 'failsafe', holder: p.name, term, durationMs: d.config.ttl * 1000, targets }, step: 'fs:answered', data: { ...c.data, sent: c.now, set: names } };
    }
    case 'fs:answered': {
      const asked = c.data.set ?? [];
      const answers = o?.kind === 'failsafe' ? o.answers : {};
      const missing = asked.filter((n) => answers[n] !== 'ok');
      const sent = c.data.sent ?? c.now;
      if (term === null || d.fenceAt === null || c.now >= d.fenceAt || missing.length > 0) {
        const why = missing.length > 0 ? missing.map((n) => `${n} ${answers[n] ?? 'unreachable'}`).join(', ') : 'the answers came after the lease ran out';
        c.out.push(log('warn', 'failsafe_incomplete', `failsafe: not every member promised (${why}): the lease is not extended`));
        return continueWith(c.data.after);
      }
      if (!d.failsafeActive) c.out.push(log('warn', 'failsafe_active', `failsafe mode active: the store is out of reach and ${asked.length === 0 ? 'no other member can be granted' : `${asked.join(', ')} promised not to promote`}; staying primary`));
      d.failsafeActive = true;
      return holdLease(c, term, sent, 'fs:armed');
    }
    default:
      keeperAnswer(c, o);
      return continueWith(c.data.after);
  }
}

/** The members a renew names in the failsafe set: those alive (a new item version within ttl), not tagged nofailover. */
function failsafeSetOf(c: Ctx): readonly string[] {
  const { d, p } = c;
  const ttlMs = d.config.ttl * 1000;
  return (d.snapshot?.members ?? [])
    .filter((m) => m.name !== p.name && !m.tags.nofailover && c.now - (d.membersSeen[m.name]?.at ?? -Infinity) < ttlMs)
    .map((m) => m.name)
    .sort();
}

/** A renew carrying `set` is about to be sent: until answered, the store may hold it. */
function sending(f: FailsafeSet, term: number, set: readonly string[]): FailsafeSet {
  if (f.term !== term) return { term, acked: null, pending: [...set] };
  return { term, acked: f.acked, pending: [...new Set([...f.pending, ...set])] };
}

function createSlots(c: Ctx): Next {
  const members = (c.d.snapshot?.members ?? []).filter((m) => m.name !== c.p.name).map((m) => m.name);
  return { call: { type: 'pg', op: { op: 'createSlots', members } }, step: 'slots:done' };
}

/** After the actions: disarm an idle keeper, heartbeat, sleep (or exit). */
function tail(c: Ctx, name: string, o: Outcome | null): Next {
  const { d, p } = c;
  switch (name) {
    case 'tail':
      // The keeper is disarmed only once no lease is held and PostgreSQL is seen not writable.
      if (p.keeper && d.keeperArmed && d.lease.term === null) return { call: { type: 'pg', op: { op: 'isRunning' } }, step: 'tail:probed' };
      return { goto: 'tail:heartbeat' };
    case 'tail:probed': {
      const running = o?.kind === 'running' ? o.running : true;
      const notWritable = !running || (d.local.running && d.local.inRecovery === true);
      if (o?.kind === 'running' && notWritable) return { call: { type: 'keeper', op: 'disarm' }, step: 'tail:disarmed' };
      return { goto: 'tail:heartbeat' };
    }
    case 'tail:disarmed':
      if (o?.kind === 'error') c.out.push(log('warn', 'keeper_disarm_failed', o.message));
      else d.keeperArmed = false;
      return { goto: 'tail:heartbeat' };
    case 'tail:heartbeat':
      if (!d.shuttingDown && (d.snapshot === null || d.run?.storeFailed === true)) return { goto: 'tail:sleep' };
      // The last heartbeat of a shutdown is waited for; any other runs beside the sleep and the next read,
      // so a slow store costs the loop one read and its writes, not a heartbeat more.
      if (d.shuttingDown) return { call: heartbeat(d, p.name, c.now), step: 'tail:beat' };
      c.out.push({ ...heartbeat(d, p.name, c.now), detached: true });
      return { goto: 'tail:sleep' };
    case 'tail:beat':
      onHeartbeatDone(d, p, o, c.out);
      return { exit: null };
    default:
      c.out.push({ type: 'sleep', ms: nextDelayMs(d, p, c.now) });
      return 'end';
  }
}

// ---- helpers -----------------------------------------------------------------

function continueWith(after: string | undefined): Next {
  if (after === undefined || after === 'done') return 'done';
  if (after === 'stop') return 'stop';
  return { goto: after };
}

function pgCall(c: Ctx, phase: AgentState['phase'], op: Extract<Effect, { type: 'pg' }>['op'], next: string): Next {
  c.d.phase = phase;
  return { call: { type: 'pg', op }, step: next };
}

function storeCall(op: StoreOp, next: string, data?: StepData): Next {
  return { call: { type: 'store', op }, step: next, ...(data !== undefined ? { data } : {}) };
}

/**
 * Holds the lease counted from `sentAt`: the in-process timer, and the fence
 * keeper (outside this process) armed with the same deadline.
 */
function holdLease(c: Ctx, term: number, sentAt: number, next: string): Next {
  const { d, p } = c;
  d.lease = { term, sentAt };
  d.demoting = false;
  d.fenceOff = false;
  const deadline = sentAt + d.config.ttl * 1000 - p.safetyMarginMs;
  d.fenceAt = deadline;
  c.out.push({ type: 'fenceTimer', at: deadline });
  if (!p.keeper) return { goto: next, data: c.data };
  return { call: { type: 'keeper', op: 'arm', deadline }, step: next, data: c.data };
}

/**
 * A renew that said unfenced landed: the store now refuses every automatic
 * grant over this lease, so the in-process timer and the keeper go off.
 */
function unfence(c: Ctx, term: number, sentAt: number): Next {
  const { d, p } = c;
  d.lease = { term, sentAt };
  d.demoting = false;
  d.fenceAt = null;
  if (!d.fenceOff) c.out.push(log('info', 'fence_off', `paused: the lease of term ${term} is held unfenced; PostgreSQL is left as it is`), { type: 'fenceTimer', at: null });
  d.fenceOff = true;
  if (p.keeper && d.keeperArmed) return { call: { type: 'keeper', op: 'disarm' }, step: 'renew:unfenced', data: c.data };
  return { goto: 'renew:armed', data: c.data };
}

/** A renew now says unfenced: paused, and the lease is active (a handover keeps its fence). */
function rendersUnfenced(d: Draft): boolean {
  return d.config.paused && d.snapshot?.leader?.phase === 'active';
}

const RENEWING = new Set<AgentAction['type']>(['renew', 'promote', 'handover']);

/**
 * The store holds this node's lease as unfenced and the coming write will
 * clear it: the fence must hold a deadline first. Arming from now is safe
 * only because no grant can happen until the clearing renew lands, and that
 * renew is sent after now.
 */
function mustRearm(c: Ctx, a: AgentAction): boolean {
  const l = c.d.snapshot?.leader;
  if (!RENEWING.has(a.type) || l === null || l === undefined || l.holder !== c.p.name || l.unfenced !== true) return false;
  return !(a.type === 'renew' && rendersUnfenced(c.d));
}

function operatorDone(id: number, ok: boolean, reason: Reason): Effect {
  return { type: 'operatorDone', id, ok, reason };
}

function operatorRunning(d: Draft): boolean {
  const run = d.run;
  return run !== null && !run.step.startsWith('tail') && run.actions.slice(0, run.index + 1).some((a) => a.type === 'operator');
}

/** Situations in which an operator's restart may run: the node is where it should be. */
const RESTART_WHEN = new Set<SituationCode>(['holder', 'paused_holder', 'replica_of_the_leader', 'paused', 'no_leader']);
/** ... and a reinit: any node that is not the holder, with a serving leader to copy. */
const REINIT_NOT_WHEN = new Set<SituationCode>(['shutting_down', 'shutting_down_while_holding_the_lease', 'paused_shutting_down', 'data_of_another_cluster']);

/** The operator's request as this loop's last action, or its refusal now (and why). */
function planOperator(d: Draft, p: AgentParams, code: SituationCode, blind: boolean, out: Effect[]): AgentAction[] {
  const req = d.operator;
  if (req === null) return [];
  const refuse = (why: string): AgentAction[] => {
    out.push(operatorDone(req.id, false, r('operator_refused', `${req.op} refused: ${why}`)));
    d.operator = null;
    return [];
  };
  const snap = blind ? null : d.snapshot;
  if (snap === null) return refuse('the store cannot be read now');
  const l = snap.leader;
  const mine = l !== null && l.holder === p.name && l.phase !== 'released';
  if (req.op === 'restart') {
    if (!d.local.running) return refuse('PostgreSQL is not running (the agent starts it when it should run)');
    if (!RESTART_WHEN.has(code)) return refuse(`the node is not steady (${code})`);
    return [{ type: 'operator', id: req.id, op: 'restart', reason: r('operator_restart', mine ? 'restart the primary inside the lease just renewed' : 'restart PostgreSQL') }];
  }
  if (mine) return refuse('this node holds the lease: switch over first');
  if (l === null || (l.phase !== 'active' && l.phase !== 'handover' && l.phase !== 'demoted') || !snap.members.some((m) => m.name === l.holder)) return refuse('no serving leader to copy from');
  if (REINIT_NOT_WHEN.has(code)) return refuse(`the node is not steady (${code})`);
  return [{ type: 'operator', id: req.id, op: 'reinit', reason: r('operator_reinit', `re-create this node from ${l.holder}`) }];
}

function operatorStep(c: Ctx, a: Extract<AgentAction, { type: 'operator' }>, name: string, o: Outcome | null): Next {
  const { d } = c;
  if (name === 'begin') {
    c.out.push({ type: 'operatorBegun', id: a.id });
    if (a.op === 'restart') {
      d.demoting = d.local.running && d.local.inRecovery === false;
      return pgCall(c, 'stopping', { op: 'restart' }, 'operator:done');
    }
    const leader = d.snapshot?.leader?.holder;
    const m = d.snapshot?.members.find((x) => x.name === leader);
    if (m === undefined) {
      c.out.push(operatorDone(a.id, false, r('operator_refused', 'reinit refused: the leader is gone')));
      d.operator = null;
      return 'stop';
    }
    return pgCall(c, 'cloning', { op: 'reinit', from: { name: m.name, connUrl: m.connUrl }, expectedSystemId: d.snapshot?.initialize?.systemId }, 'operator:done');
  }
  d.operator = null;
  d.demoting = false;
  // Both end with a running server (a restart as it was, a reinit as a standby); a failure leaves it to the next reading.
  if (o?.kind !== 'error') d.phase = 'running';
  if (o?.kind === 'error') {
    c.out.push(log('error', 'operator_failed', `${a.op} failed: ${o.message}`), operatorDone(a.id, false, r('operator_failed', `${a.op} failed: ${o.message}`)));
    return 'stop';
  }
  if (a.op === 'reinit') d.rewindFailed = null;
  c.out.push(log('info', 'operator_done', `${a.op} done`), operatorDone(a.id, true, r('operator_done', a.op === 'restart' ? 'restarted successfully' : 'reinitialized from the leader')));
  return 'done';
}

/** True when the keeper holds the deadline (or none is configured). */
function keeperAnswer(c: Ctx, o: Outcome | null): boolean {
  if (o === null) return true;
  if (o.kind === 'error') {
    c.out.push(log('error', 'keeper_unarmed', `${o.message}: the lease of term ${c.d.lease.term} is held by this process alone`));
    return false;
  }
  c.d.keeperArmed = true;
  return true;
}

function readStatus(c: Ctx, o: Outcome | null): PgReading | null {
  const status = o?.kind === 'status' ? sticky(c.d, o.status) : null;
  c.d.status = status;
  return status;
}

/**
 * A running server's timeline never goes back. A replica whose WAL receiver
 * stopped reports only its control file's timeline, which may be older than
 * the one it replays: keep the highest seen since this postmaster started.
 */
function sticky(d: Draft, status: PgReading | null): PgReading | null {
  if (status === null) return null;
  const started = status.postmasterStartedAt;
  const seen = d.seenTimeline === null || d.seenTimeline.started !== started ? { started, timeline: status.timeline } : d.seenTimeline;
  d.seenTimeline = { started, timeline: Math.max(seen.timeline, status.timeline) };
  return { ...status, timeline: d.seenTimeline.timeline };
}

/** How long the WAL receiver has not streamed while this replica's timeline is behind the leader's. */
function receiverStuck(d: Draft, status: PgReading | null, now: number): number {
  const leader = d.snapshot?.leader ?? null;
  const behind = status !== null && status.inRecovery && leader !== null && status.timeline < leader.timeline && !status.receiverStreaming;
  if (!behind) {
    d.stuckSince = null;
    return 0;
  }
  d.stuckSince ??= now;
  return now - d.stuckSince;
}

/** This server's WAL position: written (primary) or received/replayed (standby). */
export function walPosition(s: PgReading | null): number | null {
  if (s === null) return null;
  return s.inRecovery ? Math.max(s.receivedLsn ?? 0, s.replayedLsn ?? 0) : s.currentLsn;
}

function memberState(phase: LocalPhase): MemberStatus['state'] {
  return phase === 'uninitialized' ? 'stopped' : phase;
}

/**
 * The promise a heartbeat reports: the one given, or, for an agent that
 * started in failsafe mode less than the longest promise ago, the one an
 * earlier process may have given the current holder: the arbiter must not
 * grant to it either way.
 */
function reportedPromise(d: Draft, name: string, now: number): { holder: string; term: number } | null {
  if (d.promise !== null && now < d.promise.until) return { holder: d.promise.holder, term: d.promise.term };
  const l = d.known?.leader ?? null;
  if (l === null || l.phase === 'released' || l.holder === name || !promised(d, now)) return null;
  return { holder: l.holder, term: l.term };
}

function heartbeat(d: Draft, name: string, now: number): Extract<CallEffect, { type: 'heartbeat' }> {
  const s = d.status;
  const promise = reportedPromise(d, name, now);
  const fields: HeartbeatFields = {
    role: d.local.empty ? 'uninitialized' : d.local.running && d.local.inRecovery === false ? 'primary' : 'replica',
    state: memberState(d.phase),
    timeline: s?.timeline ?? 0,
    lsn: walPosition(s),
    replayLsn: s?.inRecovery ? (s.replayedLsn ?? null) : null,
    systemId: s?.systemId ?? d.local.systemId,
    ...(promise !== null ? { failsafe: promise } : {}),
    ...(rewindGaveUp(d) ? { rewindFailed: true } : {}),
    ...(d.vetoedUntil !== null && now < d.vetoedUntil ? { promotionVetoed: true } : {}),
  };
  // Its own item malformed: this member rewrites it, by the version it was stored with.
  const mine = d.snapshot?.members.find((m) => m.name === name)?.version;
  const own = d.snapshot?.malformed.find((m) => m.kind === 'member' && m.key === `member#${name}`)?.version;
  const read = mine ?? own ?? null;
  // A detached heartbeat may land after the read it follows: the higher version is the current one.
  const expected = read !== null && d.ownVersion !== null ? Math.max(read, d.ownVersion) : (read ?? d.ownVersion);
  return { type: 'heartbeat', fields, expectedVersion: expected };
}

/** A heartbeat's outcome: the version it wrote, or what went wrong. */
function onHeartbeatDone(d: Draft, p: AgentParams, o: Outcome | null, out: Effect[]): void {
  if (o?.kind === 'written') d.ownVersion = o.item.version;
  if (o?.kind === 'error') out.push(log('warn', 'heartbeat_failed', `heartbeat failed: ${o.message}`));
  if (o?.kind === 'lost') {
    // Removed, or rewritten by another writer: the next heartbeat goes by what the next read shows.
    d.ownVersion = null;
    if (o.current !== null && o.current.connUrl !== p.connUrl) {
      out.push(log('warn', 'heartbeat_conflict', `another member with this name heartbeats from ${String(o.current.connUrl)}`));
    }
  }
}

/**
 * Fast while the cluster is in transition; when all is settled, what is left
 * of loop_wait since the loop's read was sent (Patroni's nap time), so a slow
 * store stretches a loop without adding its own duration to the next one.
 */
export function nextDelayMs(s: AgentState, p: AgentParams, now: number): number {
  const loopWaitMs = s.config.loopWait * 1000;
  const fast = Math.min(p.fastPollMs, loopWaitMs);
  const l = s.snapshot?.leader ?? null;
  if (s.snapshot === null || l === null || l.phase !== 'active' || s.demoting || s.syncPending) return fast;
  if (l.holder !== p.name && s.leaderSeen !== null && now - s.leaderSeen.at > loopWaitMs * 1.5) return fast;
  const began = s.run?.startedAt ?? now;
  return Math.max(0, loopWaitMs - (now - began));
}

function log(level: 'info' | 'warn' | 'error', code: ReasonCode, text: string, situation?: string): Effect {
  return { type: 'log', level, reason: r(code, text), ...(situation !== undefined ? { situation } : {}) };
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
