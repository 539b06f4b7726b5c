// Head reads: which loops may read the head of the partition alone, and which
// changes in a head send the loop to a full read before it decides.
import assert from 'node:assert/strict';
import { STEP_PARAMS } from './step-harness.js';
import { describe, test } from 'node:test';
import type { LocalState } from '../../lib/ha/agent.js';
import { agentStep, initialAgentState, type AgentParams, type AgentState, type PgReading } from '../../lib/ha/agent-step.js';
import { mergeHead, readKind } from '../../lib/ha/head-read.js';
import type { ClusterHead, ClusterSnapshot } from '../../lib/dcs/store.js';
import { config, initialize, leader, member, primary, request, snapshot, sync } from './fixtures.js';

const PARAMS: AgentParams = STEP_PARAMS;
const T0 = 100_000;
const replicaHere: LocalState = { empty: false, systemId: '7300000000000000001', running: true, inRecovery: true, following: 'a', wasPrimary: false };
const standby: PgReading = { inRecovery: true, timeline: 1, currentLsn: null, receivedLsn: 5000, replayedLsn: 5000, systemId: '7300000000000000001', postmasterStartedAt: 1, receiverStreaming: true };

const healthy = snapshot({ config: config(), leader: leader('a'), members: [primary('a'), member('b'), member('c')], sync: sync('a', ['b']) });

function headOf(s: ClusterSnapshot): ClusterHead {
  const { members: _m, sync: _s, ...head } = s;
  return head;
}

describe('mergeHead', () => {
  test('a renew alone: the last full read with the new leader item, members and sync kept', () => {
    // Prepare
    const renewed = headOf(snapshot({ ...healthy, leader: leader('a', { version: 41, lastLsn: 2_000_000 }) }));
    // Act
    const merged = mergeHead(healthy, renewed);
    // Assess
    assert.equal(merged?.leader?.version, 41);
    assert.equal(merged?.leader?.lastLsn, 2_000_000);
    assert.deepEqual(merged?.members, healthy.members);
    assert.deepEqual(merged?.sync, healthy.sync);
  });

  const changes: [string, ClusterHead, ClusterSnapshot?][] = [
    ['a new holder', headOf(snapshot({ ...healthy, leader: leader('c', { term: 4, version: 41 }) }))],
    ['a new term of the same holder', headOf(snapshot({ ...healthy, leader: leader('a', { term: 4, version: 41 }) }))],
    ['a handover', headOf(snapshot({ ...healthy, leader: leader('a', { phase: 'handover', candidate: 'b', version: 41 }) }))],
    ['a released lease', headOf(snapshot({ ...healthy, leader: leader('a', { phase: 'released', version: 41 }) }))],
    ['a new timeline', headOf(snapshot({ ...healthy, leader: leader('a', { timeline: 2, version: 41 }) }))],
    ['an older leader item than the one known', headOf(snapshot({ ...healthy, leader: leader('a', { version: 39 }) }))],
    ['no leader item', headOf(snapshot({ ...healthy, leader: null }))],
    ['a config change', headOf(snapshot({ ...healthy, config: { ...config({ paused: true }), version: 2 } }))],
    ['a new failover request', headOf(snapshot({ ...healthy, failover: request({ kind: 'switchover', from: 'a', to: 'b' }) }))],
    ['a new initialize item', headOf(snapshot({ ...healthy, initialize: { ...initialize(), version: 2 } }))],
    ['a malformed head item', headOf(snapshot({ ...healthy, malformed: [{ kind: 'config', key: 'config', field: 'config.ttl', message: 'x', version: 1 }] }))],
    ['a last full read with a malformed item', headOf(healthy), snapshot({ ...healthy, malformed: [{ kind: 'member', key: 'member#ghost', field: 'lsn', message: 'x', version: 1 }] })],
  ];
  for (const [what, head, known] of changes) {
    test(`${what}: no decision on the head, a full read first`, () => {
      // Act
      const merged = mergeHead(known ?? healthy, head);
      // Assess
      assert.equal(merged, null);
    });
  }
});

/** The state after one tick of replica `b` on `snap`, its heartbeat landed. */
function tickOn(snap: ClusterSnapshot, over: Partial<AgentState> = {}, local: LocalState = replicaHere): AgentState {
  const r = agentStep({ ...initialAgentState(config().config), ...over }, { type: 'tick', now: T0, startedAt: T0 - 5, snapshot: snap, local, status: standby, shuttingDown: false }, PARAMS);
  return { ...r.state, ownVersion: 7 };
}

describe('readKind', () => {
  test('a replica streaming from a healthy leader reads the head next, until its full read is ttl old', () => {
    // Prepare
    const s = tickOn(healthy);
    const ttlMs = s.config.ttl * 1000;
    // Assess
    assert.equal(s.fullReadAt, T0 - 5);
    assert.equal(readKind(s, T0 + 2000), 'head');
    assert.equal(readKind(s, T0 - 5 + ttlMs), 'cluster');
  });

  test('a tick on a merged head keeps the time of the last full read', () => {
    // Prepare
    const s = tickOn(healthy);
    // Act
    const next = agentStep(s, { type: 'tick', now: T0 + 2000, startedAt: T0 + 1995, snapshot: healthy, read: 'head', local: replicaHere, status: standby, shuttingDown: false }, PARAMS).state;
    // Assess
    assert.equal(next.fullReadAt, T0 - 5);
    assert.equal(next.headReads, true);
  });

  const full: [string, AgentState][] = [
    ['the holder of the lease', tickOn(snapshot({ ...healthy, leader: leader('b'), members: [member('a'), primary('b')] }), {}, { ...replicaHere, inRecovery: false, following: null })],
    ['a replica of nobody yet', tickOn(snapshot({ ...healthy, leader: null }))],
    ['a replica following another node than the leader', tickOn(healthy, {}, { ...replicaHere, following: 'c' })],
    ['a replica whose last heartbeat was lost', { ...tickOn(healthy), ownVersion: null }],
    ['a replica that promised a failsafe primary not to promote', tickOn(healthy, { promise: { holder: 'a', term: 3, until: T0 + 20_000 } })],
    ['a replica whose last read was not a read', agentStep(tickOn(healthy), { type: 'tick', now: T0 + 2000, snapshot: null, local: replicaHere, status: standby, shuttingDown: false }, PARAMS).state],
  ];
  for (const [who, s] of full) {
    test(`${who} reads the whole partition`, () => {
      // Assess
      assert.equal(readKind(s, T0 + 2000), 'cluster');
    });
  }
});
