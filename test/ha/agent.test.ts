// The agent's rule table, tested as a table: situation -> actions, with reasons.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { decideAgent, type AgentInput, type LocalState } from '../../lib/ha/agent.js';
import { config, initialize, leader, member, primary, snapshot } from './fixtures.js';

const TTL_MS = 10_000;
const replicaHere: LocalState = { empty: false, systemId: '7300000000000000001', running: true, inRecovery: true, following: 'a', wasPrimary: false };
const primaryHere: LocalState = { ...replicaHere, inRecovery: false, following: null, wasPrimary: true };
const emptyHere: LocalState = { empty: true, systemId: null, running: false, inRecovery: null, following: null, wasPrimary: false };
const stoppedPrimary: LocalState = { ...primaryHere, running: false, inRecovery: null, cleanShutdown: false };

function input(o: Partial<AgentInput> & { name?: string }): AgentInput {
  return {
    name: 'b',
    tags: { nofailover: false, failoverPriority: 1, nosync: false, noloadbalance: false },
    snapshot: snapshot({ config: config(), leader: leader('a', { phase: 'active' }), members: [primary('a'), member('b'), member('c')] }),
    config: config().config,
    local: replicaHere,
    lease: { now: 100_000, lastRenewSentAt: null, term: null },
    shuttingDown: false,
    safetyMarginMs: 1000,
    ...o,
  };
}

