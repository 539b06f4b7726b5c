import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decide, type Decision, type GrantAction, type ObserveAction } from '../../lib/ha/arbiter.js';
import type { ClusterSnapshot } from '../../lib/dcs/store.js';
import {
  ARBITER,
  config,
  decisionReason,
  endpoint,
  initialize,
  input,
  leader,
  LEASE_MS,
  member,
  MiB,
  NOW,
  observed,
  primary,
  request,
  snapshot,
  summary,
  sync,
  TTL_MS,
} from './fixtures.js';

const a = primary('a');
const b = member('b', { lsn: 999_000 });
const c = member('c', { lsn: 998_000 });
const members = [a, b, c];
const aDead = { ...a, state: 'crashed' as const };
const live = { leader: leader('a'), members, endpoint: endpoint('a', 3) };
const expired = { leaderSeenAt: NOW - TTL_MS };

function grantOf(d: Decision): GrantAction['grant'] {
  const g = d.actions.find((x): x is GrantAction => x.type === 'grant');
  assert.ok(g, `no grant in ${summary(d).join(', ')}`);
  return g.grant;
}

interface Scenario {
  readonly name: string;
  readonly snap: ClusterSnapshot;
  readonly now?: number;
  readonly expect: readonly string[];
  readonly reason: RegExp;
  readonly check?: (d: Decision) => void;
}

