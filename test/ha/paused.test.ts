// Maintenance mode (pause) in the agent's step machine and the arbiter:
// agents leave PostgreSQL alone; a paused holder's lease is held unfenced,
// which no automatic grant may pass; the fence is armed again before the
// renew that ends it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { LocalState } from '../../lib/ha/agent.js';
import { initialAgentState, type AgentParams, type AgentState, type Outcome, type PgReading } from '../../lib/ha/agent-step.js';
import type { ClusterSnapshot } from '../../lib/dcs/store.js';
import type { LeaderItem } from '../../lib/dcs/items.js';
import { decide } from '../../lib/ha/arbiter.js';
import { config, input, leader, member, NOW, observed, primary, request, snapshot, summary, TTL_MS } from './fixtures.js';
import { callKinds, runLoop, type Loop, type LoopTick, STEP_PARAMS } from './step-harness.js';

const PARAMS: AgentParams = STEP_PARAMS;
const T0 = 100_000;
const SYS = '7300000000000000001';
const replicaOfA: LocalState = { empty: false, systemId: SYS, running: true, inRecovery: true, following: 'a', wasPrimary: false };
const primaryHere: LocalState = { ...replicaOfA, inRecovery: false, following: null, wasPrimary: true };
const stopped: LocalState = { ...replicaOfA, running: false, inRecovery: null, following: null, cleanShutdown: true };
const standbyReading: PgReading = { inRecovery: true, timeline: 1, currentLsn: null, receivedLsn: 5000, replayedLsn: 5000, systemId: SYS, postmasterStartedAt: 1, receiverStreaming: true };
const primaryReading: PgReading = { ...standbyReading, inRecovery: false, currentLsn: 6000, receivedLsn: null, replayedLsn: null };
const written: Outcome = { kind: 'written', item: { version: 9, term: 4 } };
const down: Outcome = { kind: 'error', message: 'store unavailable' };
const paused = config({ paused: true });
const running = config({ paused: false });

const scene = (o: { paused: boolean; leader: LeaderItem; members?: ReturnType<typeof member>[] }): ClusterSnapshot =>
  snapshot({ config: o.paused ? paused : running, leader: o.leader, members: o.members ?? [member('a'), primary('b'), member('c')] });

/** b holds term 4 as a running primary, its fence armed from a renew sent at T0. */
function holder(extra: Partial<AgentState> = {}): AgentState {
  return { ...initialAgentState(paused.config), startedAt: 0, lease: { term: 4, sentAt: T0 }, fenceAt: T0 + TTL_MS - PARAMS.safetyMarginMs, keeperArmed: true, ...extra };
}

const loop = (state: AgentState, tick: LoopTick, outcomes: Outcome[]): Loop => runLoop(PARAMS, state, tick, outcomes);
const pgCalls = (l: Loop): string[] => callKinds(l).filter((k) => k.startsWith('pg:'));

