import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decide } from '../../lib/ha/arbiter.js';
import { endpoint, input, leader, member, NOW, observed, primary, snapshot, TTL_MS } from './fixtures.js';

const a = primary('a', { lsn: 1_000_000 });
const b = member('b', { lsn: 999_000 });
const c = member('c', { lsn: 900_000 });

describe('decide: metrics', () => {
  test('reports a healthy cluster', () => {
    // Prepare
    const snap = observed({ leader: leader('a'), members: [a, b, c], endpoint: endpoint('a', 3) });

    // Act
    const { metrics } = decide(input(snap));

    // Assess
    assert.deepEqual(metrics, {
      leaderPresent: 1,
      secondsWithoutLeader: 0,
      failovers: 0,
      maxReplicationLagBytes: 100_000,
      healthyMembers: 3,
      endpointInSync: 1,
      malformedItems: 0,
      failsafePromises: 0,
      memberStoreErrors: 0,
      rewindFailedMembers: 0,
    });
  });

  test('reports an expired leader, a stale member and a lagging endpoint during a failover', () => {
    // Prepare
    const snap = observed(
      { leader: leader('a'), members: [{ ...a, state: 'crashed' }, b, c], endpoint: endpoint('z', 2) },
      { leaderSeenAt: NOW - TTL_MS - 2_500, membersSeenAt: { a: NOW - 1_000, b: NOW - 1_000, c: NOW - 20_000 } },
    );

    // Act
    const { metrics } = decide(input(snap));

    // Assess
    assert.deepEqual(metrics, {
      leaderPresent: 0,
      secondsWithoutLeader: 12.5,
      failovers: 1,
      maxReplicationLagBytes: 100_000,
      healthyMembers: 1,
      endpointInSync: 0,
      malformedItems: 0,
      failsafePromises: 0,
      memberStoreErrors: 0,
      rewindFailedMembers: 0,
    });
  });

  test('counts no leader while a grant awaits promotion', () => {
    // Prepare
    const snap = observed({ leader: leader('b', { phase: 'granted', term: 4 }), members: [b] }, { leaderSeenAt: NOW - 1_500 });

    // Act
    const { metrics } = decide(input(snap));

    // Assess
    assert.equal(metrics.leaderPresent, 0);
    assert.equal(metrics.secondsWithoutLeader, 1.5);
  });

  test('counts the members holding a failsafe promise and sums their agents store errors', () => {
    // Prepare
    const snap = observed({ leader: leader('a'), members: [{ ...a, storeErrors: 3 }, { ...b, failsafe: { holder: 'a', term: 3 }, storeErrors: 4 }, c], endpoint: endpoint('a', 3) });

    // Act
    const { metrics } = decide(input(snap));

    // Assess
    assert.equal(metrics.failsafePromises, 1);
    assert.equal(metrics.memberStoreErrors, 7);
  });

  test('reports the largest WAL retention of a slot any member reports, and none when none does', () => {
    // Prepare
    const reporting = observed({ leader: leader('a'), members: [{ ...a, slotRetainedBytes: 5_000 }, { ...b, slotRetainedBytes: 70_000 }, c], endpoint: endpoint('a', 3) });
    const silent = observed({ leader: leader('a'), members: [a, b, c], endpoint: endpoint('a', 3) });

    // Act
    const { metrics } = decide(input(reporting));
    const { metrics: none } = decide(input(silent));

    // Assess
    assert.equal(metrics.slotRetainedBytes, 70_000);
    assert.equal('slotRetainedBytes' in none, false);
  });

  test('reports zeros for a cluster without leader or members', () => {
    // Prepare
    const snap = snapshot({ initialize: null });

    // Act
    const { metrics } = decide(input(snap));

    // Assess
    assert.deepEqual(metrics, {
      leaderPresent: 0,
      secondsWithoutLeader: 0,
      failovers: 0,
      maxReplicationLagBytes: 0,
      healthyMembers: 0,
      endpointInSync: 0,
      malformedItems: 0,
      failsafePromises: 0,
      memberStoreErrors: 0,
      rewindFailedMembers: 0,
    });
  });

  test('still reports metrics when another arbiter holds the lease', () => {
    // Prepare
    const snap = observed({ leader: leader('a'), members: [a, b] }, { owner: 'arb-2', leaseExpiresAt: NOW + 5_000 });

    // Act
    const { metrics, actions } = decide(input(snap));

    // Assess
    assert.deepEqual(
      actions.map((x) => x.type),
      ['none'],
    );
    assert.equal(metrics.leaderPresent, 1);
    assert.equal(metrics.healthyMembers, 2);
  });

  test('counts the malformed items set aside, whatever their kind', () => {
    // Prepare
    const snap = observed({
      members: [a, b],
      malformed: [
        { kind: 'member', key: 'member#ghost', field: 'lsn', message: 'lsn: bad', version: 1 },
        { kind: 'failover', key: 'failover', field: 'request.kind', message: 'request.kind: bad', version: 2 },
      ],
    });

    // Act
    const { metrics } = decide(input(snap));

    // Assess
    assert.equal(metrics.malformedItems, 2);
    assert.equal(metrics.healthyMembers, 2);
  });
});