const scenarios: readonly Scenario[] = [
  // Leadership and lease expiry
  {
    name: 'leaves a healthy leader alone',
    snap: observed(live),
    expect: ['none'],
    reason: /^leader a healthy \(version 40 seen 1\.0 s ago\)$/,
  },
  {
    name: 'grants the most advanced replica when the lease expired',
    snap: observed({ ...live, members: [aDead, b, c] }, expired),
    expect: ['grant b failover'],
    reason: /a's lease expired: version 40 unchanged for 10\.0 s \(ttl 10\.0 s\); granting b \(best of 2 eligible/,
    check: (d) => {
      const g = grantOf(d);
      assert.deepEqual(g, {
        holder: 'b',
        expected: { version: 40, term: 3 },
        previous: 'a',
        lastLsn: 999_000,
        timeline: 1,
        reason: g.reason,
        kind: 'failover',
        grantedAt: NOW,
      });
      assert.equal(d.metrics.failovers, 1);
    },
  },
  {
    name: 'does not expire a lease one millisecond before ttl',
    snap: observed(live, { leaderSeenAt: NOW - TTL_MS + 1 }),
    expect: ['none'],
    reason: /leader a healthy \(version 40 seen 10\.0 s ago\)/,
  },
  {
    name: 'does not expire a lease whose version keeps changing',
    snap: snapshot({
      ...live,
      arbiter: {
        owner: ARBITER,
        leaseExpiresAt: NOW + 20_000,
        leader: { term: 3, version: 39, seenAt: NOW - 60_000 },
        members: { a: { version: 7, seenAt: NOW - 1_000 }, b: { version: 7, seenAt: NOW - 1_000 }, c: { version: 7, seenAt: NOW - 1_000 } },
        version: 9,
      },
    }),
    expect: ['observe', 'none'],
    reason: /leader a healthy \(version 40 seen 0\.0 s ago\)/,
    check: (d) => {
      const o = d.actions[0] as ObserveAction;
      assert.deepEqual(o.state.leader, { term: 3, version: 40, seenAt: NOW });
      assert.match(o.reason, /leader term 3 version 39 -> term 3 version 40/);
    },
  },
  {
    name: 'does not expire a lease first seen by this arbiter',
    snap: snapshot(live),
    expect: ['observe', 'none'],
    reason: /leader a healthy \(version 40 seen 0\.0 s ago\)/,
  },
  {
    name: 're-grants a released lease at once',
    snap: observed({ ...live, leader: leader('a', { phase: 'released', version: 41 }), members: [b, c] }, { leaderSeenAt: NOW }),
    expect: ['grant b failover'],
    reason: /a released the lease of term 3; granting b/,
  },
  {
    name: 'grants a released lease back to the old holder when it is the only eligible member',
    snap: observed({ leader: leader('a', { phase: 'released' }), members: [member('a'), member('b', { state: 'stopped' })] }, { leaderSeenAt: NOW }),
    expect: ['grant a failover'],
    reason: /granting a \(the previous holder is the only eligible member\)/,
  },
  {
    name: 'fails over when the holder vanished mid-handover, before it stopped writes',
    snap: observed({ ...live, leader: leader('a', { phase: 'handover', candidate: 'c' }), members: [aDead, b, c] }, expired),
    expect: ['grant b failover'],
    reason: /a's lease expired.*granting b/,
  },
  {
    name: 'grants again when a granted member never confirmed within ttl',
    snap: observed({ ...live, leader: leader('b', { phase: 'granted', term: 4 }), members: [aDead, member('b', { state: 'crashed' }), c] }, expired),
    expect: ['grant c failover'],
    reason: /b's lease expired.*granting c/,
  },
  {
    name: 'waits for a granted member to promote',
    snap: observed({ ...live, leader: leader('b', { phase: 'granted', term: 4 }) }),
    expect: ['none'],
    reason: /b granted term 4, waiting for its promotion/,
  },
  // Who becomes primary
  {
    name: 'fails over in synchronous mode only to the synchronous standby',
    snap: observed(
      { ...live, members: [aDead, b, c], config: config({ synchronousMode: true }), sync: sync('a', ['c']) },
      expired,
    ),
    expect: ['grant c failover'],
    reason: /granting c/,
  },
  {
    name: 'refuses failover in strict synchronous mode without a synchronous standby',
    snap: observed(
      { ...live, members: [aDead, b, c], config: config({ synchronousMode: true, synchronousModeStrict: true }), sync: sync('a', []) },
      expired,
    ),
    expect: ['none'],
    reason: /^synchronous_mode_strict: no automatic failover without an eligible synchronous standby; no eligible member: a: state crashed, not running; b: not a synchronous standby.*c: not a synchronous standby/,
  },
  {
    name: 'refuses failover in strict synchronous mode when no sync record names the leader',
    snap: observed(
      { ...live, members: [aDead, b, c], config: config({ synchronousMode: true, synchronousModeStrict: true }), sync: sync('z', ['b']) },
      expired,
    ),
    expect: ['none'],
    reason: /synchronous_mode_strict.*b: not a synchronous standby \(no sync record for leader a, synchronous_mode_strict\)/,
  },
  {
    name: 'breaks an LSN tie with failover_priority',
    snap: observed({ ...live, members: [aDead, member('b', { lsn: 999_000 }), member('c', { lsn: 999_000, tags: { failoverPriority: 5 } })] }, expired),
    expect: ['grant c failover'],
    reason: /granting c \(best of 2 eligible, lsn 0\/F3E58, priority 5\)/,
  },
  {
    name: 'breaks an LSN and priority tie by name',
    snap: observed({ ...live, members: [aDead, member('c', { lsn: 999_000 }), member('b', { lsn: 999_000 })] }, expired),
    expect: ['grant b failover'],
    reason: /granting b/,
  },
  {
    name: 'never chooses a nofailover member, even the most advanced',
    snap: observed({ ...live, members: [aDead, member('b', { lsn: 1_000_000, tags: { nofailover: true } }), c] }, expired),
    expect: ['grant c failover'],
    reason: /granting c/,
  },
  {
    name: 'fails over to nobody when the only replica is nofailover',
    snap: observed({ ...live, members: [aDead, member('b', { tags: { nofailover: true } })] }, expired),
    expect: ['none'],
    reason: /^no eligible member: a: state crashed, not running; b: nofailover tag \(a's lease expired/,
  },
  {
    name: 'skips a lagging member',
    snap: observed({ ...live, members: [aDead, member('b', { lsn: 1_000_000 - 2 * MiB })] }, expired),
    expect: ['none'],
    reason: /^no eligible member: a: state crashed, not running; b: lag 2097152 bytes > maximum_lag_on_failover 1048576 /,
  },
  {
    name: 'grants a member within maximum_lag_on_failover',
    snap: observed({ ...live, config: config({ maximumLagOnFailover: 4 * MiB }), members: [aDead, member('b', { lsn: 1_000_000 - 2 * MiB })] }, expired),
    expect: ['grant b failover'],
    reason: /granting b/,
  },
  {
    name: 'names every refusal when no member is eligible',
    snap: observed(
      { ...live, members: [aDead, member('b', { version: 8 }), member('c', { lsn: 1_000_000 - 20 * MiB })] },
      { ...expired, membersSeenAt: { a: NOW - 1_000, b: NOW - 12_000, c: NOW - 1_000 } },
    ),
    expect: ['none'],
    reason: /^no eligible member: a: state crashed, not running; b: heartbeat stale 12\.0 s \(ttl 10\.0 s\); c: lag 20971520 bytes > maximum_lag_on_failover 1048576/,
  },
  {
    name: 'skips a member whose timeline is behind the cluster',
    snap: observed({ ...live, leader: leader('a', { timeline: 2 }), members: [aDead, member('b', { timeline: 1, lsn: 1_000_000 }), member('c', { timeline: 2 })] }, expired),
    expect: ['grant c failover'],
    reason: /granting c/,
  },
  {
    name: 'refuses failover while paused',
    snap: observed({ ...live, members: [aDead, b, c], config: config({ paused: true }) }, expired),
    expect: ['none'],
    reason: /^paused: no automatic failover \(a's lease expired/,
  },
  {
    name: 'waits for bootstrap while no member initialized the cluster',
    snap: observed({ initialize: null, members: [member('a', { role: 'uninitialized', state: 'initializing', lsn: null })] }),
    expect: ['none'],
    reason: /^cluster not bootstrapped yet: agents race for initialize$/,
  },
  {
    name: 'grants the first term to the member that initialized the cluster',
    snap: observed({ initialize: initialize('a'), members: [a, member('b', { state: 'cloning', lsn: null })] }),
    expect: ['grant a bootstrap'],
    reason: /bootstrap: no leader yet \(cluster initialized by a\); granting a/,
    check: (d) => assert.equal(grantOf(d).expected, null),
  },
  // Manual failover
  {
    name: 'fails over to a named member at once, skipping the lag rule, while paused',
    snap: observed({ ...live, config: config({ paused: true }), members: [a, b, member('c', { lsn: 1_000_000 - 5 * MiB })], failover: request({ kind: 'failover', to: 'c' }) }),
    expect: ['grant c manual-failover', 'clearFailover'],
    reason: /manual failover to c requested by ops while paused, replacing a \(term 3, active\) \| failover to c granted: request done/,
    check: (d) => assert.deepEqual(grantOf(d).expected, { version: 40, term: 3 }),
  },
  {
    name: 'clears a manual failover to a nofailover member',
    snap: observed({ ...live, members: [a, b, member('c', { tags: { nofailover: true } })], failover: request({ kind: 'failover', to: 'c' }) }),
    expect: ['clearFailover'],
    reason: /^failover to c refused: nofailover tag$/,
  },
  {
    name: 'waits a while for a manual failover candidate with a stale heartbeat',
    snap: observed({ ...live, failover: request({ kind: 'failover', to: 'c' }) }, { membersSeenAt: { a: NOW, b: NOW, c: NOW - 30_000 } }),
    expect: ['none'],
    reason: /^failover to c: waiting for c to become eligible \(1\.0 s of 30\.0 s\): heartbeat stale 30\.0 s/,
  },
  {
    name: 'clears a manual failover to a member with a stale heartbeat once its patience ran out',
    snap: observed({ ...live, failover: request({ kind: 'failover', to: 'c' }) }, { membersSeenAt: { a: NOW, b: NOW, c: NOW - 30_000 }, requestSeenAt: NOW - 30_000 }),
    expect: ['clearFailover'],
    reason: /^failover to c refused: heartbeat stale 30\.0 s/,
  },
  {
    name: 'clears a manual failover from a member that no longer leads',
    snap: observed({ ...live, failover: request({ kind: 'failover', from: 'x', to: 'c' }) }),
    expect: ['clearFailover'],
    reason: /^failover from x, but a leads: cleared$/,
  },
  {
    name: 'clears a manual failover to the member that already leads',
    snap: observed({ ...live, leader: leader('c'), failover: request({ kind: 'failover', to: 'c' }) }),
    expect: ['clearFailover'],
    reason: /failover to c: c already leads \(term 3, active\)/,
  },
  // Switchover
  {
    name: 'starts a switchover to a named candidate with a handover',
    snap: observed({ ...live, failover: request({ kind: 'switchover', from: 'a', to: 'c' }) }),
    expect: ['beginHandover c'],
    reason: /^switchover from a to c requested by ops: a stops writes first$/,
    check: (d) => assert.deepEqual(d.actions[0], { type: 'beginHandover', expected: { version: 40, term: 3 }, candidate: 'c', reason: d.actions[0]?.reason }),
  },
  {
    name: 'waits during a handover for the leader to stop writes',
    snap: observed({ ...live, leader: leader('a', { phase: 'handover', candidate: 'c' }), failover: request({ kind: 'switchover', from: 'a', to: 'c' }) }),
    expect: ['none'],
    reason: /^waiting for a to stop writes \(handover to c\)$/,
  },
  {
    name: 'waits for the candidate to replay up to the final LSN',
    snap: observed({
      ...live,
      leader: leader('a', { phase: 'demoted', candidate: 'c', finalLsn: 1_000_100 }),
      members: [a, b, member('c', { lsn: 1_000_100, replayLsn: 1_000_050 })],
      failover: request({ kind: 'switchover', from: 'a', to: 'c' }),
    }),
    expect: ['none'],
    reason: /^waiting for c to replay up to 0\/F42A4 \(replayed 0\/F4272\)$/,
  },
  {
    name: 'grants the candidate once it replayed up to the final LSN',
    snap: observed({
      ...live,
      leader: leader('a', { phase: 'demoted', candidate: 'c', finalLsn: 1_000_100 }),
      members: [a, b, member('c', { lsn: 1_000_100 })],
      failover: request({ kind: 'switchover', from: 'a', to: 'c' }),
    }),
    expect: ['grant c switchover', 'clearFailover'],
    reason: /switchover from a to c: c replayed up to 0\/F42A4 \| switchover to c granted: request done/,
    check: (d) => assert.equal(grantOf(d).lastLsn, 1_000_100),
  },
  {
    name: 'finishes a handover whose request the operator cleared',
    snap: observed({ ...live, leader: leader('a', { phase: 'demoted', candidate: 'c', finalLsn: 998_000 }) }),
    expect: ['grant c switchover'],
    reason: /switchover from a to c/,
  },
  {
    name: 'waits a while for a demoted switchover candidate with a stale heartbeat',
    snap: observed(
      {
        ...live,
        leader: leader('a', { phase: 'demoted', candidate: 'c', finalLsn: 1_000_000 }),
        failover: request({ kind: 'switchover', from: 'a', to: 'c' }),
      },
      { membersSeenAt: { a: NOW - 1_000, b: NOW - 1_000, c: NOW - 15_000 } },
    ),
    expect: ['none'],
    reason: /^switchover to c: waiting for c to become eligible .*heartbeat stale 15\.0 s/,
  },
  {
    name: 'gives the lease back to the demoted holder when the candidate is gone',
    snap: observed(
      {
        ...live,
        leader: leader('a', { phase: 'demoted', candidate: 'c', finalLsn: 1_000_000 }),
        failover: request({ kind: 'switchover', from: 'a', to: 'c' }),
      },
      { membersSeenAt: { a: NOW - 1_000, b: NOW - 1_000, c: NOW - 45_000 }, requestSeenAt: NOW - 45_000 },
    ),
    expect: ['grant a switchover', 'clearFailover'],
    reason: /switchover to c abandoned \(c: heartbeat stale 45\.0 s.*\): granting a, the previous holder \(it stopped writes\)/,
  },
  {
    name: 'switches over to the best eligible member when no candidate is named',
    snap: observed({ ...live, failover: request({ kind: 'switchover', from: 'a' }) }),
    expect: ['beginHandover b'],
    reason: /switchover from a to b/,
  },
  {
    name: 'waits for a scheduled switchover',
    snap: observed({ ...live, failover: request({ kind: 'switchover', from: 'a', to: 'c', scheduledAt: NOW + 60_000 }) }),
    expect: ['none'],
    reason: /^switchover scheduled at 2025-01-15T12:01:00\.000Z \(in 60\.0 s\)$/,
  },
  {
    name: 'runs a scheduled switchover once its time came',
    snap: observed(
      { ...live, failover: request({ kind: 'switchover', from: 'a', to: 'c', scheduledAt: NOW + 60_000 }) },
      { leaderSeenAt: NOW + 59_000, membersSeenAt: NOW + 59_000, leaseExpiresAt: NOW + 80_000 },
    ),
    now: NOW + 60_000,
    expect: ['beginHandover c'],
    reason: /switchover from a to c/,
  },
  {
    name: 'refuses a switchover without a candidate while paused',
    snap: observed({ ...live, config: config({ paused: true }), failover: request({ kind: 'switchover', from: 'a' }) }),
    expect: ['clearFailover'],
    reason: /^paused: a switchover needs a named candidate \(to\): cleared$/,
  },
  {
    name: 'switches over to a named candidate while paused',
    snap: observed({ ...live, config: config({ paused: true }), failover: request({ kind: 'switchover', to: 'b' }) }),
    expect: ['beginHandover b'],
    reason: /switchover from a to b/,
  },
  {
    name: 'clears a switchover from a member that no longer leads',
    snap: observed({ ...live, leader: leader('b', { term: 4 }), endpoint: endpoint('b', 4), failover: request({ kind: 'switchover', from: 'a', to: 'c' }) }),
    expect: ['clearFailover'],
    reason: /^switchover from a, but b leads: cleared$/,
  },
  {
    name: 'waits a while for a lagging switchover candidate to catch up',
    snap: observed({ ...live, members: [a, b, member('c', { lsn: 1_000_000 - 2 * MiB })], failover: request({ kind: 'switchover', to: 'c' }) }),
    expect: ['none'],
    reason: /^switchover to c: waiting for c to become eligible \(1\.0 s of 30\.0 s\): lag 2097152 bytes/,
  },
  {
    name: 'clears a switchover to a candidate still lagging when its patience ran out',
    snap: observed({ ...live, members: [a, b, member('c', { lsn: 1_000_000 - 2 * MiB })], failover: request({ kind: 'switchover', to: 'c' }) }, { requestSeenAt: NOW - 31_000 }),
    expect: ['clearFailover'],
    reason: /^switchover to c refused: lag 2097152 bytes > maximum_lag_on_failover 1048576$/,
  },
  {
    name: 'turns a switchover whose leader died into a failover',
    snap: observed({ ...live, members: [aDead, b, c], failover: request({ kind: 'switchover', from: 'a', to: 'c' }) }, expired),
    expect: ['grant b failover', 'clearFailover'],
    reason: /granting b.*\| switchover void: a's lease expired/,
  },
  // Arbitration lease
  {
    name: "respects another arbiter's lease",
    snap: observed({ ...live, members: [aDead, b, c] }, { ...expired, owner: 'arb-2', leaseExpiresAt: NOW + 5_000 }),
    expect: ['none'],
    reason: /^arbiter arb-2 holds the lease until 2025-01-15T12:00:05\.000Z \(5\.0 s left\)$/,
  },
  {
    name: "takes over an expired arbiter's lease and keeps its observations",
    snap: observed({ ...live, members: [aDead, b, c] }, { ...expired, owner: 'arb-2', leaseExpiresAt: NOW }),
    expect: ['observe', 'grant b failover'],
    reason: /a's lease expired/,
    check: (d) => {
      const o = d.actions[0] as ObserveAction;
      assert.equal(o.state.owner, ARBITER);
      assert.equal(o.state.leaseExpiresAt, NOW + LEASE_MS);
      assert.deepEqual(o.state.leader, { term: 3, version: 40, seenAt: NOW - TTL_MS });
      assert.equal(o.expectedVersion, 9);
      assert.match(o.reason, /lease taken over from arb-2 \(expired at 2025-01-15T12:00:00\.000Z\)/);
    },
  },
  {
    name: 'renews its own lease when less than half is left',
    snap: observed(live, { leaseExpiresAt: NOW + LEASE_MS / 2 - 1 }),
    expect: ['observe', 'none'],
    reason: /leader a healthy/,
    check: (d) => assert.match((d.actions[0] as ObserveAction).reason, /^observe: lease renewed \(15\.0 s of 30\.0 s left\)$/),
  },
  // Endpoint
  {
    name: 'moves the endpoint to a leader that confirmed its promotion, and records it',
    snap: observed({ ...live, leader: leader('b', { term: 4 }), endpoint: endpoint('a', 3) }),
    expect: ['moveEndpoint b 4', 'recordHistoryStep promotedAt 4'],
    reason: /endpoint to b for term 4 \(was a, term 3\) \| b confirmed its promotion to term 4/,
    check: (d) => assert.deepEqual(d.actions[1], { type: 'recordHistoryStep', term: 4, step: 'promotedAt', at: NOW, reason: d.actions[1]?.reason }),
  },
  {
    name: 'moves the endpoint when none was recorded yet',
    snap: observed({ ...live, endpoint: null }),
    expect: ['moveEndpoint a 3', 'recordHistoryStep promotedAt 3'],
    reason: /endpoint to a for term 3 \(no record yet\)/,
  },
  {
    name: 'does not move the endpoint before the holder confirmed its promotion',
    snap: observed({ ...live, leader: leader('b', { term: 4, phase: 'granted' }), endpoint: endpoint('a', 3) }),
    expect: ['none'],
    reason: /waiting for its promotion/,
  },
  {
    name: 'never moves the endpoint back to an older term',
    snap: observed({ ...live, endpoint: endpoint('b', 4) }),
    expect: ['none'],
    reason: /leader a healthy/,
    check: (d) => assert.ok(d.reasons.some((r) => /endpoint record \(b, term 4\) is ahead of the leader's term 3: left alone/.test(r))),
  },
  {
    name: 'does not move the endpoint during a handover',
    snap: observed({ ...live, leader: leader('a', { phase: 'handover', candidate: 'c' }), endpoint: endpoint('z', 2) }),
    expect: ['none'],
    reason: /waiting for a to stop writes/,
  },
];

describe('decide: scenarios', () => {
  for (const s of scenarios) {
    test(s.name, () => {
      // Prepare
      const arbiterInput = input(s.snap, s.now === undefined ? {} : { now: s.now });

      // Act
      const d = decide(arbiterInput);

      // Assess
      assert.deepEqual(summary(d), s.expect, decisionReason(d));
      assert.match(decisionReason(d), s.reason);
      for (const action of d.actions) assert.ok(d.reasons.includes(action.reason), `reason of ${action.type} returned`);
      s.check?.(d);
    });
  }
});

describe('decide: observations', () => {
  test('keeps the seenAt of unchanged versions and sets now for changed and new ones', () => {
    // Prepare
    const snap = snapshot({
      ...live,
      members: [a, member('b', { version: 8 }), c, member('d')],
      arbiter: {
        owner: ARBITER,
        leaseExpiresAt: NOW + 20_000,
        leader: { term: 3, version: 40, seenAt: NOW - 3_000 },
        members: { a: { version: 7, seenAt: NOW - 5_000 }, b: { version: 7, seenAt: NOW - 5_000 }, c: { version: 7, seenAt: NOW - 4_000 }, gone: { version: 2, seenAt: NOW - 90_000 } },
        version: 12,
      },
    });

    // Act
    const d = decide(input(snap));

    // Assess
    const o = d.actions[0] as ObserveAction;
    assert.equal(o.type, 'observe');
    assert.equal(o.expectedVersion, 12);
    assert.deepEqual(o.state, {
      owner: ARBITER,
      leaseExpiresAt: NOW + LEASE_MS,
      leader: { term: 3, version: 40, seenAt: NOW - 3_000 },
      members: { a: { version: 7, seenAt: NOW - 5_000 }, b: { version: 8, seenAt: NOW }, c: { version: 7, seenAt: NOW - 4_000 }, d: { version: 7, seenAt: NOW } },
      request: null,
    });
    assert.match(o.reason, /member d first seen; heartbeat of b changed; member gone gone/);
  });

  test('writes nothing when nothing changed and more than half of its lease is left', () => {
    // Prepare
    const snap = observed(live, { leaseExpiresAt: NOW + LEASE_MS / 2 });

    // Act
    const d = decide(input(snap));

    // Assess
    assert.deepEqual(summary(d), ['none']);
  });

  test('takes the lease with a create when there is no arbiter item', () => {
    // Prepare
    const snap = snapshot(live);

    // Act
    const d = decide(input(snap));

    // Assess
    const o = d.actions[0] as ObserveAction;
    assert.equal(o.expectedVersion, null);
    assert.equal(o.state.owner, ARBITER);
    assert.match(o.reason, /^observe: lease taken by arb-1 \(no arbiter item yet\); leader a term 3 version 40 first seen; member a, b, c first seen$/);
  });

  test('refuses a time that is not whole milliseconds', () => {
    // Prepare
    const bad = input(observed(live), { now: NOW + 0.5 });

    // Act
    const act = (): Decision => decide(bad);

    // Assess
    assert.throws(act, { name: 'InvalidArbiterInputError', message: /invalid arbiter input, now: .*whole milliseconds/ });
  });

  test('refuses a lease that is not positive', () => {
    // Prepare
    const bad = input(observed(live), { leaseMs: 0 });

    // Act
    const act = (): Decision => decide(bad);

    // Assess
    assert.throws(act, { name: 'InvalidArbiterInputError', message: /leaseMs/ });
  });
});