describe('pause, the holder', () => {
  test('renews saying unfenced, and only once that renew landed turns the timer and the keeper off', () => {
    // Prepare
    const snap = scene({ paused: true, leader: leader('b', { phase: 'active', term: 4 }) });
    // Act
    const l = loop(holder(), { now: T0 + 2000, snapshot: snap, local: primaryHere, status: primaryReading }, [{ kind: 'status', status: primaryReading }, written]);
    // Assess
    assert.deepEqual(callKinds(l).slice(0, 3), ['readStatus', 'store:renew', 'keeper:disarm']);
    const renew = l.calls.find((c) => c.type === 'store' && c.op.op === 'renew');
    assert.ok(renew?.type === 'store' && renew.op.op === 'renew');
    assert.equal(renew.op.w.unfenced, true);
    assert.ok(l.effects.some((e) => e.type === 'fenceTimer' && e.at === null));
    assert.equal(l.state.fenceOff, true);
    assert.equal(l.state.keeperArmed, false);
    assert.equal(l.state.fenceAt, null);
  });

  test('an unfenced renew that did not land leaves the fence on', () => {
    // Prepare
    const snap = scene({ paused: true, leader: leader('b', { phase: 'active', term: 4 }) });
    // Act
    const l = loop(holder(), { now: T0 + 2000, snapshot: snap, local: primaryHere, status: primaryReading }, [{ kind: 'status', status: primaryReading }, down]);
    // Assess
    assert.equal(callKinds(l).includes('keeper:disarm'), false);
    assert.equal(l.state.fenceOff, false);
    assert.equal(l.state.fenceAt, holder().fenceAt);
  });

  test('with the fence off, a store out of reach past the lease does not stop PostgreSQL', () => {
    // Prepare: unfenced since T0, the store then gone for twice ttl
    const state = holder({ fenceOff: true, keeperArmed: false, fenceAt: null, config: paused.config });
    // Act
    const l = loop(state, { now: T0 + 2 * TTL_MS, snapshot: null, local: primaryHere, status: primaryReading }, []);
    // Assess
    assert.deepEqual(pgCalls(l), []);
    assert.equal(l.state.demoting, false);
  });

  test('with the fence on, the same outage still fences: pause alone turns nothing off', () => {
    // Prepare
    const state = holder({ config: paused.config });
    // Act
    const l = loop(state, { now: T0 + 2 * TTL_MS, snapshot: null, local: primaryHere, status: primaryReading }, []);
    // Assess
    assert.ok(pgCalls(l).includes('pg:stop'), callKinds(l).join(', '));
  });

  test('out of pause, the fence is armed before the renew that clears unfenced; an arm that fails sends no renew', () => {
    // Prepare: the store holds term 4 unfenced, the cluster resumed
    const snap = scene({ paused: false, leader: leader('b', { phase: 'active', term: 4, unfenced: true }) });
    const state = holder({ fenceOff: true, keeperArmed: false, fenceAt: null });
    const now = T0 + 30_000;
    // Act
    const ok = loop(state, { now, snapshot: snap, local: primaryHere, status: primaryReading }, [{ kind: 'ok' }, { kind: 'status', status: primaryReading }, written, { kind: 'ok' }]);
    const failed = loop(state, { now, snapshot: snap, local: primaryHere, status: primaryReading }, [{ kind: 'error', message: 'keeper socket gone' }]);
    // Assess
    assert.deepEqual(callKinds(ok).slice(0, 4), ['keeper:arm', 'readStatus', 'store:renew', 'keeper:arm']);
    const firstArm = ok.calls[0];
    assert.ok(firstArm?.type === 'keeper' && firstArm.op === 'arm');
    assert.equal(firstArm.deadline, now + TTL_MS - PARAMS.safetyMarginMs);
    const renew = ok.calls.find((c) => c.type === 'store' && c.op.op === 'renew');
    assert.ok(renew?.type === 'store' && renew.op.op === 'renew');
    assert.equal(renew.op.w.unfenced, undefined);
    assert.equal(ok.state.fenceOff, false);
    assert.deepEqual(callKinds(failed).filter((k) => k.startsWith('store:')), []);
  });

  test('a new agent process finding its lease unfenced after the pause arms the fence before it renews', () => {
    // Prepare: a fresh process, PostgreSQL still primary
    const snap = scene({ paused: false, leader: leader('b', { phase: 'active', term: 4, unfenced: true }) });
    // Act
    const l = loop({ ...initialAgentState(running.config), startedAt: 0 }, { now: T0, snapshot: snap, local: primaryHere, status: primaryReading }, [{ kind: 'ok' }, { kind: 'status', status: primaryReading }, written]);
    // Assess
    assert.deepEqual(callKinds(l).slice(0, 3), ['keeper:arm', 'readStatus', 'store:renew']);
  });

  test('shutting down while paused leaves PostgreSQL running and the lease unreleased', () => {
    // Prepare
    const snap = scene({ paused: true, leader: leader('b', { phase: 'active', term: 4, unfenced: true }) });
    // Act
    const l = loop(holder({ fenceOff: true, keeperArmed: false, fenceAt: null }), { now: T0, snapshot: snap, local: primaryHere, status: primaryReading, shuttingDown: true }, []);
    // Assess
    assert.deepEqual(pgCalls(l), []);
    assert.equal(callKinds(l).some((k) => k === 'store:release' || k === 'store:renew'), false);
    assert.ok(l.effects.some((e) => e.type === 'exit'));
  });

  test('a paused holder whose PostgreSQL is down renews and does not start it', () => {
    // Prepare
    const snap = scene({ paused: true, leader: leader('b', { phase: 'active', term: 4 }) });
    // Act
    const l = loop(holder(), { now: T0 + 2000, snapshot: snap, local: stopped, status: null }, [written]);
    // Assess
    assert.deepEqual(pgCalls(l), []);
    assert.ok(callKinds(l).includes('store:renew'));
  });
});

