import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { slotName } from '../../lib/agent/effects.js';
import { clusterConfigSchema, DEFAULT_CONFIG } from '../../lib/dcs/items.js';
import { planPermanentCopies, planSlots, SLOT_PREFIX, slotGraceMs, type ExistingSlot, type SlotPlanInput, type SlotReasonCode } from '../../lib/ha/slots.js';

const NOW = 10_000_000;
const GRACE = 60_000;

const slot = (name: string, o: Partial<ExistingSlot> = {}): ExistingSlot => ({ name, type: 'physical', active: false, retainedBytes: 4096, ...o });

/** node1 is the primary; node2 and node3 are members heard from just now. */
const base: SlotPlanInput = {
  slots: [slot('pgfloat_node2', { active: true }), slot('pgfloat_node3')],
  self: 'node1',
  members: ['node1', 'node2', 'node3'],
  permanentSlots: {},
  membersSeen: { node1: { at: NOW }, node2: { at: NOW - 1_000 }, node3: { at: NOW - 1_000 } },
  listedSince: {},
  now: NOW,
  graceMs: GRACE,
};

interface Case {
  readonly name: string;
  readonly input: Partial<SlotPlanInput>;
  readonly create?: readonly string[];
  readonly drop?: readonly (readonly [string, SlotReasonCode, RegExp?])[];
  /** Slots kept with this reason code (others may be kept too). */
  readonly keep?: readonly (readonly [string, SlotReasonCode, RegExp?])[];
}

