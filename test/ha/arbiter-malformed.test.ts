// The arbiter on a cluster with malformed items: a malformed singleton is
// unknown, not absent, so the steps that read it are held; the rest goes on.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ClusterSnapshot, ItemKind, MalformedEntry, SingletonKind } from '../../lib/dcs/store.js';
import { decide, type Decision, type NoneAction } from '../../lib/ha/arbiter.js';
import {
  config,
  deepFreeze,
  endpoint,
  input,
  leader,
  member,
  NOW,
  observed,
  primary,
  request,
  summary,
  sync,
  TTL_MS,
} from './fixtures.js';

const a = primary('a');
const aDead = { ...a, state: 'crashed' as const };
const b = member('b', { lsn: 999_000 });
const c = member('c', { lsn: 998_000 });
const live = { leader: leader('a'), members: [a, b, c], endpoint: endpoint('a', 3) };
const expired = { leaderSeenAt: NOW - TTL_MS };

function entry(kind: ItemKind, field: string, key: string = kind): MalformedEntry {
  return { kind, key, field, message: `${field}: Invalid input`, version: 9 };
}

/** The snapshot as a read finds it once `kinds` went malformed: each set aside (null) and listed. */
function withMalformed(snap: ClusterSnapshot, ...entries: MalformedEntry[]): ClusterSnapshot {
  const cleared: Record<string, null> = {};
  for (const e of entries) if (e.kind !== 'member' && e.kind !== 'history') cleared[e.kind] = null;
  const members = snap.members.filter((m) => !entries.some((e) => e.key === `member#${m.name}`));
  return deepFreeze({ ...snap, ...cleared, members, malformed: [...entries].sort((x, y) => (x.key < y.key ? -1 : 1)) });
}

const WRITES_BUT_OBSERVE = ['grant', 'beginHandover', 'clearFailover', 'moveEndpoint', 'recordHistoryStep'];

function assertHeld(d: Decision, key: string): void {
  const acting = d.actions.filter((x) => WRITES_BUT_OBSERVE.includes(x.type));
  assert.deepEqual(acting, [], `no action but observe; got ${summary(d).join(', ')}`);
  const held = d.actions.find((x): x is NoneAction => x.type === 'none' && x.code === 'held-malformed');
  assert.ok(held, `a none action with code held-malformed; got ${summary(d).join(', ')}`);
  assert.match(held.reason, new RegExp(`malformed .*${key} \\(field `));
}

describe('decide: malformed items', () => {
  const holding: readonly { kind: SingletonKind; field: string }[] = [
    { kind: 'leader', field: 'phase' },
    { kind: 'initialize', field: 'systemId' },
    { kind: 'config', field: 'config.ttl' },
    { kind: 'endpoint', field: 'member' },
    { kind: 'sync', field: 'standbys' },
    { kind: 'arbiter', field: 'leaseExpiresAt' },
  ];

  for (const h of holding) {
    test(`does not grant on an expired lease while the ${h.kind} item is malformed`, () => {
      // Prepare: the very cluster that would fail over b
      const snap = withMalformed(observed({ ...live, members: [aDead, b, c] }, expired), entry(h.kind, h.field));
      // Act
      const d = decide(input(snap));
      // Assess
      assertHeld(d, h.kind);
    });
  }

  test('does not take a malformed leader item for "no leader": no first grant, no term 1', () => {
    // Prepare: the leader item is unreadable; members are healthy and the cluster initialized
    const snap = withMalformed(observed({ members: [a, b, c] }), entry('leader', 'phase'));
    // Act
    const d = decide(input(snap));
    // Assess
    assertHeld(d, 'leader');
    assert.equal(d.metrics.malformedItems, 1);
  });

  test('does not grant or clear a manual failover request while the leader item is malformed', () => {
    // Prepare
    const snap = withMalformed(observed({ ...live, failover: request({ kind: 'failover', to: 'b' }) }), entry('leader', 'term'));
    // Act
    const d = decide(input(snap));
    // Assess
    assertHeld(d, 'leader');
  });

  test('does not clear a switchover request whose candidate is gone while the initialize item is malformed', () => {
    // Prepare: without the hold, the request naming a non-member is cleared at once
    const snap = withMalformed(observed({ ...live, failover: request({ kind: 'switchover', to: 'zed' }) }), entry('initialize', 'initializedBy'));
    // Act
    const d = decide(input(snap));
    // Assess
    assertHeld(d, 'initialize');
  });

  for (const kind of ['endpoint', 'leader', 'initialize', 'config'] as const) {
    test(`does not move the endpoint while the ${kind} item is malformed`, () => {
      // Prepare: a confirmed leader of term 4 and an endpoint record of term 3 behind it
      const base = observed({ ...live, leader: leader('a', { term: 4 }), endpoint: endpoint('b', 3) });
      const snap = withMalformed(base, entry(kind, 'x'));
      // Act
      const d = decide(input(snap));
      // Assess
      assert.deepEqual(
        d.actions.filter((x) => x.type === 'moveEndpoint' || x.type === 'recordHistoryStep'),
        [],
      );
    });
  }

  test('a malformed sync item holds failover but not the endpoint following the leader', () => {
    // Prepare: synchronous mode, the endpoint behind the confirmed leader
    const cfg = config({ synchronousMode: true });
    const snap = withMalformed(observed({ ...live, config: cfg, leader: leader('a', { term: 4 }), endpoint: endpoint('b', 3), sync: sync('a', ['b'], 4) }), entry('sync', 'standbys'));
    // Act
    const d = decide(input(snap));
    // Assess
    assert.deepEqual(summary(d), ['moveEndpoint a 4', 'recordHistoryStep promotedAt 4']);
    assert.match(d.reasons.join(' | '), /malformed sync \(field standbys\): no grant/);
  });

  test('keeps observing while the leader item is malformed', () => {
    // Prepare: b heartbeat changed since the arbiter last looked
    const base = observed({ ...live, members: [a, b, c] });
    const snap = withMalformed(deepFreeze({ ...base, members: [a, { ...b, version: 8 }, c] }), entry('leader', 'phase'));
    // Act
    const d = decide(input(snap));
    // Assess
    assert.equal(d.actions[0]?.type, 'observe');
    assertHeld(d, 'leader');
  });

  test('writes no observation over a malformed arbiter item, and grants nothing on a released lease', () => {
    // Prepare: a released lease is granted at once, with no observation needed
    const snap = withMalformed(observed({ ...live, leader: leader('a', { phase: 'released', version: 41 }), members: [b, c] }, { leaderSeenAt: NOW }), entry('arbiter', 'members'));
    // Act
    const d = decide(input(snap));
    // Assess
    assert.equal(d.actions.some((x) => x.type === 'observe'), false);
    assertHeld(d, 'arbiter');
  });

  test('a malformed failover item holds nothing: an expired lease still fails over', () => {
    // Prepare
    const snap = withMalformed(observed({ ...live, members: [aDead, b, c] }, expired), entry('failover', 'request.kind'));
    // Act
    const d = decide(input(snap));
    // Assess
    assert.deepEqual(summary(d), ['grant b failover']);
  });

  test('a malformed member item is no candidate; the others still fail over', () => {
    // Prepare: b, the best candidate, is unreadable
    const snap = withMalformed(observed({ ...live, members: [aDead, b, c] }, expired), entry('member', 'lsn', 'member#b'));
    // Act
    const d = decide(input(snap));
    // Assess
    assert.deepEqual(summary(d), ['observe', 'grant c failover']);
  });
});
