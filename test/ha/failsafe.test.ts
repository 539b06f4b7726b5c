// failsafe_mode in the agent's step machine and the arbiter's eligibility:
// the primary's failsafe set and rounds, the member's promise, and the grant
// rules that keep a primary cut off from the store the only writable node.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { LocalState } from '../../lib/ha/agent.js';
import { agentStep, initialAgentState, type AgentParams, type AgentState, type Effect, type Outcome, type PgReading } from '../../lib/ha/agent-step.js';
import type { ClusterSnapshot } from '../../lib/dcs/store.js';
import { eligibility, eligibilityContext } from '../../lib/ha/eligibility.js';
import { config, leader, member, NOW, primary, snapshot } from './fixtures.js';
import { callKinds, runLoop, type Loop, type LoopTick, STEP_PARAMS } from './step-harness.js';
import { isCall } from '../../lib/ha/agent-effects.js';

const PARAMS: AgentParams = STEP_PARAMS;
const T0 = 100_000;
const TTL_MS = 10_000;
const replicaHere: LocalState = { empty: false, systemId: '7300000000000000001', running: true, inRecovery: true, following: 'b', wasPrimary: false };
const primaryHere: LocalState = { ...replicaHere, inRecovery: false, following: null, wasPrimary: true };
const standbyReading: PgReading = { inRecovery: true, timeline: 1, currentLsn: null, receivedLsn: 5000, replayedLsn: 5000, systemId: '7300000000000000001', postmasterStartedAt: 1, receiverStreaming: true };
const primaryReading: PgReading = { ...standbyReading, inRecovery: false, currentLsn: 6000, receivedLsn: null, replayedLsn: null };
const down: Outcome = { kind: 'error', message: 'store unavailable' };
const failsafeOn = config({ failsafeMode: true });

const holderSnap = (o: { leaderFailsafe?: string[]; members?: ReturnType<typeof member>[] } = {}): ClusterSnapshot =>
  snapshot({
    config: failsafeOn,
    leader: leader('b', { phase: 'active', term: 4, ...(o.leaderFailsafe ? { failsafe: o.leaderFailsafe } : {}) }),
    members: o.members ?? [member('a'), primary('b'), member('c')],
  });

/** A primary of term 4 whose last renew was sent at T0 and whose store holds the failsafe set {a, c}. */
function heldPrimary(extra: Partial<AgentState> = {}): AgentState {
  const snap = holderSnap({ leaderFailsafe: ['a', 'c'] });
  return {
    ...initialAgentState(failsafeOn.config),
    snapshot: snap,
    known: snap,
    startedAt: 0,
    lease: { term: 4, sentAt: T0 },
    fenceAt: T0 + TTL_MS - PARAMS.safetyMarginMs,
    keeperArmed: true,
    failsafe: { term: 4, acked: ['a', 'c'], pending: [] },
    ...extra,
  };
}

/** One loop from a tick at `now`: each call answered by the next outcome (then `ok`), `callMs` apart. */
const loop = (state: AgentState, tick: LoopTick, outcomes: Outcome[], callMs = 10): Loop => runLoop(PARAMS, state, tick, outcomes, callMs);
const kinds = callKinds;
const allOk = (...names: string[]): Outcome => ({ kind: 'failsafe', answers: Object.fromEntries(names.map((n) => [n, 'ok' as const])) });
const ask = (state: AgentState, o: { holder?: string; term?: number; durationMs?: number; now?: number } = {}) =>
  agentStep(state, { type: 'failsafeAsk', now: o.now ?? T0, holder: o.holder ?? 'b', term: o.term ?? 4, durationMs: o.durationMs ?? TTL_MS }, { ...PARAMS, name: 'a' });
const answerOf = (effects: readonly Effect[]) => effects.find((e): e is Extract<Effect, { type: 'failsafeAnswer' }> => e.type === 'failsafeAnswer');