describe('pause, the other members', () => {
  const leaderA = leader('a', { phase: 'active', term: 4 });
  const members = [primary('a'), member('b'), member('c')];
  const cases: Array<[string, LocalState, string[]]> = [
    ['a stopped replica is not started', stopped, []],
    ['a replica stuck behind the leader is not rewound', { ...replicaOfA, receiverStuckMs: 60_000 }, []],
    ['a former primary stopped is not rewound or started', { ...stopped, wasPrimary: true }, []],
    ['a node without data is not cloned', { empty: true, systemId: null, running: false, inRecovery: null, following: null, wasPrimary: false }, []],
    ['a running replica of another node is re-pointed with a reload', { ...replicaOfA, following: 'c' }, ['pg:follow']],
  ];
  for (const [name, local, expected] of cases) {
    test(name, () => {
      // Prepare
      const snap = scene({ paused: true, leader: leaderA, members });
      // Act
      const l = loop({ ...initialAgentState(paused.config), startedAt: 0 }, { now: T0, snapshot: snap, local, status: local.running ? standbyReading : null }, []);
      // Assess
      assert.deepEqual(pgCalls(l), expected);
    });
  }

  test('a primary whose lease an operator moved to another is demoted even while paused', () => {
    // Prepare
    const snap = scene({ paused: true, leader: leaderA, members });
    // Act
    const l = loop({ ...initialAgentState(paused.config), startedAt: 0 }, { now: T0, snapshot: snap, local: primaryHere, status: primaryReading }, []);
    // Assess
    assert.ok(pgCalls(l).includes('pg:stop'), callKinds(l).join(', '));
  });
});

describe('pause, the arbiter', () => {
  const expired = { leaderSeenAt: NOW - 2 * TTL_MS };
  const members = [member('a'), member('c', { lsn: 90 })];

  test('no automatic failover over a lease held unfenced, even once resumed and expired', () => {
    // Prepare
    const snap = observed({ config: running, leader: leader('b', { phase: 'active', term: 4, unfenced: true }), members }, expired);
    // Act
    const d = decide(input(snap));
    // Assess
    assert.equal(d.actions.some((a) => a.type === 'grant'), false);
    assert.match(d.reasons.join('\n'), /b holds term 4 unfenced \(renewed while paused\).*--holder-stopped/);
  });

  test('the same lease, fenced, expires into a failover', () => {
    // Prepare
    const snap = observed({ config: running, leader: leader('b', { phase: 'active', term: 4 }), members }, expired);
    // Act
    const d = decide(input(snap));
    // Assess
    assert.ok(summary(d).some((s) => s.startsWith('grant a')), summary(d).join(', '));
  });

  test('a manual failover over an unfenced lease is refused unless the operator says the holder is stopped', () => {
    // Prepare
    const base = { config: paused, leader: leader('b', { phase: 'active', term: 4, unfenced: true }), members };
    const refused = observed({ ...base, failover: request({ kind: 'failover', to: 'a' }) });
    const forced = observed({ ...base, failover: request({ kind: 'failover', to: 'a', holderStopped: true }) });
    // Act
    const r1 = decide(input(refused));
    const r2 = decide(input(forced));
    // Assess
    const leadership = (d: ReturnType<typeof decide>) => summary(d).filter((s) => s.startsWith('grant') || s === 'clearFailover');
    assert.deepEqual(leadership(r1), ['clearFailover']);
    assert.match(r1.reasons.join('\n'), /failover to a refused: b holds term 4 unfenced/);
    assert.deepEqual(leadership(r2), ['grant a manual-failover', 'clearFailover']);
  });
});
