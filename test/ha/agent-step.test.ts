// The agent's step machine, tested as a table: a tick, then the scripted
// outcome of each call it asks for, and the calls it made in order.
import assert from 'node:assert/strict';
import { STEP_PARAMS } from './step-harness.js';
import { describe, test } from 'node:test';
import type { LocalState } from '../../lib/ha/agent.js';
import { agentStep, initialAgentState, WAKE_BACKOFF_MAX_MS, type AgentParams, type AgentState, type Effect, type Outcome, type PgReading } from '../../lib/ha/agent-step.js';
import { isCall } from '../../lib/ha/agent-effects.js';
import type { ClusterSnapshot } from '../../lib/dcs/store.js';
import { config, initialize, leader, member, primary, snapshot } from './fixtures.js';

const PARAMS: AgentParams = STEP_PARAMS;
const T0 = 100_000;
const replicaHere: LocalState = { empty: false, systemId: '7300000000000000001', running: true, inRecovery: true, following: 'a', wasPrimary: false };
const primaryHere: LocalState = { ...replicaHere, inRecovery: false, following: null, wasPrimary: true };
const standbyReading: PgReading = { inRecovery: true, timeline: 1, currentLsn: null, receivedLsn: 5000, replayedLsn: 5000, systemId: '7300000000000000001', postmasterStartedAt: 1, receiverStreaming: true };
const primaryReading: PgReading = { ...standbyReading, inRecovery: false, currentLsn: 6000, receivedLsn: null, replayedLsn: null };

const ok: Outcome = { kind: 'ok' };
const written = (term = 4, version = 9): Outcome => ({ kind: 'written', item: { version, term } });
const lost: Outcome = { kind: 'lost', current: { holder: 'c', term: 5 } };
const down: Outcome = { kind: 'error', message: 'store unavailable' };
const status = (s: PgReading | null): Outcome => ({ kind: 'status', status: s });

/** A call as `type:op`, e.g. `store:renew`, `pg:promote`, `keeper:arm`. */
function label(e: Effect): string {
  if (e.type === 'store') return `store:${e.op.op}`;
  if (e.type === 'pg') return `pg:${e.op.op}`;
  if (e.type === 'keeper') return `keeper:${e.op}`;
  return e.type;
}

interface Script {
  readonly state?: Partial<AgentState>;
  readonly params?: Partial<AgentParams>;
  readonly snapshot: ClusterSnapshot | null;
  readonly local: LocalState;
  readonly status: PgReading | null;
  /** The outcome of each call, in order; once used up, every call answers `ok`. */
  readonly outcomes: readonly Outcome[];
  /** ms each call takes. */
  readonly callMs?: number;
  /** ms the loop's store read took before the tick. */
  readonly readMs?: number;
}

function run(s: Script): { calls: string[]; effects: Effect[]; state: AgentState; sentAt: number[] } {
  const params = { ...PARAMS, ...s.params };
  let state: AgentState = { ...initialAgentState(config().config), ...s.state };
  let now = T0;
  let r = agentStep(state, { type: 'tick', now, startedAt: now - (s.readMs ?? 0), snapshot: s.snapshot, local: s.local, status: s.status, shuttingDown: false }, params);
  const calls: string[] = [];
  const effects: Effect[] = [];
  const sentAt: number[] = [];
  const outcomes = [...s.outcomes];
  for (let i = 0; i < 100; i++) {
    state = r.state;
    effects.push(...r.effects);
    // A detached heartbeat runs beside the sleep: listed where it is asked for.
    for (const e of r.effects) if (e.type === 'heartbeat' && e.detached === true) calls.push(label(e));
    const call = r.effects.find(isCall);
    const end = r.effects.find((e) => e.type === 'sleep' || e.type === 'exit');
    if (call === undefined) {
      calls.push(end === undefined ? 'none' : end.type);
      break;
    }
    calls.push(label(call));
    sentAt.push(now);
    now += s.callMs ?? 10;
    r = agentStep(state, { type: 'result', now, outcome: outcomes.shift() ?? ok }, params);
  }
  return { calls, effects, state, sentAt };
}