describe('failsafe mode, the primary', () => {
  test('a renew carries the failsafe set: the live members but itself, none tagged nofailover', () => {
    // Prepare: c is tagged nofailover
    const snap = holderSnap({ members: [member('a'), primary('b'), member('c', { tags: { nofailover: true, failoverPriority: 1, nosync: false, noloadbalance: false } })] });
    const state = { ...initialAgentState(failsafeOn.config), lease: { term: 4, sentAt: T0 - 2000 } };
    // Act
    const l = loop(state, { now: T0, snapshot: snap, local: primaryHere, status: primaryReading }, [{ kind: 'status', status: primaryReading }, { kind: 'written', item: { version: 9, term: 4 } }]);
    // Assess
    const renew = l.calls.find((c) => c.type === 'store' && c.op.op === 'renew');
    assert.ok(renew?.type === 'store' && renew.op.op === 'renew');
    assert.deepEqual(renew.op.w.failsafe, ['a']);
    assert.deepEqual(l.state.failsafe, { term: 4, acked: ['a'], pending: [] });
  });

  test('a renew without failsafe mode carries no set', () => {
    const snap = snapshot({ config: config(), leader: leader('b', { phase: 'active', term: 4 }), members: [member('a'), primary('b')] });
    const l = loop({ ...initialAgentState(config().config), lease: { term: 4, sentAt: T0 - 2000 } }, { now: T0, snapshot: snap, local: primaryHere, status: primaryReading }, [{ kind: 'status', status: primaryReading }, { kind: 'written', item: { version: 9, term: 4 } }]);
    const renew = l.calls.find((c) => c.type === 'store');
    assert.ok(renew?.type === 'store' && renew.op.op === 'renew');
    assert.equal(renew.op.w.failsafe, undefined);
  });

  test('an unanswered renew leaves its set pending: the next round asks the union of both sets', () => {
    // Prepare: the store acknowledged {a, c}; now d joined and a renew naming {a, c, d} goes unanswered
    const snap = holderSnap({ leaderFailsafe: ['a', 'c'], members: [member('a'), primary('b'), member('c'), member('d')] });
    const state = heldPrimary({ snapshot: snap, known: snap });
    // Act: the renew fails, the round follows in the same loop
    const l = loop(state, { now: T0 + 2000, snapshot: snap, local: primaryHere, status: primaryReading }, [{ kind: 'status', status: primaryReading }, down, allOk('a', 'c', 'd')]);
    // Assess
    assert.deepEqual(kinds(l), ['readStatus', 'store:renew', 'failsafe', 'keeper:arm']);
    const round = l.calls.find((c) => c.type === 'failsafe');
    assert.ok(round?.type === 'failsafe');
    assert.deepEqual(round.targets.map((t) => t.name), ['a', 'c', 'd']);
    assert.equal(round.durationMs, TTL_MS);
  });

  test('the store out of reach: every member promises, and the lease is extended from the round send time', () => {
    // Prepare
    const state = heldPrimary();
    const sentAt = T0 + 4000;
    // Act
    const l = loop(state, { now: sentAt, snapshot: null, local: primaryHere, status: primaryReading }, [allOk('a', 'c')]);
    // Assess
    assert.deepEqual(kinds(l), ['failsafe', 'keeper:arm']);
    const arm = l.calls.find((c) => c.type === 'keeper');
    assert.ok(arm?.type === 'keeper' && arm.op === 'arm');
    assert.equal(arm.deadline, sentAt + TTL_MS - PARAMS.safetyMarginMs);
    assert.equal(l.state.failsafeActive, true);
    assert.deepEqual(l.state.lease, { term: 4, sentAt });
  });

  test('one member not promising: the lease is not extended, the old deadline stands', () => {
    const state = heldPrimary();
    const l = loop(state, { now: T0 + 4000, snapshot: null, local: primaryHere, status: primaryReading }, [{ kind: 'failsafe', answers: { a: 'ok', c: 'refused' } }]);
    assert.deepEqual(kinds(l), ['failsafe']);
    assert.equal(l.state.fenceAt, state.fenceAt);
    assert.equal(l.state.failsafeActive, false);
    assert.ok(l.effects.some((e) => e.type === 'log' && e.reason.code === 'failsafe_incomplete'));
  });

  test('answers that come back after the deadline extend nothing', () => {
    const state = heldPrimary();
    // The round is sent before the deadline (T0 + 9 s) and answered after it.
    const l = loop(state, { now: T0 + 8900, snapshot: null, local: primaryHere, status: primaryReading }, [allOk('a', 'c')], 200);
    assert.deepEqual(kinds(l), ['failsafe']);
    assert.equal(l.state.fenceAt, state.fenceAt);
  });

  test('no acknowledged failsafe set for this term: no round, the lease runs out as without failsafe', () => {
    const state = heldPrimary({ failsafe: { term: 3, acked: ['a', 'c'], pending: [] } });
    const l = loop(state, { now: T0 + 4000, snapshot: null, local: primaryHere, status: primaryReading }, []);
    assert.deepEqual(kinds(l), []);
  });

  test('the store reachable again: leasing resumes by renew, and failsafe ends', () => {
    const state = heldPrimary({ failsafeActive: true });
    const l = loop(state, { now: T0 + 4000, snapshot: holderSnap({ leaderFailsafe: ['a', 'c'] }), local: primaryHere, status: primaryReading }, [{ kind: 'status', status: primaryReading }, { kind: 'written', item: { version: 10, term: 4 } }]);
    assert.deepEqual(kinds(l).slice(0, 3), ['readStatus', 'store:renew', 'keeper:arm']);
    assert.equal(l.state.failsafeActive, false);
  });
});

