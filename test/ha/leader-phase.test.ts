import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LEADER_PHASES, type LeaderPhase } from '../../lib/dcs/items.js';
import { canTransition, findTransition, LEADER_PHASE_TRANSITIONS, type PhaseActor } from '../../lib/ha/leader-phase.js';

type Row = readonly [from: LeaderPhase | null, to: LeaderPhase, by: PhaseActor, reason: string];

/** Every allowed transition; anything else is refused. */
const allowed: readonly Row[] = [
  ['granted', 'active', 'holder', 'promoted'],
  ['active', 'handover', 'arbiter', 'switchover requested'],
  ['handover', 'demoted', 'holder', 'stopped writes'],
  ['granted', 'released', 'holder', 'clean shutdown'],
  ['active', 'released', 'holder', 'clean shutdown'],
  ['handover', 'released', 'holder', 'clean shutdown'],
  ['demoted', 'released', 'holder', 'clean shutdown'],
  [null, 'granted', 'arbiter', 'grant (new term)'],
  ['granted', 'granted', 'arbiter', 'grant (new term)'],
  ['active', 'granted', 'arbiter', 'grant (new term)'],
  ['handover', 'granted', 'arbiter', 'grant (new term)'],
  ['demoted', 'granted', 'arbiter', 'grant (new term)'],
  ['released', 'granted', 'arbiter', 'grant (new term)'],
];

describe('leader phase state machine', () => {
  test('holds exactly the allowed transitions', () => {
    // Prepare
    const expected = allowed.map(([from, to, by, reason]) => ({ from, to, by, reason }));

    // Act
    const table = [...LEADER_PHASE_TRANSITIONS];

    // Assess
    const key = (t: { from: unknown; to: unknown; by: unknown }): string => `${String(t.from)}>${String(t.to)}>${String(t.by)}`;
    assert.deepEqual(
      [...table].sort((x, y) => key(x).localeCompare(key(y))),
      [...expected].sort((x, y) => key(x).localeCompare(key(y))),
    );
  });

  for (const from of [null, ...LEADER_PHASES]) {
    for (const to of LEADER_PHASES) {
      for (const by of ['arbiter', 'holder'] as const) {
        const row = allowed.find(([f, t, b]) => f === from && t === to && b === by);
        test(`${row ? 'allows' : 'refuses'} ${String(from)} -> ${to} by the ${by}`, () => {
          // Prepare
          const expected = row !== undefined;

          // Act
          const result = canTransition(from, to, by);

          // Assess
          assert.equal(result, expected);
          assert.equal(findTransition(from, to, by)?.reason, row?.[3]);
        });
      }
    }
  }

  test('is frozen', () => {
    // Prepare
    const first = LEADER_PHASE_TRANSITIONS[0];

    // Act
    const frozen = Object.isFrozen(LEADER_PHASE_TRANSITIONS) && first !== undefined && Object.isFrozen(first);

    // Assess
    assert.equal(frozen, true);
  });
});