const granted = snapshot({ config: config(), leader: leader('b', { phase: 'granted', term: 4 }), members: [member('a'), member('b')] });
const syncGranted = snapshot({ config: config({ synchronousMode: true }), leader: leader('b', { phase: 'granted', term: 4 }), members: [member('a'), member('b')] });
const holder = snapshot({ config: config(), leader: leader('b', { phase: 'active', term: 4 }), members: [member('a'), primary('b')] });
const handover = snapshot({ config: config(), leader: leader('b', { phase: 'handover', term: 4, candidate: 'a' }), members: [member('a'), primary('b')] });
const demoted = snapshot({ config: config({ synchronousMode: true }), leader: leader('b', { phase: 'demoted', term: 4, candidate: 'a' }), members: [member('a'), primary('b')] });
const unfinished = snapshot({ config: config(), initialize: { ...initialize('b'), systemId: undefined }, leader: null, members: [member('a'), member('b')] });

const PROMOTION = ['readStatus', 'store:renew', 'keeper:arm', 'pg:promote', 'readStatus', 'store:confirm', 'keeper:arm', 'pg:createSlots', 'heartbeat', 'sleep'];

const cases: [string, Script, string[]][] = [
  ['a grantee renews its grant by CAS, arms the keeper, promotes, then confirms', { snapshot: granted, local: replicaHere, status: standbyReading, outcomes: [status(standbyReading), written(), ok, { kind: 'promoted', durationMs: 50 }, status(primaryReading), written()] }, PROMOTION],
  [
    'in synchronous mode every commit waits for a standby before the promotion',
    { snapshot: syncGranted, local: replicaHere, status: standbyReading, outcomes: [status(standbyReading), written(), ok, ok, { kind: 'promoted', durationMs: 50 }, status(primaryReading), written()] },
    ['readStatus', 'store:renew', 'keeper:arm', 'pg:setSync', 'pg:promote', 'readStatus', 'store:confirm', 'keeper:arm', 'pg:createSlots', 'heartbeat', 'sleep'],
  ],
  ['a grant whose renew loses the race is void: no promotion', { snapshot: granted, local: replicaHere, status: standbyReading, outcomes: [status(standbyReading), lost] }, ['readStatus', 'store:renew', 'heartbeat', 'sleep']],
  ['a grant whose renew finds the store down: no promotion, and no heartbeat into a store just seen failing', { snapshot: granted, local: replicaHere, status: standbyReading, outcomes: [status(standbyReading), down] }, ['readStatus', 'store:renew', 'sleep']],
  ['a keeper that does not acknowledge the deadline: no promotion', { snapshot: granted, local: replicaHere, status: standbyReading, outcomes: [status(standbyReading), written(), { kind: 'error', message: 'keeper gone' }] }, ['readStatus', 'store:renew', 'keeper:arm', 'heartbeat', 'sleep']],
  [
    'a confirm that loses the race still creates slots and lets the next loop re-plan',
    { snapshot: granted, local: replicaHere, status: standbyReading, outcomes: [status(standbyReading), written(), ok, { kind: 'promoted', durationMs: 50 }, status(primaryReading), lost] },
    ['readStatus', 'store:renew', 'keeper:arm', 'pg:promote', 'readStatus', 'store:confirm', 'pg:createSlots', 'heartbeat', 'sleep'],
  ],
  ['the holder renews and re-arms the keeper', { snapshot: holder, local: primaryHere, status: primaryReading, outcomes: [status(primaryReading), written()] }, ['readStatus', 'store:renew', 'keeper:arm', 'heartbeat', 'sleep']],
  ['a holder whose renew loses the race stops PostgreSQL at once', { snapshot: holder, local: primaryHere, status: primaryReading, outcomes: [status(primaryReading), lost] }, ['readStatus', 'store:renew', 'pg:stop', 'heartbeat', 'sleep']],
  [
    'a handover renews first, then checkpoints, stops, and reports the final LSN of a clean shutdown',
    { snapshot: handover, local: primaryHere, status: primaryReading, outcomes: [written(), ok, ok, ok, { kind: 'control', clusterState: 'shut down', checkpointLsn: 7000, systemId: '1' }, written()] },
    ['store:renew', 'keeper:arm', 'pg:checkpoint', 'pg:stop', 'pg:controldata', 'store:completeHandover', 'heartbeat', 'sleep'],
  ],
  [
    'a handover whose shutdown was not clean reports no final LSN',
    { snapshot: handover, local: primaryHere, status: primaryReading, outcomes: [written(), ok, ok, ok, { kind: 'control', clusterState: 'in production', checkpointLsn: 7000, systemId: '1' }] },
    ['store:renew', 'keeper:arm', 'pg:checkpoint', 'pg:stop', 'pg:controldata', 'heartbeat', 'sleep'],
  ],
  ['a handover whose renew loses the race stops at once', { snapshot: handover, local: primaryHere, status: primaryReading, outcomes: [lost] }, ['store:renew', 'pg:stop', 'heartbeat', 'sleep']],
  [
    'the store saying "your bootstrap is unfinished" never empties data this node did not initdb',
    { snapshot: unfinished, local: { ...primaryHere, running: false, inRecovery: null, hasFiles: true, bootstrapMarker: false }, status: null, outcomes: [] },
    ['heartbeat', 'sleep'],
  ],
  [
    'an unfinished bootstrap with its own marker and no postmaster initdbs again',
    { snapshot: unfinished, local: { empty: true, systemId: null, running: false, inRecovery: null, following: null, wasPrimary: false, hasFiles: true, bootstrapMarker: true, postmasterRunning: false }, status: null, outcomes: [ok, ok, { kind: 'control', clusterState: 'shut down', checkpointLsn: 1, systemId: '42' }, written(1, 2)] },
    ['pg:prepareBootstrap', 'pg:initdb', 'pg:controldata', 'store:initialize', 'pg:clearBootstrapMarker', 'pg:start', 'pg:ensureReplicationRole', 'heartbeat', 'sleep'],
  ],
  [
    'a holder stopped by its handover renews its lease and asks nothing of its stopped PostgreSQL',
    { snapshot: demoted, local: { ...primaryHere, running: false, inRecovery: null }, status: null, outcomes: [written()] },
    ['store:renew', 'keeper:arm', 'heartbeat', 'sleep'],
  ],
  ['store unreachable: no call but the sleep', { snapshot: null, local: replicaHere, status: standbyReading, outcomes: [] }, ['sleep']],
];

