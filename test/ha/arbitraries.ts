// fast-check generators of whole cluster snapshots as the arbiter may read
// them: consistent and inconsistent ones, observations fresh and stale,
// leases ours, another arbiter's, expired or live.
import fc from 'fast-check';
import {
  clusterConfigSchema,
  LEADER_PHASES,
  MEMBER_ROLES,
  MEMBER_STATES,
  type ArbiterItem,
  type FailoverItem,
  type LeaderItem,
  type MemberItem,
} from '../../lib/dcs/items.js';
import type { ArbiterInput } from '../../lib/ha/arbiter.js';
import { ARBITER, deepFreeze, LEASE_MS, member, MiB, NOW, snapshot, SYSTEM_ID } from './fixtures.js';

export const NAMES = ['a', 'b', 'c', 'd'] as const;
const name = fc.constantFrom(...NAMES);
/** Ages around the default ttl of 10 s. */
const age = fc.oneof(fc.integer({ min: 0, max: 30_000 }), fc.constantFrom(9_999, 10_000, 10_001));

const memberPart = fc.record({
  role: fc.oneof({ weight: 4, arbitrary: fc.constant('replica' as const) }, { weight: 1, arbitrary: fc.constantFrom(...MEMBER_ROLES) }),
  state: fc.oneof({ weight: 4, arbitrary: fc.constant('running' as const) }, { weight: 1, arbitrary: fc.constantFrom(...MEMBER_STATES) }),
  timeline: fc.integer({ min: 1, max: 3 }),
  /** How far behind the leader's lastLsn; null: WAL position unknown. */
  lsnBehind: fc.option(
    fc.oneof({ weight: 3, arbitrary: fc.integer({ min: -4_096, max: MiB }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 4 * MiB }) }),
    { nil: null, freq: 10 },
  ),
  replayBehind: fc.integer({ min: 0, max: 2_000 }),
  nofailover: fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  failoverPriority: fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 1, max: 3 }) }, { weight: 1, arbitrary: fc.constant(0) }),
  systemId: fc.oneof({ weight: 8, arbitrary: fc.constant(SYSTEM_ID) }, { weight: 1, arbitrary: fc.constantFrom(null, '99') }),
  version: fc.integer({ min: 1, max: 5 }),
});

const leaderPart = fc.record({
  holder: name,
  term: fc.integer({ min: 1, max: 5 }),
  phase: fc.oneof({ weight: 3, arbitrary: fc.constant('active' as const) }, { weight: 3, arbitrary: fc.constantFrom(...LEADER_PHASES) }),
  lastLsn: fc.integer({ min: 4 * MiB, max: 8 * MiB }),
  timeline: fc.integer({ min: 1, max: 3 }),
  candidate: fc.option(name, { nil: undefined }),
  finalLsnAhead: fc.option(fc.integer({ min: 0, max: 8_192 }), { nil: undefined }),
  version: fc.integer({ min: 1, max: 50 }),
});

const observationPart = fc.record({
  /** 0: the version in the snapshot; otherwise an older one. */
  versionBehind: fc.constantFrom(0, 0, 0, 1, 2),
  termBehind: fc.constantFrom(0, 0, 0, 0, 1),
  age,
});

const scenePart = fc.record({
  present: fc.subarray([...NAMES]),
  members: fc.tuple(memberPart, memberPart, memberPart, memberPart),
  leader: fc.option(leaderPart, { nil: null, freq: 6 }),
  initialized: fc.oneof({ weight: 6, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  initializedBy: name,
  config: fc.option(
    fc.record({
      paused: fc.boolean(),
      synchronousMode: fc.boolean(),
      synchronousModeStrict: fc.boolean(),
      maximumLagOnFailover: fc.constantFrom(0, MiB, 4 * MiB),
    }),
    { nil: null },
  ),
  failover: fc.oneof(
    { weight: 7, arbitrary: fc.constant(null) },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constantFrom('switchover' as const, 'failover' as const),
        /** 'holder': the leader the operator saw is the one leading. */
        from: fc.oneof(
          { weight: 3, arbitrary: fc.constant<'holder'>('holder') },
          { weight: 1, arbitrary: fc.constant(undefined) },
          { weight: 1, arbitrary: name },
        ),
        to: fc.option(name, { nil: undefined }),
        scheduledIn: fc.option(fc.integer({ min: -60_000, max: 60_000 }), { nil: undefined, freq: 3 }),
      }),
    },
  ),
  sync: fc.option(fc.record({ leader: name, standbys: fc.subarray([...NAMES]) }), { nil: null }),
  endpoint: fc.option(fc.record({ member: name, term: fc.integer({ min: 1, max: 6 }) }), { nil: null }),
  arbiter: fc.option(
    fc.record({
      owner: fc.constantFrom(ARBITER, ARBITER, 'arb-2'),
      leaseIn: fc.integer({ min: -30_000, max: 30_000 }),
      leader: fc.option(observationPart, { nil: null, freq: 6 }),
      members: fc.tuple(...NAMES.map(() => fc.option(observationPart, { nil: null, freq: 4 }))),
      version: fc.integer({ min: 1, max: 100 }),
    }),
    { nil: null, freq: 6 },
  ),
  now: fc.integer({ min: NOW, max: NOW + 5_000 }),
});

