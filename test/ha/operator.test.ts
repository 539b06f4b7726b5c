// An operator's restart and reinit in the agent's step machine: when they
// run (after the loop's own actions, only in a steady loop), when they are
// refused, and how they are answered.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { LocalState } from '../../lib/ha/agent.js';
import { agentStep, initialAgentState, type AgentParams, type AgentState, type Effect, type Outcome, type PgReading } from '../../lib/ha/agent-step.js';
import type { ClusterSnapshot } from '../../lib/dcs/store.js';
import { config, leader, member, primary, snapshot } from './fixtures.js';
import { callKinds, runLoop, STEP_PARAMS } from './step-harness.js';

const PARAMS: AgentParams = STEP_PARAMS;
const T0 = 100_000;
const SYS = '7300000000000000001';
const replicaOfA: LocalState = { empty: false, systemId: SYS, running: true, inRecovery: true, following: 'a', wasPrimary: false };
const primaryHere: LocalState = { ...replicaOfA, inRecovery: false, following: null, wasPrimary: true };
const standbyReading: PgReading = { inRecovery: true, timeline: 1, currentLsn: null, receivedLsn: 5000, replayedLsn: 5000, systemId: SYS, postmasterStartedAt: 1, receiverStreaming: true };
const primaryReading: PgReading = { ...standbyReading, inRecovery: false, currentLsn: 6000, receivedLsn: null, replayedLsn: null };
const written: Outcome = { kind: 'written', item: { version: 9, term: 4 } };

const ledBy = (holder: string): ClusterSnapshot =>
  snapshot({ config: config(), leader: leader(holder, { phase: 'active', term: 4 }), members: holder === 'b' ? [member('a'), primary('b')] : [primary('a'), member('b')] });

/** The state after an operator event for `op` (id 7). */
function asked(op: 'restart' | 'reinit', extra: Partial<AgentState> = {}): { state: AgentState; effects: readonly Effect[] } {
  const base = { ...initialAgentState(config().config), startedAt: 0, ...extra };
  return agentStep(base, { type: 'operator', now: T0, id: 7, op }, PARAMS);
}

const answers = (effects: readonly Effect[]) => effects.filter((e): e is Extract<Effect, { type: 'operatorDone' }> => e.type === 'operatorDone');

describe('operator requests', () => {
  test('a holder restarts after the loop renewed its lease, and the answer says so', () => {
    // Prepare
    const { state } = asked('restart', { lease: { term: 4, sentAt: T0 - 2000 }, keeperArmed: true });
    // Act
    const l = runLoop(PARAMS, state, { now: T0, snapshot: ledBy('b'), local: primaryHere, status: primaryReading }, [{ kind: 'status', status: primaryReading }, written, { kind: 'ok' }, { kind: 'ok' }]);
    // Assess
    const kinds = callKinds(l);
    assert.ok(kinds.indexOf('store:renew') >= 0 && kinds.indexOf('store:renew') < kinds.indexOf('pg:restart'), kinds.join(', '));
    assert.ok(l.effects.some((e) => e.type === 'operatorBegun' && e.id === 7));
    assert.deepEqual(answers(l.effects).map((a) => [a.id, a.ok, a.reason.code]), [[7, true, 'operator_done']]);
    assert.equal(l.state.operator, null);
    const beat = l.calls.find((c) => c.type === 'heartbeat');
    assert.ok(beat?.type === 'heartbeat');
    assert.equal(beat.fields.state, 'running', 'the heartbeat after the restart says running, not stopping');
  });

  test('a replica restarts; a failed restart is answered with its error', () => {
    // Prepare
    const { state } = asked('restart');
    // Act
    const ok = runLoop(PARAMS, state, { now: T0, snapshot: ledBy('a'), local: replicaOfA, status: standbyReading }, [{ kind: 'ok' }]);
    const failed = runLoop(PARAMS, state, { now: T0, snapshot: ledBy('a'), local: replicaOfA, status: standbyReading }, [{ kind: 'error', message: 'pg_ctl: server did not start' }]);
    // Assess
    assert.ok(callKinds(ok).includes('pg:restart'));
    assert.deepEqual(answers(ok.effects).map((a) => a.ok), [true]);
    assert.deepEqual(answers(failed.effects).map((a) => [a.ok, a.reason.text]), [[false, 'restart failed: pg_ctl: server did not start']]);
  });

  const refusals: Array<[string, 'restart' | 'reinit', ClusterSnapshot | null, LocalState, RegExp]> = [
    ['a restart of a stopped server', 'restart', ledBy('a'), { ...replicaOfA, running: false, inRecovery: null }, /PostgreSQL is not running/],
    ['a reinit of the holder', 'reinit', ledBy('b'), primaryHere, /holds the lease: switch over first/],
    ['a reinit with no leader', 'reinit', snapshot({ config: config(), members: [member('a'), member('b')] }), replicaOfA, /no serving leader/],
    ['anything while the store cannot be read', 'restart', null, replicaOfA, /store cannot be read/],
  ];
  for (const [what, op, snap, local, why] of refusals) {
    test(`${what} is refused at once, and nothing is run`, () => {
      // Prepare
      const { state } = asked(op);
      // Act
      const l = runLoop(PARAMS, state, { now: T0, snapshot: snap, local, status: local.running ? standbyReading : null }, []);
      // Assess
      const a = answers(l.effects);
      assert.equal(a.length, 1);
      assert.equal(a[0]?.ok, false);
      assert.match(a[0]?.reason.text ?? '', why);
      assert.equal(callKinds(l).some((k) => k === 'pg:restart' || k === 'pg:reinit'), false);
      assert.equal(l.state.operator, null);
    });
  }

  test('a replica is re-created from the leader by one reinit step, with the cluster\'s system identifier', () => {
    // Prepare
    const { state } = asked('reinit');
    // Act
    const l = runLoop(PARAMS, state, { now: T0, snapshot: ledBy('a'), local: replicaOfA, status: standbyReading }, [{ kind: 'ok' }]);
    // Assess
    const call = l.calls.find((c) => c.type === 'pg' && c.op.op === 'reinit');
    assert.ok(call?.type === 'pg' && call.op.op === 'reinit');
    assert.deepEqual([call.op.from.name, call.op.expectedSystemId], ['a', SYS]);
    assert.deepEqual(answers(l.effects).map((a) => a.ok), [true]);
  });

  test('a second request while one waits is answered busy; a cancel drops one that has not begun', () => {
    // Prepare
    const first = asked('restart');
    // Act
    const second = agentStep(first.state, { type: 'operator', now: T0, id: 8, op: 'reinit' }, PARAMS);
    const cancelled = agentStep(second.state, { type: 'operatorCancel', now: T0, id: 7 }, PARAMS);
    // Assess
    assert.deepEqual(answers(second.effects).map((a) => [a.id, a.ok]), [[8, false]]);
    assert.match(answers(second.effects)[0]?.reason.text ?? '', /busy/);
    assert.equal(second.state.operator?.id, 7);
    assert.equal(cancelled.state.operator, null);
  });
});