describe('agent step machine', () => {
  for (const [name, script, calls] of cases) {
    test(name, () => {
      // Act
      const r = run(script);
      // Assess
      assert.deepEqual(r.calls, calls);
      for (const e of r.effects) if (e.type === 'log') assert.ok(e.reason.code.length > 0);
    });
  }

  test('the lease is counted from the send time of the renew, whatever its answer took', () => {
    // Prepare: each call takes 3 s
    const r = run({ snapshot: granted, local: replicaHere, status: standbyReading, outcomes: [status(standbyReading), written(), ok, { kind: 'promoted', durationMs: 50 }, status(primaryReading), written()], callMs: 3000 });
    // Assess: the first arm's deadline is the renew's send time + ttl - margin
    const arms = r.effects.filter((e): e is Extract<Effect, { type: 'keeper'; op: 'arm' }> => e.type === 'keeper' && e.op === 'arm');
    const renewSent = r.sentAt[r.calls.indexOf('store:renew')] as number;
    const confirmSent = r.sentAt[r.calls.indexOf('store:confirm')] as number;
    assert.equal(arms[0]?.deadline, renewSent + 10_000 - 1000);
    assert.equal(arms[1]?.deadline, confirmSent + 10_000 - 1000);
    assert.equal(r.state.lease.sentAt, confirmSent);
  });

  test('without a keeper the in-process timer alone holds the deadline', () => {
    const r = run({ params: { keeper: false }, snapshot: holder, local: primaryHere, status: primaryReading, outcomes: [status(primaryReading), written()] });
    assert.deepEqual(r.calls, ['readStatus', 'store:renew', 'heartbeat', 'sleep']);
    assert.ok(r.effects.some((e) => e.type === 'fenceTimer' && e.at !== null));
  });

  const napCases: [string, number, number][] = [
    ['a quick loop sleeps the rest of loop_wait', 100, 2000 - 100 - 30],
    ['a loop slowed by the store sleeps only what is left of loop_wait since its read was sent', 1500, 2000 - 1500 - 30],
    ['a loop longer than loop_wait starts the next one at once', 2500, 0],
  ];
  for (const [name, readMs, sleepMs] of napCases) {
    test(`settled holder: ${name}`, () => {
      // Prepare: loop_wait 2 s; three calls of 10 ms after the read
      const script: Script = { snapshot: holder, local: primaryHere, status: primaryReading, outcomes: [status(primaryReading), written()], readMs };
      // Act
      const r = run(script);
      // Assess
      assert.deepEqual(r.calls, ['readStatus', 'store:renew', 'keeper:arm', 'heartbeat', 'sleep']);
      const sleep = r.effects.find((e) => e.type === 'sleep');
      assert.equal(sleep?.type === 'sleep' ? sleep.ms : null, sleepMs);
    });
  }

  test('a detached heartbeat that landed after the read goes by the version it wrote; a lost one by the next read', () => {
    // Prepare: the read shows this member's item at version 7; the last heartbeat wrote version 8
    const script: Script = { state: { ownVersion: 8 }, snapshot: holder, local: primaryHere, status: primaryReading, outcomes: [status(primaryReading), written()] };
    // Act
    const r = run(script);
    const beat = r.effects.find((e) => e.type === 'heartbeat');
    const landed = agentStep(r.state, { type: 'heartbeatDone', now: T0 + 100, outcome: { kind: 'written', item: { version: 9 } } }, PARAMS);
    const lostOne = agentStep(landed.state, { type: 'heartbeatDone', now: T0 + 200, outcome: { kind: 'lost', current: null } }, PARAMS);
    const stale = run({ ...script, state: { ownVersion: 3 } }).effects.find((e) => e.type === 'heartbeat');
    // Assess
    assert.ok(beat?.type === 'heartbeat' && beat.detached === true);
    assert.equal(beat.expectedVersion, 8);
    assert.equal(landed.state.ownVersion, 9);
    assert.equal(lostOne.state.ownVersion, null);
    assert.ok(stale?.type === 'heartbeat');
    assert.equal(stale.expectedVersion, 7, 'a read newer than the last written version wins');
  });

  test("a shutdown's last heartbeat is waited for before the agent exits", () => {
    // Prepare: a replica asked to shut down
    const script: Script = { state: { shuttingDown: true }, snapshot: holder, local: replicaHere, status: standbyReading, outcomes: [] };
    // Act
    const r = run({ ...script, params: { name: 'a' } });
    // Assess
    assert.equal(r.calls.at(-2), 'heartbeat');
    assert.equal(r.calls.at(-1), 'exit');
    assert.ok(!r.effects.some((e) => e.type === 'heartbeat' && e.detached === true));
  });

  // The leader item was first seen at T0 - stillMs; ttl 10 s, loop_wait 2 s.
  const wakeCases: [string, { stillMs: number; wakes?: boolean; name?: string; paused?: boolean; wokeAgoMs?: number; wokeNextMs?: number; wokeVersion?: number }, boolean][] = [
    ['a leader item still past ttl + loop_wait wakes the arbiter', { stillMs: 12_500 }, true],
    ['a leader item renewed within ttl + loop_wait does not', { stillMs: 11_500 }, false],
    ['an agent with no function to invoke does not', { stillMs: 30_000, wakes: false }, false],
    ['a paused cluster does not', { stillMs: 30_000, paused: true }, false],
    ['the holder of the lease does not', { stillMs: 30_000, name: 'b' }, false],
    ['a woken arbiter is not woken again within a ttl', { stillMs: 30_000, wokeAgoMs: 9_000 }, false],
    ['but once a ttl has passed since', { stillMs: 30_000, wokeAgoMs: 10_000 }, true],
    ['after three wakes for one version, not within 4 ttl of the last', { stillMs: 90_000, wokeAgoMs: 39_000, wokeNextMs: 40_000 }, false],
    ['but after 4 ttl', { stillMs: 90_000, wokeAgoMs: 40_000, wokeNextMs: 40_000 }, true],
    ['a wake for an older version does not hold back one for the current', { stillMs: 30_000, wokeAgoMs: 1_000, wokeVersion: 1 }, true],
  ];
  for (const [name, o, wakes] of wakeCases) {
    test(`arbiter wake: ${name}`, () => {
      // Prepare: node a, a replica of b
      const snap = o.paused === true ? { ...holder, config: config({ paused: true }) } : holder;
      const state: Partial<AgentState> = {
        leaderSeen: { version: snap.leader?.version ?? 0, at: T0 - o.stillMs },
        wokeArbiter: o.wokeAgoMs === undefined ? null : { version: o.wokeVersion ?? snap.leader?.version ?? 0, at: T0 - o.wokeAgoMs, nextMs: o.wokeNextMs ?? 10_000 },
        ...(o.paused === true ? { config: snap.config?.config } : {}),
      };
      // Act
      const r = run({ state, params: { name: o.name ?? 'a', wakesArbiter: o.wakes ?? true }, snapshot: snap, local: o.name === 'b' ? primaryHere : replicaHere, status: o.name === 'b' ? primaryReading : standbyReading, outcomes: [] });
      // Assess
      const woke = r.effects.filter((e) => e.type === 'wakeArbiter');
      assert.equal(woke.length, wakes ? 1 : 0);
      if (wakes) {
        assert.equal(r.state.wokeArbiter?.at, T0);
        const again = o.wokeAgoMs !== undefined && o.wokeVersion === undefined;
        assert.equal(r.state.wokeArbiter?.nextMs, again ? Math.min((o.wokeNextMs ?? 10_000) * 2, WAKE_BACKOFF_MAX_MS) : 10_000, 'the wait doubles while one version stands still');
      }
      for (const e of woke) assert.ok(e.type === 'wakeArbiter' && e.reason.code === 'arbiter_wake');
    });
  }

  const fenceCases: [string, number, boolean, boolean][] = [
    ['past the deadline a writable primary is stopped', T0 + 9_000, false, true],
    ['before the deadline nothing happens', T0 + 8_000, false, false],
    ['a standby takes no writes: nothing to fence', T0 + 9_000, true, false],
  ];
  for (const [name, at, standbySignal, fences] of fenceCases) {
    test(`fence timer: ${name}`, () => {
      // Prepare: a lease renewed at T0, deadline T0 + 9 s
      const state: AgentState = { ...initialAgentState(config().config), lease: { term: 4, sentAt: T0 }, fenceAt: T0 + 9_000 };
      // Act
      const r = agentStep(state, { type: 'fenceDue', now: at, standbySignal }, PARAMS);
      // Assess
      const stops = r.effects.filter((e) => e.type === 'pg' && e.op.op === 'stop' && e.detached === true);
      assert.equal(stops.length, fences ? 1 : 0);
      assert.equal(r.state.lease.term, fences ? null : 4);
    });
  }
});
