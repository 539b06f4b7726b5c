// A pg_rewind that keeps failing: tried REWIND_ATTEMPTS times per leader
// term, then either left for an operator (marked in the heartbeat) or, with
// remove_data_directory_on_rewind_failure, re-created from the leader.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { LocalState } from '../../lib/ha/agent.js';
import { initialAgentState, REWIND_ATTEMPTS, type AgentParams, type AgentState, type Outcome } from '../../lib/ha/agent-step.js';
import type { ClusterSnapshot } from '../../lib/dcs/store.js';
import { config, leader, member, primary, snapshot } from './fixtures.js';
import { callKinds, runLoop, type Loop, STEP_PARAMS } from './step-harness.js';

const PARAMS: AgentParams = STEP_PARAMS;
const formerPrimary: LocalState = { empty: false, systemId: '7300000000000000001', running: false, inRecovery: null, following: null, wasPrimary: true, cleanShutdown: false };
const failed: Outcome = { kind: 'error', message: 'pg_rewind: could not find previous WAL record' };
const ledBy = (term: number): ClusterSnapshot => snapshot({ config: config(), leader: leader('a', { phase: 'active', term }), members: [primary('a'), member('b'), member('c')] });

function loops(params: AgentParams, n: number, snap: ClusterSnapshot, from: AgentState = { ...initialAgentState(config().config), startedAt: 0 }): Loop[] {
  const out: Loop[] = [];
  let state = from;
  for (let i = 0; i < n; i++) {
    const l = runLoop(params, state, { now: 100_000 + i * 2000, snapshot: snap, local: formerPrimary, status: null }, [failed]);
    out.push(l);
    state = l.state;
  }
  return out;
}

const beat = (l: Loop) => l.calls.find((c) => c.type === 'heartbeat');

describe('pg_rewind failing', () => {
  test(`is tried ${REWIND_ATTEMPTS} times, then not again for the term, and the heartbeat says so`, () => {
    // Act
    const ls = loops(PARAMS, REWIND_ATTEMPTS + 2, ledBy(4));
    // Assess
    const rewinds = ls.map((l) => callKinds(l).filter((k) => k === 'pg:rewind').length);
    assert.deepEqual(rewinds, [...Array(REWIND_ATTEMPTS).fill(1), 0, 0]);
    const last = beat(ls[ls.length - 1] as Loop);
    assert.ok(last?.type === 'heartbeat');
    assert.equal(last.fields.rewindFailed, true);
    const first = beat(ls[0] as Loop);
    assert.ok(first?.type === 'heartbeat');
    assert.equal(first.fields.rewindFailed, undefined);
  });

  test('a new leader term is a new chance', () => {
    // Prepare
    const given = loops(PARAMS, REWIND_ATTEMPTS, ledBy(4));
    // Act
    const next = loops(PARAMS, 1, ledBy(5), (given[given.length - 1] as Loop).state);
    // Assess
    assert.ok(callKinds(next[0] as Loop).includes('pg:rewind'));
  });

  test('with remove_data_directory_on_rewind_failure, the last failure re-creates the node from the leader', () => {
    // Act
    const ls = loops({ ...PARAMS, reinitOnRewindFailure: true }, REWIND_ATTEMPTS, ledBy(4));
    // Assess
    const last = ls[ls.length - 1] as Loop;
    const reinit = last.calls.find((c) => c.type === 'pg' && c.op.op === 'reinit');
    assert.ok(reinit?.type === 'pg' && reinit.op.op === 'reinit');
    assert.equal(reinit.op.from.name, 'a');
    assert.equal(ls.slice(0, -1).some((l) => callKinds(l).includes('pg:reinit')), false, 'not before the last attempt');
  });
});
