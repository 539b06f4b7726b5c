import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { MemberObservations } from '../../lib/ha/observation.js';
import {
  canTransition,
  decide,
  eligibility,
  eligibilityContext,
  type ArbiterInput,
  type Decision,
  type ObserveAction,
} from '../../lib/ha/arbiter.js';
import { arbiterInput } from './arbitraries.js';

const RUNS = 500;

/** The observations the decision was made with: the ones it writes, or the stored ones. */
function observationsUsed(input: ArbiterInput, d: Decision): MemberObservations {
  const o = d.actions.find((a): a is ObserveAction => a.type === 'observe');
  return o?.state.members ?? input.snapshot.arbiter?.members ?? {};
}

function ttlMs(input: ArbiterInput): number {
  return (input.snapshot.config?.config.ttl ?? 10) * 1000;
}

/** The stored observation held this very leader version for ttl of arbiter time. */
function storedLeaseExpired(input: ArbiterInput): boolean {
  const { leader, arbiter } = input.snapshot;
  const seen = arbiter?.leader;
  if (leader === null || seen === null || seen === undefined) return false;
  return seen.term === leader.term && seen.version === leader.version && input.now - seen.seenAt >= ttlMs(input);
}

describe('decide: properties', () => {
  test('never grants while the observed leader version changed within ttl, except switchover from demoted or manual failover', () => {
    fc.assert(
      fc.property(arbiterInput, (input) => {
        // Prepare
        const { leader, failover } = input.snapshot;

        // Act
        const d = decide(input);

        // Assess
        for (const a of d.actions) {
          if (a.type !== 'grant') continue;
          assert.deepEqual(a.grant.expected, leader === null ? null : { version: leader.version, term: leader.term });
          assert.equal(a.grant.grantedAt, input.now);
          if (leader === null || leader.phase === 'released') continue;
          const allowed =
            storedLeaseExpired(input) ||
            (leader.phase === 'demoted' && a.grant.kind === 'switchover') ||
            (failover?.request.kind === 'failover' && a.grant.kind === 'manual-failover');
          assert.ok(allowed, `grant ${a.grant.kind} to ${a.grant.holder} over live leader ${leader.holder} (${leader.phase}): ${a.reason}`);
        }
      }),
      { numRuns: RUNS },
    );
  });

  test('never grants to an ineligible member', () => {
    fc.assert(
      fc.property(arbiterInput, (input) => {
        // Prepare
        const { snapshot, now } = input;

        // Act
        const d = decide(input);

        // Assess
        const members = observationsUsed(input, d);
        for (const a of d.actions) {
          if (a.type !== 'grant') continue;
          const m = snapshot.members.find((x) => x.name === a.grant.holder);
          assert.ok(m, `grant to unknown member ${a.grant.holder}`);
          const leader = snapshot.leader;
          // The member's position, or for a holder stopped by its handover, the final LSN it reported.
          assert.equal(a.grant.lastLsn, m.lsn ?? (m.name === leader?.holder ? (leader.finalLsn ?? leader.lastLsn) : 0));
          switch (a.grant.kind) {
            case 'failover':
            case 'bootstrap':
              assert.equal(snapshot.config?.config.paused ?? false, false, 'automatic failover while paused');
              assert.deepEqual(eligibility(m, eligibilityContext(snapshot, members, now)), { eligible: true }, a.reason);
              break;
            case 'manual-failover':
              assert.equal(snapshot.failover?.request.to, m.name);
              assert.deepEqual(eligibility(m, eligibilityContext(snapshot, members, now, { skipLag: true })), { eligible: true }, a.reason);
              break;
            case 'switchover': {
              assert.equal(leader?.phase, 'demoted', a.reason);
              const finalLsn = leader.finalLsn ?? leader.lastLsn;
              const caughtUp = m.name === leader.candidate && (m.replayLsn ?? m.lsn ?? 0) >= finalLsn;
              const ctx = caughtUp
                ? eligibilityContext(snapshot, members, now, { skipLag: true })
                : eligibilityContext(snapshot, members, now, { stoppedHolder: leader.holder, referenceLsn: finalLsn });
              assert.deepEqual(eligibility(m, ctx), { eligible: true }, a.reason);
              // A planned handover loses nothing: only the holder or a member with every write up to the final LSN.
              assert.ok(m.name === leader.holder || (m.lsn ?? 0) >= finalLsn, `switchover to ${m.name} behind the final LSN: ${a.reason}`);
              break;
            }
            default:
              assert.fail(`unexpected grant kind ${a.grant.kind}`);
          }
        }
      }),
      { numRuns: RUNS },
    );
  });

  test('never moves the endpoint backwards or before the leader is active', () => {
    fc.assert(
      fc.property(arbiterInput, (input) => {
        // Prepare
        const { leader, endpoint } = input.snapshot;

        // Act
        const d = decide(input);

        // Assess
        for (const a of d.actions) {
          if (a.type !== 'moveEndpoint') continue;
          assert.ok(leader !== null && leader.phase === 'active', 'move with a leader that confirmed its promotion');
          assert.equal(a.member, leader.holder);
          assert.equal(a.term, leader.term);
          if (endpoint !== null) assert.ok(a.term > endpoint.term, `move to term ${a.term} over record term ${endpoint.term}`);
          assert.ok(!d.actions.some((x) => x.type === 'grant' || x.type === 'beginHandover'), 'no move while leadership changes');
        }
      }),
      { numRuns: RUNS },
    );
  });

  test('is deterministic and leaves its frozen input untouched', () => {
    fc.assert(
      fc.property(arbiterInput, (input) => {
        // Prepare
        const before = structuredClone(input);

        // Act
        const first = decide(input);
        const second = decide(input);

        // Assess
        assert.deepEqual(second, first);
        assert.deepEqual(input, before);
        assert.ok(Object.isFrozen(input.snapshot.members));
      }),
      { numRuns: RUNS },
    );
  });

  test('keeps the shape the shell relies on: observe first, none alone, leader changes allowed by the phase machine', () => {
    fc.assert(
      fc.property(arbiterInput, (input) => {
        // Prepare
        const { arbiter, leader } = input.snapshot;
        const heldByOther = arbiter !== null && arbiter.owner !== input.arbiterId && arbiter.leaseExpiresAt > input.now;

        // Act
        const d = decide(input);

        // Assess
        assert.ok(d.actions.length > 0);
        d.actions.forEach((a, i) => {
          assert.ok(a.reason.length > 0, `${a.type} has a reason`);
          if (a.type === 'observe') assert.equal(i, 0, 'observe first');
        });
        const work = d.actions.filter((a) => a.type !== 'observe');
        if (work.some((a) => a.type === 'none')) assert.equal(work.length, 1, 'none stands alone');
        if (heldByOther) assert.deepEqual(d.actions.map((a) => a.type), ['none']);
        const phase = leader?.phase ?? null;
        for (const a of d.actions) {
          if (a.type === 'grant') assert.ok(canTransition(phase, 'granted', 'arbiter'));
          if (a.type === 'beginHandover') assert.ok(canTransition(phase, 'handover', 'arbiter'), `handover from ${String(phase)}`);
        }
        assert.equal(d.metrics.failovers, d.actions.filter((a) => a.type === 'grant').length);
        assert.ok(d.actions.filter((a) => a.type === 'grant').length <= 1, 'one grant at most');
      }),
      { numRuns: RUNS },
    );
  });

  test('keeps the first-seen time of every version it saw before', () => {
    fc.assert(
      fc.property(arbiterInput, (input) => {
        // Prepare
        const { arbiter, leader, members } = input.snapshot;

        // Act
        const d = decide(input);

        // Assess
        const o = d.actions.find((a): a is ObserveAction => a.type === 'observe');
        if (o === undefined) return;
        assert.equal(o.state.owner, input.arbiterId);
        assert.equal(o.state.leaseExpiresAt, input.now + input.leaseMs);
        assert.equal(o.expectedVersion, arbiter?.version ?? null);
        for (const m of members) {
          const old = arbiter?.members[m.name];
          const expected = old !== undefined && old.version === m.version ? old.seenAt : input.now;
          assert.deepEqual(o.state.members[m.name], { version: m.version, seenAt: expected });
        }
        assert.deepEqual(Object.keys(o.state.members).sort(), members.map((m) => m.name).sort());
        const ol = arbiter?.leader ?? null;
        if (leader === null) assert.equal(o.state.leader, null);
        else {
          const same = ol !== null && ol.term === leader.term && ol.version === leader.version;
          assert.deepEqual(o.state.leader, { term: leader.term, version: leader.version, seenAt: same ? ol.seenAt : input.now });
        }
      }),
      { numRuns: RUNS },
    );
  });
});