describe('failsafe mode, the member', () => {
  const replica = (extra: Partial<AgentState> = {}): AgentState => {
    const snap = holderSnap({ leaderFailsafe: ['a', 'c'] });
    return { ...initialAgentState(failsafeOn.config), snapshot: snap, known: snap, startedAt: 0, local: { ...replicaHere, following: 'b' }, status: standbyReading, ...extra };
  };

  test('promises the holder it knows, and reports the promise in its heartbeat', () => {
    // Act
    const r = ask(replica());
    // Assess
    assert.equal(answerOf(r.effects)?.ok, true);
    assert.deepEqual(r.state.promise, { holder: 'b', term: 4, until: T0 + TTL_MS });
    const l = loop(r.state, { now: T0 + 100, snapshot: holderSnap({ leaderFailsafe: ['a', 'c'] }), local: replicaHere, status: standbyReading }, []);
    const beat = l.calls.find((c) => c.type === 'heartbeat');
    assert.ok(beat?.type === 'heartbeat');
    assert.deepEqual(beat.fields.failsafe, { holder: 'b', term: 4 });
  });

  const refusals: [string, AgentState, Parameters<typeof ask>[1]][] = [
    ['failsafe_mode off', replica({ config: config().config }), {}],
    ['a caller that is no member', replica(), { holder: 'zz' }],
    ['a caller of a term older than the one known', replica(), { term: 3 }],
    ['a caller not the holder of its term', replica(), { holder: 'c' }],
    ['a promise longer than 2 x ttl', replica(), { durationMs: 2 * TTL_MS + 1 }],
    ['a member holding a lease', replica({ lease: { term: 5, sentAt: T0 } }), {}],
    ['a member running as a primary', replica({ local: primaryHere, status: primaryReading }), {}],
  ];
  for (const [why, state, o] of refusals) {
    test(`refuses: ${why}, and promises nothing`, () => {
      const r = ask(state, o);
      assert.equal(answerOf(r.effects)?.ok, false);
      assert.equal(r.state.promise, null);
    });
  }

  test('refuses while this loop is on its way to promote', () => {
    // Prepare: a granted member mid-promotion, its renew in flight
    const grant = snapshot({ config: failsafeOn, leader: leader('a', { phase: 'granted', term: 5 }), members: [member('a'), primary('b')] });
    const params = { ...PARAMS, name: 'a' };
    const first = agentStep({ ...initialAgentState(failsafeOn.config), startedAt: 0 }, { type: 'tick', now: T0, snapshot: grant, local: replicaHere, status: standbyReading, shuttingDown: false }, params);
    // Act: a newer term than a knows of (so only the promotion under way can refuse), asked while readStatus is awaited
    const r = agentStep(first.state, { type: 'failsafeAsk', now: T0 + 1, holder: 'b', term: 6, durationMs: TTL_MS }, params);
    // Assess
    assert.equal(answerOf(r.effects)?.ok, false);
    assert.match(answerOf(r.effects)?.reason.text ?? '', /on its way to promote/);
    assert.equal(r.state.promise, null);
  });

  test('a member that promised does not promote on a grant while the promise lasts', () => {
    // Prepare
    const promisedState = ask(replica()).state;
    const grant = snapshot({ config: failsafeOn, leader: leader('a', { phase: 'granted', term: 5 }), members: [member('a'), primary('b')] });
    // Act
    const l = agentLoopAs('a', promisedState, { now: T0 + 5000, snapshot: grant, local: replicaHere, status: standbyReading });
    // Assess: no renew of the grant, no promotion
    assert.ok(!l.some((c) => c === 'store:renew' || c === 'pg:promote'), l.join(','));
  });

  test('after the promise ends, the grant is acted on', () => {
    const promisedState = ask(replica()).state;
    const grant = snapshot({ config: failsafeOn, leader: leader('a', { phase: 'granted', term: 5 }), members: [member('a'), primary('b')] });
    const l = agentLoopAs('a', promisedState, { now: T0 + TTL_MS + 1, snapshot: grant, local: replicaHere, status: standbyReading });
    assert.ok(l.includes('pg:promote'), l.join(','));
  });

  test('an agent just started in failsafe mode holds promotion back for 2 x ttl: it cannot know what its predecessor promised', () => {
    const grant = snapshot({ config: failsafeOn, leader: leader('a', { phase: 'granted', term: 5 }), members: [member('a'), primary('b')] });
    const fresh = initialAgentState(failsafeOn.config);
    const early = agentLoopAs('a', fresh, { now: T0, snapshot: grant, local: replicaHere, status: standbyReading });
    assert.ok(!early.includes('pg:promote'), early.join(','));
    const late = agentLoopAs('a', { ...fresh, startedAt: T0 }, { now: T0 + 2 * TTL_MS, snapshot: grant, local: replicaHere, status: standbyReading });
    assert.ok(late.includes('pg:promote'), late.join(','));
  });
});

