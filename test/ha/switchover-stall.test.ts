// A demoted holder renews its lease for as long as its candidate replays, so
// the lease never runs out: a candidate that cannot reach the final LSN (it
// cannot stream from the stopped holder) must not hold the cluster without a
// writable primary forever. Past the request's patience the handover is
// abandoned and the best eligible member, the holder included, is granted;
// nothing is lost, the holder stopped writes at the final LSN.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decide } from '../../lib/ha/arbiter.js';
import { decisionReason, endpoint, input, leader, member, NOW, observed, primary, request, summary } from './fixtures.js';

const stuck = {
  leader: leader('a', { phase: 'demoted' as const, candidate: 'c', finalLsn: 1_000_100 }),
  members: [primary('a', { lsn: 1_000_100 }), member('b', { lsn: 999_000 }), member('c', { lsn: 1_000_050, replayLsn: 1_000_050 })],
  endpoint: endpoint('a', 3),
  failover: request({ kind: 'switchover', from: 'a', to: 'c' }),
};

describe('decide: a switchover candidate that never reaches the final LSN', () => {
  test('within the patience it is waited for', () => {
    const d = decide(input(observed(stuck, { requestSeenAt: NOW - 10_000 })));
    assert.deepEqual(summary(d), ['none'], decisionReason(d));
    assert.match(decisionReason(d), /waiting for c to replay up to/);
  });

  test('past the patience the handover is abandoned and the best eligible member is granted', () => {
    const d = decide(input(observed(stuck, { requestSeenAt: NOW - 120_000 })));
    assert.deepEqual(summary(d), ['grant a switchover', 'clearFailover'], decisionReason(d));
    assert.match(decisionReason(d), /switchover to c abandoned \(c did not replay up to .* in time/);
  });
});
