import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_CONFIG, type MemberItem } from '../../lib/dcs/items.js';
import { eligibility, rankCandidates, type EligibilityContext } from '../../lib/ha/arbiter.js';
import { config, initialize, leader, member, MiB, NOW, primary, sync } from './fixtures.js';

const base: EligibilityContext = {
  now: NOW,
  config: DEFAULT_CONFIG,
  leader: leader('a', { lastLsn: 10 * MiB, timeline: 2 }),
  initialize: initialize('a'),
  sync: null,
  members: { b: { version: 7, seenAt: NOW - 1_000 } },
};
const b = member('b', { lsn: 10 * MiB, timeline: 2 });
const syncMode = config({ synchronousMode: true }).config;
const strict = config({ synchronousMode: true, synchronousModeStrict: true }).config;

interface Case {
  readonly name: string;
  readonly member: MemberItem;
  readonly ctx?: Partial<EligibilityContext>;
  readonly refused?: RegExp;
}

const cases: readonly Case[] = [
  { name: 'a healthy replica', member: b },
  { name: 'a heartbeat just under ttl', member: b, ctx: { members: { b: { version: 7, seenAt: NOW - 9_999 } } } },
  { name: 'a heartbeat version seen ttl ago', member: b, ctx: { members: { b: { version: 7, seenAt: NOW - 10_000 } } }, refused: /^heartbeat stale 10\.0 s \(ttl 10\.0 s\)$/ },
  { name: 'a member seen for the first time', member: b, ctx: { members: {} } },
  { name: 'a member whose version changed since seen', member: b, ctx: { members: { b: { version: 6, seenAt: NOW - 60_000 } } } },
  { name: 'a crashed member', member: { ...b, state: 'crashed' }, refused: /^state crashed, not running$/ },
  { name: 'a running primary', member: { ...b, role: 'primary' }, refused: /^role primary, not a replica$/ },
  { name: 'the initializer running as primary before the first grant', member: primary('a'), ctx: { leader: null, members: {} } },
  { name: 'another primary before the first grant', member: primary('x'), ctx: { leader: null, members: {} }, refused: /^role primary, not a replica$/ },
  { name: 'a stopped holder running as primary', member: primary('a', { lsn: 10 * MiB }), ctx: { stoppedHolder: 'a', members: {} } },
  { name: 'a nofailover member', member: member('b', { lsn: 10 * MiB, timeline: 2, tags: { nofailover: true } }), refused: /^nofailover tag$/ },
  { name: 'a member with failover_priority 0', member: member('b', { lsn: 10 * MiB, timeline: 2, tags: { failoverPriority: 0 } }), refused: /^nofailover tag \(failover_priority 0\)$/ },
  { name: 'a member of another cluster', member: { ...b, systemId: '42' }, refused: /^system identifier 42 differs from the cluster's 7300000000000000001$/ },
  { name: 'a member whose system identifier is unknown', member: { ...b, systemId: null } },
  { name: 'a member with an unknown WAL position', member: { ...b, lsn: null }, refused: /^WAL position unknown$/ },
  { name: 'a member on an older timeline', member: { ...b, timeline: 1 }, refused: /^timeline 1 behind cluster's 2$/ },
  { name: 'a member lagging exactly the maximum', member: { ...b, lsn: 9 * MiB } },
  { name: 'a member lagging one byte more', member: { ...b, lsn: 9 * MiB - 1 }, refused: /^lag 1048577 bytes > maximum_lag_on_failover 1048576$/ },
  { name: 'a lagging member in a manual failover', member: { ...b, lsn: 0 }, ctx: { skipLag: true } },
  { name: 'lag against a given reference position', member: { ...b, lsn: 9 * MiB }, ctx: { referenceLsn: 11 * MiB }, refused: /^lag 2097152 bytes/ },
  { name: 'a synchronous standby', member: b, ctx: { config: syncMode, sync: sync('a', ['b']) } },
  { name: 'an asynchronous standby in synchronous mode', member: b, ctx: { config: syncMode, sync: sync('a', ['c']) }, refused: /^not a synchronous standby \(sync standbys of a: c\)$/ },
  { name: 'a standby of an earlier leader in synchronous mode', member: b, ctx: { config: strict, sync: sync('z', ['b']) }, refused: /^not a synchronous standby \(no sync record for leader a, synchronous_mode_strict\)$/ },
  {
    name: 'an asynchronous standby while the holder only holds an unconfirmed grant (its predecessor\'s record stands)',
    member: b,
    ctx: { config: syncMode, leader: leader('c', { phase: 'granted', lastLsn: 10 * MiB, timeline: 2 }), sync: sync('a', ['c']) },
    refused: /^not a synchronous standby \(sync standbys of a: c\)$/,
  },
  { name: 'the predecessor\'s synchronous standby while the holder only holds an unconfirmed grant', member: b, ctx: { config: syncMode, leader: leader('c', { phase: 'granted', lastLsn: 10 * MiB, timeline: 2 }), sync: sync('a', ['b']) } },
  { name: 'any replica before synchronous replication is in force', member: b, ctx: { config: syncMode, sync: null } },
  { name: 'any replica without a sync record in strict mode', member: b, ctx: { config: strict, sync: null }, refused: /synchronous_mode_strict/ },
  { name: 'no standby listed in strict mode', member: b, ctx: { config: strict, sync: sync('a', []) }, refused: /^not a synchronous standby \(sync standbys of a: none\)$/ },
];

describe('eligibility', () => {
  for (const c of cases) {
    test(`${c.refused ? 'refuses' : 'accepts'} ${c.name}`, () => {
      // Prepare
      const ctx = { ...base, ...c.ctx };

      // Act
      const e = eligibility(c.member, ctx);

      // Assess
      if (c.refused === undefined) {
        assert.deepEqual(e, { eligible: true });
      } else {
        assert.equal(e.eligible, false);
        assert.match(e.eligible ? '' : e.reason, c.refused);
      }
    });
  }
});

describe('rankCandidates', () => {
  test('orders by LSN, then failover priority, then name', () => {
    // Prepare
    const ms = [
      member('d', { lsn: 100, tags: { failoverPriority: 1 } }),
      member('c', { lsn: 100, tags: { failoverPriority: 1 } }),
      member('b', { lsn: 100, tags: { failoverPriority: 3 } }),
      member('e', { lsn: 200, tags: { failoverPriority: 1 } }),
      member('a', { lsn: 50, tags: { failoverPriority: 9 } }),
    ];

    // Act
    const ranked = rankCandidates(ms);

    // Assess
    assert.deepEqual(
      ranked.map((m) => m.name),
      ['e', 'b', 'c', 'd', 'a'],
    );
    assert.deepEqual(
      ms.map((m) => m.name),
      ['d', 'c', 'b', 'e', 'a'],
      'input order untouched',
    );
  });
});