const cases: readonly Case[] = [
  {
    name: 'keeps the slots of members heard from within the grace period',
    input: {},
    keep: [
      ['pgfloat_node2', 'member', /^slot pgfloat_node2 is member node2's$/],
      ['pgfloat_node3', 'member'],
    ],
  },
  {
    name: 'creates a missing slot of a member, never one for the primary itself',
    input: { slots: [slot('pgfloat_node2', { active: true })] },
    create: ['pgfloat_node3'],
  },
  {
    name: 'keeps and creates nothing for a member not yet judged (no heartbeat seen)',
    input: { slots: [], membersSeen: {} },
    create: ['pgfloat_node2', 'pgfloat_node3'],
  },
  {
    name: 'keeps the slot of a member silent for exactly the grace period',
    input: { membersSeen: { node2: { at: NOW }, node3: { at: NOW - GRACE } } },
    keep: [['pgfloat_node3', 'member']],
  },
  {
    name: 'drops the slot of a member silent past the grace period',
    input: { membersSeen: { node2: { at: NOW }, node3: { at: NOW - GRACE - 1 } } },
    drop: [['pgfloat_node3', 'member-silent', /^member node3's heartbeat has not changed for 60\.0 s, over slot_grace_period 60\.0 s; its slot pgfloat_node3 retains 4096 bytes of WAL$/]],
  },
  {
    name: 'creates no slot for a member silent past the grace period',
    input: { slots: [slot('pgfloat_node2', { active: true })], membersSeen: { node2: { at: NOW }, node3: { at: NOW - 2 * GRACE } } },
  },
  {
    name: 'drops the slot of no member once listed for longer than the grace period',
    input: { members: ['node1', 'node2'], listedSince: { pgfloat_node3: NOW - GRACE - 1 } },
    drop: [['pgfloat_node3', 'no-member', /^slot pgfloat_node3 belongs to no member and is not in permanent_slots; it retains 4096 bytes of WAL$/]],
  },
  {
    name: 'keeps the slot of no member listed within the grace period (a clone whose member item is not written yet)',
    input: { members: ['node1', 'node2'], listedSince: { pgfloat_node3: NOW - GRACE } },
    keep: [['pgfloat_node3', 'unowned-recent', /within slot_grace_period 60\.0 s$/]],
  },
  {
    name: 'keeps the slot of no member listed for the first time',
    input: { members: ['node1', 'node2'], listedSince: {} },
    keep: [['pgfloat_node3', 'unowned-recent']],
  },
  {
    name: 'drops the primary\'s own slot',
    input: { slots: [slot('pgfloat_node1', { retainedBytes: null }), slot('pgfloat_node2', { active: true }), slot('pgfloat_node3')] },
    drop: [['pgfloat_node1', 'own-slot', /^slot pgfloat_node1 is this primary's own: nobody streams through it here; it retains no WAL$/]],
  },
  {
    name: 'never drops an active slot, whatever would drop it',
    input: {
      slots: [slot('pgfloat_node2', { active: true }), slot('pgfloat_node3', { active: true }), slot('pgfloat_ghost', { active: true })],
      membersSeen: { node2: { at: NOW }, node3: { at: NOW - 2 * GRACE } },
      listedSince: { pgfloat_ghost: NOW - 2 * GRACE },
    },
    keep: [
      ['pgfloat_node3', 'active', /^slot pgfloat_node3 is kept while a walsender streams through it \(else: member node3's heartbeat/],
      ['pgfloat_ghost', 'active', /\(else: slot pgfloat_ghost belongs to no member/],
    ],
  },
  {
    name: 'leaves alone and reports slots pgfloat did not name',
    input: { slots: [slot('pgfloat_node2', { active: true }), slot('pgfloat_node3'), slot('barman'), slot('node3')], listedSince: { barman: 0, node3: 0 } },
    keep: [
      ['barman', 'foreign', /^slot barman \(physical\) was not made by pgfloat: left alone; it retains 4096 bytes of WAL$/],
      ['node3', 'foreign'],
    ],
  },
  {
    name: 'leaves alone a logical slot, even under pgfloat\'s naming',
    input: { slots: [slot('pgfloat_node2', { active: true }), slot('pgfloat_node3'), slot('pgfloat_cdc', { type: 'logical' })], listedSince: { pgfloat_cdc: 0 } },
    keep: [['pgfloat_cdc', 'foreign', /\(logical\)/]],
  },
  {
    name: 'keeps a permanent slot, and creates a missing one',
    input: { permanentSlots: { standby_dr: { type: 'physical' }, archiver: { type: 'physical' } }, slots: [slot('pgfloat_node2', { active: true }), slot('pgfloat_node3'), slot('standby_dr')] },
    create: ['archiver'],
    keep: [['standby_dr', 'permanent', /^slot standby_dr is in permanent_slots$/]],
  },
  {
    name: 'keeps a permanent slot under pgfloat\'s naming that no member owns',
    input: { permanentSlots: { pgfloat_old: { type: 'physical' } }, slots: [slot('pgfloat_node2', { active: true }), slot('pgfloat_node3'), slot('pgfloat_old')], listedSince: { pgfloat_old: 0 } },
    keep: [['pgfloat_old', 'permanent']],
  },
  {
    name: 'keeps a permanent slot named like a silent member\'s',
    input: { permanentSlots: { pgfloat_node3: { type: 'physical' } }, membersSeen: { node2: { at: NOW }, node3: { at: 0 } } },
    keep: [['pgfloat_node3', 'permanent']],
  },
  {
    name: 'names member slots as the agent does (upper case and other characters folded)',
    input: { slots: [], members: ['node1', 'Web-01'], membersSeen: {} },
    create: [slotName('Web-01')],
  },
];

describe('planSlots', () => {
  for (const c of cases) {
    test(c.name, () => {
      // Prepare
      const input = { ...base, ...c.input };

      // Act
      const plan = planSlots(input);

      // Assess
      assert.deepEqual(plan.create, c.create ?? []);
      assert.deepEqual(
        plan.drop.map((d) => [d.name, d.reason.code]),
        (c.drop ?? []).map(([n, code]) => [n, code]),
      );
      for (const [name, code, text] of c.drop ?? []) {
        if (text !== undefined) assert.match(plan.drop.find((d) => d.name === name)?.reason.text ?? '', text);
      }
      for (const [name, code, text] of c.keep ?? []) {
        const k = plan.keep.find((x) => x.name === name);
        assert.equal(k?.reason.code, code, `${name} kept as ${code}`);
        if (text !== undefined) assert.match(k.reason.text, text);
      }
      // Every listed slot is either dropped or kept, once.
      assert.deepEqual([...plan.drop, ...plan.keep].map((x) => x.name).sort(), input.slots.map((s) => s.name).sort());
      for (const d of plan.drop) assert.equal(input.slots.find((s) => s.name === d.name)?.active, false, `${d.name} dropped while active`);
    });
  }

  test('never drops an active or foreign slot, over every mix of members, silences and listings', () => {
    // Prepare
    const names = ['pgfloat_node2', 'pgfloat_node3', 'pgfloat_node1', 'pgfloat_gone', 'other'];
    const times = [NOW, NOW - GRACE - 1, undefined];
    let checked = 0;
    for (let mask = 0; mask < 1 << names.length; mask++) {
      for (const t of times) {
        const slots = names.map((n, i) => slot(n, { active: (mask & (1 << i)) !== 0 }));
        const seen: SlotPlanInput['membersSeen'] = t === undefined ? {} : { node2: { at: t }, node3: { at: t } };
        const listed = Object.fromEntries(names.map((n) => [n, t ?? NOW]));
        // Act
        const plan = planSlots({ ...base, slots, membersSeen: seen, listedSince: listed });
        // Assess
        for (const d of plan.drop) {
          assert.equal(slots.find((s) => s.name === d.name)?.active, false);
          assert.ok(d.name.startsWith(SLOT_PREFIX));
        }
        checked += 1;
      }
    }
    assert.equal(checked, 32 * 3);
  });
});

describe('slot config', () => {
  test('slot_grace_period defaults to max(30 min, 10 * ttl), else the config\'s, never under 2 * ttl', () => {
    assert.equal(slotGraceMs(DEFAULT_CONFIG), 30 * 60_000);
    assert.equal(slotGraceMs({ ttl: 600 }), 6000_000);
    assert.equal(slotGraceMs({ ttl: 3, slotGracePeriod: 8 }), 8000);
    assert.equal(slotGraceMs({ ttl: 600, slotGracePeriod: 5 }), 1200_000);
  });

  test('slotName gives every member slot the prefix the plan recognises', () => {
    assert.ok(slotName('Node-1').startsWith(SLOT_PREFIX));
  });

  test('permanent_slots takes physical slots (type defaulting to physical) and refuses logical ones', () => {
    // Act
    const ok = clusterConfigSchema.safeParse({ permanentSlots: { dr: { type: 'physical' }, spare: {} } });
    const logical = clusterConfigSchema.safeParse({ permanentSlots: { cdc: { type: 'logical', plugin: 'pgoutput' } } });
    const badName = clusterConfigSchema.safeParse({ permanentSlots: { 'Bad-Name': {} } });
    // Assess
    assert.deepEqual(ok.data?.permanentSlots, { dr: { type: 'physical' }, spare: { type: 'physical' } });
    assert.equal(logical.success, false);
    assert.match(logical.error?.issues[0]?.message ?? '', /type "logical" is not supported: permanent slots are physical only/);
    assert.deepEqual(logical.error?.issues[0]?.path, ['permanentSlots', 'cdc', 'type']);
    assert.equal(badName.success, false);
  });

  test('slot_grace_period must be positive', () => {
    assert.equal(clusterConfigSchema.safeParse({ slotGracePeriod: 0 }).success, false);
    assert.equal(clusterConfigSchema.safeParse({ slotGracePeriod: 5 }).data?.slotGracePeriod, 5);
  });
});

describe('permanent slot copies on a replica', () => {
  const slot = (name: string, restartLsn: number | null) => ({ name, type: 'physical', active: false, retainedBytes: null, restartLsn });
  const cases: Array<[string, Parameters<typeof planPermanentCopies>[0], ReturnType<typeof planPermanentCopies>]> = [
    ['a missing copy is created', { slots: [], permanentSlots: { dr: {} }, leaderLsns: { dr: 500 }, replayLsn: 900 }, { create: ['dr'], advance: [] }],
    ['a copy behind the leader\'s slot moves up to it', { slots: [slot('dr', 100)], permanentSlots: { dr: {} }, leaderLsns: { dr: 500 }, replayLsn: 900 }, { create: [], advance: [{ name: 'dr', to: 500 }] }],
    ['never past what the replica replayed', { slots: [slot('dr', 100)], permanentSlots: { dr: {} }, leaderLsns: { dr: 500 }, replayLsn: 300 }, { create: [], advance: [{ name: 'dr', to: 300 }] }],
    ['never backwards', { slots: [slot('dr', 700)], permanentSlots: { dr: {} }, leaderLsns: { dr: 500 }, replayLsn: 900 }, { create: [], advance: [] }],
    ['no position from the leader: left as it is', { slots: [slot('dr', 100)], permanentSlots: { dr: {} }, leaderLsns: {}, replayLsn: 900 }, { create: [], advance: [] }],
    ['slots that are not permanent are not touched', { slots: [slot('pgfloat_b', 100)], permanentSlots: {}, leaderLsns: { pgfloat_b: 500 }, replayLsn: 900 }, { create: [], advance: [] }],
  ];
  for (const [name, input, expected] of cases) {
    test(name, () => {
      assert.deepEqual(planPermanentCopies(input), expected);
    });
  }
});