/** The calls of one loop of member `name`, every call answered as a healthy store and server would. */
function agentLoopAs(name: string, state: AgentState, tick: { now: number; snapshot: ClusterSnapshot; local: LocalState; status: PgReading | null }): string[] {
  const params = { ...PARAMS, name };
  let now = tick.now;
  let r = agentStep(state, { type: 'tick', ...tick, shuttingDown: false }, params);
  const out: string[] = [];
  for (let i = 0; i < 50; i++) {
    const call = r.effects.find(isCall);
    if (call === undefined) break;
    out.push(call.type === 'store' ? `store:${call.op.op}` : call.type === 'pg' ? `pg:${call.op.op}` : call.type === 'keeper' ? `keeper:${call.op}` : call.type);
    now += 10;
    const outcome: Outcome =
      call.type === 'readStatus' ? { kind: 'status', status: tick.status } : call.type === 'store' ? { kind: 'written', item: { version: 9, term: 5 } } : call.type === 'pg' && call.op.op === 'promote' ? { kind: 'promoted', durationMs: 5 } : { kind: 'ok' };
    r = agentStep(r.state, { type: 'result', now, outcome }, params);
  }
  return out;
}

describe('failsafe mode, the arbiter', () => {
  const ctxFor = (snap: ClusterSnapshot) => {
    const members = Object.fromEntries(snap.members.map((m) => [m.name, { version: m.version, seenAt: NOW }]));
    return eligibilityContext(snap, members, NOW);
  };

  test('never grants to a member that reports a promise', () => {
    const snap = snapshot({ config: failsafeOn, leader: leader('b', { term: 4, failsafe: ['a'] }), members: [member('a', { failsafe: { holder: 'b', term: 4 } }), primary('b')] });
    const e = eligibility(snap.members[0]!, ctxFor(snap));
    assert.equal(e.eligible, false);
    assert.match(e.eligible ? '' : e.reason, /promised b \(term 4\)/);
  });

  test('never grants to a member outside the holder failsafe set', () => {
    const snap = snapshot({ config: failsafeOn, leader: leader('b', { term: 4, failsafe: ['a'] }), members: [member('a'), primary('b'), member('c')] });
    const c = eligibility(snap.members[2]!, ctxFor(snap));
    const a = eligibility(snap.members[0]!, ctxFor(snap));
    assert.equal(c.eligible, false);
    assert.match(c.eligible ? '' : c.reason, /not in the failsafe set of b/);
    assert.equal(a.eligible, true);
  });

  test('with failsafe_mode off, a stale set restricts nothing', () => {
    const snap = snapshot({ config: config(), leader: leader('b', { term: 4, failsafe: ['a'] }), members: [member('a'), primary('b'), member('c')] });
    assert.equal(eligibility(snap.members[2]!, ctxFor(snap)).eligible, true);
  });
});