const cases: [string, AgentInput, string, string[], RegExp][] = [
  ['an empty node and no initialize races to bootstrap', input({ snapshot: snapshot({ initialize: null }), local: emptyHere }), 'no data, cluster not initialized', ['bootstrap'], /race for initialize/],
  [
    'a nofailover node never bootstraps',
    input({ snapshot: snapshot({ initialize: null }), local: emptyHere, tags: { nofailover: true, failoverPriority: 0, nosync: false, noloadbalance: false } }),
    'no data, cluster not initialized',
    ['wait'],
    /nofailover/,
  ],
  ['an empty node clones from the active leader', input({ local: emptyHere }), 'no data, a leader to clone from', ['clone'], /clone from the leader a/],
  ['an empty node waits while the leader is not confirmed', input({ local: emptyHere, snapshot: snapshot({ leader: leader('a', { phase: 'granted' }), members: [primary('a')] }) }), 'no data, no leader yet', ['wait'], /no active leader/],
  [
    'data of another system is refused before it joins',
    input({ local: { ...stoppedPrimary, wasPrimary: false, systemId: '42' } }),
    'data of another cluster',
    ['refuse'],
    /belongs to system 42.*refusing to join/,
  ],
  [
    'a running server is not stopped because the initialize item names another system',
    input({ name: 'a', local: { ...primaryHere, systemId: '42' } }),
    'holder',
    ['renew'],
    /renew term/,
  ],
  [
    'the initializer without a lease takes the first lease, then starts',
    input({ name: 'a', local: stoppedPrimary, snapshot: snapshot({ initialize: initialize('a'), leader: null, members: [primary('a')] }) }),
    'initialized by this node, no lease taken yet',
    ['takeFirstLease', 'startPrimary'],
    /bootstrap/,
  ],
  [
    'a running standby named initializer by the store, with no leader item, is not promoted on that word',
    input({ name: 'b', local: { ...stoppedPrimary, running: true, inRecovery: true, wasPrimary: false }, snapshot: snapshot({ initialize: initialize('b'), leader: null, members: [primary('a'), member('b')] }) }),
    'no leader',
    ['wait'],
    /no leader/,
  ],
  [
    'a stopped standby named initializer by the store is started read-only, never as a primary',
    input({ name: 'b', local: { ...stoppedPrimary, wasPrimary: false }, snapshot: snapshot({ initialize: initialize('b'), leader: null, members: [primary('a'), member('b')] }) }),
    'no leader, PostgreSQL down',
    ['startStandby'],
    /start read-only/,
  ],
  ['a replica granted the lease confirms it, then promotes', input({ snapshot: snapshot({ leader: leader('b', { phase: 'granted', term: 4 }), members: [member('b')] }) }), 'granted the lease', ['promote'], /granted term 4: confirm, then promote/],
  [
    'a stopped node granted the lease starts read-only, then confirms and promotes',
    input({ local: { ...stoppedPrimary, wasPrimary: false }, snapshot: snapshot({ leader: leader('b', { phase: 'granted', term: 4 }), members: [member('b')] }) }),
    'granted the lease',
    ['startStandby', 'promote'],
    /start read-only first/,
  ],
  ['a primary granted the lease confirms', input({ name: 'a', local: primaryHere, snapshot: snapshot({ leader: leader('a', { phase: 'granted' }), members: [primary('a')] }) }), 'granted the lease', ['confirm'], /already primary/],
  ['the holder renews', input({ name: 'a', local: primaryHere }), 'holder', ['renew'], /renew term/],
  ['the holder with PostgreSQL down starts it read-only, renews, then promotes', input({ name: 'a', local: stoppedPrimary }), 'holder, PostgreSQL down', ['startStandby', 'promote'], /start it read-only first/],
  ['the holder asked to hand over stops writes', input({ name: 'a', local: primaryHere, snapshot: snapshot({ leader: leader('a', { phase: 'handover', candidate: 'b' }) }) }), 'asked to hand over', ['handover'], /switchover to b/],
  [
    'a holder asked to hand over with PostgreSQL crashed lets the lease run out instead of renewing',
    input({ name: 'a', local: stoppedPrimary, snapshot: snapshot({ leader: leader('a', { phase: 'handover', candidate: 'b' }) }) }),
    'asked to hand over, no final LSN to report',
    ['wait'],
    /no final LSN; the lease runs out/,
  ],
  ['a demoted holder keeps the lease and stays out of writes', input({ name: 'a', local: primaryHere, snapshot: snapshot({ leader: leader('a', { phase: 'demoted', candidate: 'b' }) }) }), 'handed over, waiting for the candidate', ['demote', 'renew'], /stay out of writes/],
  ['a primary that is not the holder demotes at once', input({ local: primaryHere }), 'primary without the lease', ['demote'], /lease belongs to a/],
  ['a replica of the leader waits', input({}), 'replica of the leader', ['wait'], /streaming from a/],
  ['a replica following someone else re-points', input({ local: { ...replicaHere, following: 'c' } }), 'replica to re-point or start', ['follow'], /follow a \(was following c\)/],
  ['a stopped former primary follows with a rewind', input({ local: stoppedPrimary }), 'replica to re-point or start', ['follow'], /start as a replica of a/],
  [
    'a standby that crashed restarts as a standby, without a rewind',
    input({ local: { ...stoppedPrimary, wasPrimary: false, cleanShutdown: false } }),
    'replica to re-point or start',
    ['follow'],
    /start as a replica of a/,
  ],
  [
    'a replica that cannot stream while behind the leader timeline is rewound',
    input({ local: { ...replicaHere, receiverStuckMs: 11_000 } }),
    'replica of the leader, diverged',
    ['follow'],
    /cannot stream from a for 11\.0 s.*stop and rewind/,
  ],
  [
    'a replica not streaming for less than ttl is given time (a restart, a timeline switch)',
    input({ local: { ...replicaHere, receiverStuckMs: 5000 } }),
    'replica of the leader',
    ['wait'],
    /streaming from a/,
  ],
  [
    'a stopped node waits while the new leader has not confirmed its promotion',
    input({ local: { ...stoppedPrimary, wasPrimary: false }, snapshot: snapshot({ leader: leader('a', { phase: 'granted' }), members: [member('a'), member('b')] }) }),
    'no leader, PostgreSQL down',
    ['startStandby'],
    /start read-only/,
  ],
  ['a released lease: wait for the arbiter', input({ snapshot: snapshot({ leader: leader('a', { phase: 'released' }) }) }), 'no leader', ['wait'], /released by a/],
  [
    'after a full stop, a node with data starts read-only so the arbiter can elect',
    input({ local: stoppedPrimary, snapshot: snapshot({ leader: leader('a', { phase: 'released' }) }) }),
    'no leader, PostgreSQL down',
    ['startStandby'],
    /lease released by a: start read-only/,
  ],
  [
    'store unreachable, lease still good: wait',
    input({ name: 'a', snapshot: null, local: primaryHere, lease: { now: 105_000, lastRenewSentAt: 100_000, term: 3 } }),
    'store unreachable',
    ['wait'],
    /lease good for 4\.0 s more/,
  ],
  [
    'store unreachable, lease run out: fence at once',
    input({ name: 'a', snapshot: null, local: primaryHere, lease: { now: 109_000, lastRenewSentAt: 100_000, term: 3 } }),
    'store unreachable while holding the lease, lease run out',
    ['demote'],
    /fencing: no successful renew for 9\.0 s/,
  ],
  ['clean shutdown of the holder demotes, then releases', input({ name: 'a', local: primaryHere, shuttingDown: true }), 'shutting down while holding the lease', ['demote', 'release'], /clean shutdown/],
  ['clean shutdown of a replica stops', input({ shuttingDown: true }), 'shutting down', ['stop'], /clean shutdown/],
];