export type ScenePart = typeof scenePart extends fc.Arbitrary<infer T> ? T : never;

function buildMembers(s: ScenePart): MemberItem[] {
  const top = s.leader?.lastLsn ?? 6 * MiB;
  return NAMES.flatMap((n, i) => {
    const p = s.members[i];
    if (!s.present.includes(n) || p === undefined) return [];
    const lsn = p.lsnBehind === null ? null : Math.max(0, top - p.lsnBehind);
    return [
      member(n, {
        role: p.role,
        state: p.state,
        timeline: p.timeline,
        lsn,
        replayLsn: lsn === null ? null : Math.max(0, lsn - p.replayBehind),
        tags: { nofailover: p.nofailover, failoverPriority: p.failoverPriority },
        systemId: p.systemId,
        version: p.version,
      }),
    ];
  });
}

function buildArbiter(s: ScenePart, leader: LeaderItem | null, members: readonly MemberItem[], now: number): ArbiterItem | null {
  const a = s.arbiter;
  if (a === null) return null;
  const observedMembers: Record<string, { version: number; seenAt: number }> = {};
  NAMES.forEach((n, i) => {
    const o = a.members[i];
    const m = members.find((x) => x.name === n);
    if (o === null || o === undefined) return;
    observedMembers[n] = { version: Math.max(1, (m?.version ?? 3) - o.versionBehind), seenAt: now - o.age };
  });
  const lo = a.leader;
  return {
    owner: a.owner,
    leaseExpiresAt: now + a.leaseIn,
    leader:
      lo === null || leader === null
        ? null
        : { term: Math.max(1, leader.term - lo.termBehind), version: Math.max(1, leader.version - lo.versionBehind), seenAt: now - lo.age },
    members: observedMembers,
    version: a.version,
  };
}

export function buildInput(s: ScenePart): ArbiterInput {
  const members = buildMembers(s);
  const leader: LeaderItem | null =
    s.leader === null
      ? null
      : (({ finalLsnAhead, ...l }) => ({
          ...l,
          finalLsn: finalLsnAhead === undefined ? undefined : l.lastLsn + finalLsnAhead,
          previous: null,
          reason: 'generated',
        }))(s.leader);
  const failover: FailoverItem | null =
    s.failover === null
      ? null
      : {
          request: {
            kind: s.failover.kind,
            from: s.failover.from === 'holder' ? (leader?.holder ?? 'a') : s.failover.from,
            to: s.failover.kind === 'failover' ? (s.failover.to ?? 'b') : s.failover.to,
            scheduledAt: s.failover.scheduledIn === undefined ? undefined : s.now + s.failover.scheduledIn,
            requestedAt: NOW - 5_000,
            requestedBy: 'ops',
          },
          version: 3,
        };
  const snap = snapshot({
    initialize: s.initialized ? { systemId: SYSTEM_ID, initializedBy: s.initializedBy, version: 1 } : null,
    config: s.config === null ? null : { config: clusterConfigSchema.parse(s.config), version: 1 },
    leader,
    members,
    failover,
    sync: s.sync === null ? null : { ...s.sync, term: leader?.term ?? 1, version: 1 },
    endpoint: s.endpoint === null ? null : { ...s.endpoint, target: 'x', movedAt: NOW - 1, version: 1 },
    arbiter: buildArbiter(s, leader, members, s.now),
  });
  return deepFreeze({ snapshot: snap, now: s.now, arbiterId: ARBITER, leaseMs: LEASE_MS });
}

export const arbiterInput: fc.Arbitrary<ArbiterInput> = scenePart.map(buildInput);
