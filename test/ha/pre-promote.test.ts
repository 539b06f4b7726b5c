// pre_promote in the step machine: run after the grant is renewed and the
// fence armed, before PostgreSQL is asked to promote; a failure vetoes the
// promotion, says so in the member item, and gives the grant back. And the
// arbiter's side: a member whose item says vetoed is not granted.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { LocalState } from '../../lib/ha/agent.js';
import { initialAgentState, type AgentParams, type Effect, type Outcome, type PgReading } from '../../lib/ha/agent-step.js';
import { eligibility, type EligibilityContext } from '../../lib/ha/eligibility.js';
import { DEFAULT_CONFIG } from '../../lib/dcs/items.js';
import { callKinds, runLoop, STEP_PARAMS } from './step-harness.js';
import { config, initialize, leader, member, NOW, snapshot, sync } from './fixtures.js';

const PARAMS: AgentParams = { ...STEP_PARAMS, prePromote: true };
const T0 = 100_000;
const TTL_MS = DEFAULT_CONFIG.ttl * 1000;
const replicaHere: LocalState = { empty: false, systemId: '7300000000000000001', running: true, inRecovery: true, following: 'a', wasPrimary: false };
const standby: PgReading = { inRecovery: true, timeline: 1, currentLsn: null, receivedLsn: 5000, replayedLsn: 5000, systemId: '7300000000000000001', postmasterStartedAt: 1, receiverStreaming: true };
const primaryReading: PgReading = { ...standby, inRecovery: false, currentLsn: 6000, receivedLsn: null, replayedLsn: null };

const granted = (o: Record<string, unknown> = {}) => snapshot({ config: config(o), leader: leader('b', { phase: 'granted', term: 4, previous: 'a' }), members: [member('a'), member('b')] });
const status = (s: PgReading): Outcome => ({ kind: 'status', status: s });
const written: Outcome = { kind: 'written', item: { version: 9, term: 4 } };
const ok: Outcome = { kind: 'ok' };
const hook = (okay: boolean, message = okay ? 'exited with status 0' : 'exited with status 1'): Outcome => ({ kind: 'hook', ok: okay, message });

function loop(outcomes: Outcome[], o: { params?: Partial<AgentParams>; sync?: boolean; callMs?: number } = {}) {
  const snap = granted(o.sync === true ? { synchronousMode: true } : {});
  const state = initialAgentState(snap.config!.config);
  return runLoop({ ...PARAMS, ...o.params }, state, { now: T0, snapshot: snap, local: replicaHere, status: standby }, outcomes, o.callMs);
}

const heartbeats = (effects: Effect[]) => effects.filter((e): e is Extract<Effect, { type: 'heartbeat' }> => e.type === 'heartbeat');
const logs = (effects: Effect[]) => effects.filter((e): e is Extract<Effect, { type: 'log' }> => e.type === 'log');