describe('agent rules', () => {
  for (const [name, given, situation, actions, reason] of cases) {
    test(name, () => {
      // Act
      const d = decideAgent(given);
      // Assess
      assert.equal(d.situation, situation);
      assert.deepEqual(
        d.actions.map((a) => a.type),
        actions,
      );
      assert.match(d.actions.map((a) => a.reason.text).join('; '), reason);
      assert.ok(d.actions.every((a) => typeof a.reason.code === 'string' && a.reason.code.length > 0));
    });
  }

  test('rewinds a former primary and a cleanly stopped standby, never a standby that crashed', () => {
    // Prepare
    const rewindOf = (local: LocalState): unknown => decideAgent(input({ local })).actions.find((a) => a.type === 'follow');
    // Act + Assess
    assert.deepEqual(rewindOf(stoppedPrimary), { type: 'follow', leader: 'a', rewind: true, reason: { code: 'replica_follow', text: 'start as a replica of a' } });
    assert.equal((rewindOf({ ...stoppedPrimary, wasPrimary: false, cleanShutdown: true }) as { rewind: boolean }).rewind, true);
    assert.equal((rewindOf({ ...stoppedPrimary, wasPrimary: false, cleanShutdown: false }) as { rewind: boolean }).rewind, false);
  });

  test('property: a node that is not a primary becomes one only through a promote that takes the lease by CAS first', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('a', 'b', 'c'),
        fc.constantFrom('granted', 'active', 'handover', 'demoted', 'released' as const),
        fc.constantFrom(replicaHere, { ...stoppedPrimary, wasPrimary: false }, stoppedPrimary),
        fc.boolean(),
        (holder, phase, local, storeUp) => {
          // Prepare: this node (b) holds data and is not running as a primary
          const snap = snapshot({ config: config(), leader: leader(holder, { phase }), members: [member('a'), member('b'), member('c')] });
          // Act
          const d = decideAgent(input({ local, snapshot: storeUp ? snap : null }));
          // Assess
          assert.ok(!d.actions.some((a) => a.type === 'startPrimary'), `${d.situation}: ${d.actions.map((a) => a.type).join(',')}`);
          for (const a of d.actions) {
            if (a.type !== 'promote') continue;
            assert.equal(a.via, phase === 'granted' ? 'confirm' : 'renew', d.situation);
            assert.ok(storeUp && holder === 'b' && (phase === 'granted' || phase === 'active'), d.situation);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  test('property: a primary that does not hold the lease is never left taking writes', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('a', 'b', 'c'),
        fc.constantFrom('granted', 'active', 'handover', 'demoted', 'released' as const),
        fc.boolean(),
        fc.integer({ min: 0, max: 20_000 }),
        (holder, phase, storeUp, sinceRenew) => {
          // Prepare: this node (b) runs as a primary
          const snap = snapshot({ config: config(), leader: leader(holder, { phase }), members: [primary('a'), member('b'), member('c')] });
          const d = decideAgent(input({ local: primaryHere, snapshot: storeUp ? snap : null, lease: { now: 100_000 + sinceRenew, lastRenewSentAt: 100_000, term: 1 } }));
          const types = d.actions.map((a) => a.type);
          // Assess
          const holds = storeUp && holder === 'b' && phase !== 'released';
          const leaseRunOut = sinceRenew >= TTL_MS - 1000;
          if (!holds && (storeUp || leaseRunOut)) assert.ok(types.includes('demote'), `${d.situation}: ${types.join(',')}`);
        },
      ),
      { numRuns: 500 },
    );
  });
});