describe('pre_promote in the promotion', () => {
  const vetoCases: [string, Outcome][] = [
    ['a non-zero exit', hook(false)],
    ['a timeout', hook(false, 'killed after the timeout of 30 s')],
    ['a script that cannot be run', { kind: 'error', message: 'could not run /x: ENOENT' }],
  ];
  for (const [name, outcome] of vetoCases) {
    test(`${name} vetoes: no promote op, the item says vetoed, then the grant is released`, () => {
      // Prepare / Act
      const l = loop([status(standby), written, ok, outcome, written, written]);
      // Assess
      const kinds = callKinds(l);
      assert.deepEqual(kinds.slice(0, 6), ['readStatus', 'store:renew', 'keeper:arm', 'hook', 'heartbeat', 'store:release']);
      assert.ok(!kinds.includes('pg:promote'), kinds.join(' '));
      const release = l.calls.find((c) => c.type === 'store' && c.op.op === 'release');
      assert.deepEqual(release?.type === 'store' && release.op.op === 'release' ? release.op.w : null, { holder: 'b', term: 4, lastLsn: 5000 });
      const beats = heartbeats(l.effects);
      assert.ok(beats.length >= 1);
      for (const b of beats) assert.equal(b.fields.promotionVetoed, true);
      const veto = logs(l.effects).find((e) => e.reason.code === 'pre_promote_vetoed');
      assert.equal(veto?.level, 'warn');
      assert.match(veto?.reason.text ?? '', /term 4/);
      // No lease is held and no fence timer runs on a node that did not promote.
      assert.deepEqual(l.state.lease, { term: null, sentAt: null });
      assert.equal(l.state.fenceAt, null);
    });
  }

  test('the item says vetoed for 3 ttl after the veto, then no more', () => {
    // Prepare
    const vetoed = loop([status(standby), written, ok, hook(false), written, written]).state;
    const later = (now: number) => runLoop(PARAMS, vetoed, { now, snapshot: snapshot({ config: config(), leader: leader('b', { phase: 'released', term: 4 }), members: [member('a'), member('b')] }), local: replicaHere, status: standby }, []);
    // Act
    const inside = heartbeats(later(T0 + 3 * TTL_MS - 1000).effects);
    const after = heartbeats(later(T0 + 3 * TTL_MS + 1000).effects);
    // Assess
    assert.equal(inside.at(-1)?.fields.promotionVetoed, true);
    assert.equal(after.at(-1)?.fields.promotionVetoed, undefined);
  });

  test('a release that fails still leaves no lease held: the grant expires', () => {
    // Act
    const l = loop([status(standby), written, ok, hook(false), written, { kind: 'error', message: 'store unavailable' }]);
    // Assess
    assert.ok(!callKinds(l).includes('pg:promote'));
    assert.deepEqual(l.state.lease, { term: null, sentAt: null });
    assert.ok(logs(l.effects).some((e) => e.reason.code === 'pre_promote_vetoed' && /not released/.test(e.reason.text)));
  });

  test('success promotes as before, the hook between the armed fence and the promote', () => {
    // Act
    const l = loop([status(standby), written, ok, hook(true), { kind: 'promoted', durationMs: 50 }, status(primaryReading), written]);
    // Assess
    assert.deepEqual(callKinds(l), ['readStatus', 'store:renew', 'keeper:arm', 'hook', 'pg:promote', 'readStatus', 'store:confirm', 'keeper:arm', 'pg:createSlots', 'heartbeat']);
    assert.equal(heartbeats(l.effects)[0]?.fields.promotionVetoed, undefined);
  });

  test('in synchronous mode the hook runs before commits are made to wait for a standby', () => {
    // Act
    const l = loop([status(standby), written, ok, hook(true), ok, { kind: 'promoted', durationMs: 50 }, status(primaryReading), written], { sync: true });
    // Assess
    assert.deepEqual(callKinds(l).slice(0, 6), ['readStatus', 'store:renew', 'keeper:arm', 'hook', 'pg:setSync', 'pg:promote']);
  });

  test('without a pre_promote script no hook is asked for', () => {
    // Act
    const l = loop([status(standby), written, ok, { kind: 'promoted', durationMs: 50 }, status(primaryReading), written], { params: { prePromote: false } });
    // Assess
    assert.deepEqual(callKinds(l).slice(0, 4), ['readStatus', 'store:renew', 'keeper:arm', 'pg:promote']);
  });

  test('a script that answers ok only past the lease deadline vetoes: a promotion then would only meet the fence', () => {
    // Prepare: the fence deadline is ttl - margin after the renew; the hook's answer comes later than that.
    const l = loop([status(standby), written, ok, hook(true)], { callMs: TTL_MS / 2 });
    // Assess
    assert.ok(!callKinds(l).includes('pg:promote'));
    assert.ok(logs(l.effects).some((e) => e.reason.code === 'pre_promote_vetoed' && /past the lease deadline/.test(e.reason.text)));
  });
});

describe('the arbiter and a vetoed member', () => {
  const ctx: EligibilityContext = { now: NOW, config: DEFAULT_CONFIG, leader: leader('a'), initialize: initialize('a'), sync: null, members: { b: { version: 7, seenAt: NOW - 1_000 } } };

  test('a member whose item says promotionVetoed is refused, with the reason', () => {
    // Act
    const e = eligibility(member('b', { promotionVetoed: true }), ctx);
    // Assess
    assert.deepEqual(e, { eligible: false, reason: 'its pre_promote script vetoed a promotion lately' });
  });

  test('the same member without the field is eligible', () => {
    assert.deepEqual(eligibility(member('b'), ctx), { eligible: true });
  });

  test('strict synchronous mode: a grant released unrecorded leaves the previous primary\'s sync standbys eligible', () => {
    // Prepare: a was primary with c as its sync standby; b was granted, vetoed and released without writing a record.
    const strict = config({ synchronousMode: true, synchronousModeStrict: true }).config;
    const released = leader('b', { phase: 'released', term: 4, previous: 'a' });
    const c = { ...ctx, config: strict, leader: released, sync: sync('a', ['c'], 3), members: { c: { version: 7, seenAt: NOW - 1_000 }, d: { version: 7, seenAt: NOW - 1_000 } } };
    // Act / Assess
    assert.deepEqual(eligibility(member('c'), c), { eligible: true });
    assert.match((eligibility(member('d'), c) as { reason: string }).reason, /not a synchronous standby \(sync standbys of a: c\)/);
  });
});
