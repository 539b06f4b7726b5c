// The shard's loop across invocations, on the real handler against DynamoDB
// Local: an invocation killed mid-failover is taken over by a wake once its
// loop lease runs out, and the failover completes; a late schedule's
// invocation takes the loop over from the one still running with no gap
// longer than a loop lease; a duplicated schedule never has two holders
// acting. Only properties of the recorded tick times and the store are
// asserted, never durations; every wait is a bounded loop.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, mock, test } from 'node:test';
import type { Context } from 'aws-lambda';
import { LOOP_LEASE_NAMESPACE, type LoopSummary } from '../../lib/arbiter/loop.js';
import { DynamoDbStore } from '../../lib/dcs/dynamodb-store.js';
import { DEFAULT_CONFIG, type ArbiterItem, type ClusterConfig } from '../../lib/dcs/items.js';
import { clusterPk, type ClusterId } from '../../lib/dcs/keys.js';
import { localContext } from '../../lib/local/lambda-endpoint.js';
import { freshTable, type TestTable } from '../support/dynamodb.js';
import { FakeAgents } from './agents.js';

type Handler = (event: unknown, context: Context) => Promise<LoopSummary>;
let handler: Handler;
let closeArbiter: () => Promise<void>;
let table: TestTable;
let store: DynamoDbStore;
const emf: Record<string, unknown>[] = [];

const TICK_MS = 200;
const LOOP_LEASE_MS = 1000;
const PERIOD_MS = 2000;
/** What the function's timeout grants: two periods and a margin. */
const REMAINING_MS = 2 * PERIOD_MS + 500;
const SHARD = { namespace: LOOP_LEASE_NAMESPACE, scope: 'shard-0' };
const env = (t: TestTable): Record<string, string> => ({
  PGFLOAT_TABLE: t.tableName,
  PGFLOAT_DYNAMODB_ENDPOINT: t.endpoint,
  PGFLOAT_TICK_MS: String(TICK_MS),
  PGFLOAT_LOOP_LEASE_MS: String(LOOP_LEASE_MS),
  PGFLOAT_CLUSTER_LEASE_MS: '2000',
  PGFLOAT_SCHEDULE_PERIOD_MS: String(PERIOD_MS),
  PGFLOAT_HANDOVER_MARGIN_MS: '200',
  PGFLOAT_METRICS_EVERY_MS: '0',
  POWERTOOLS_DEV: 'true',
  POWERTOOLS_METRICS_DISABLED: 'false',
  POWERTOOLS_LOG_LEVEL: process.env.DEBUG_ARBITER === undefined ? 'ERROR' : 'DEBUG',
});

const fastConfig = (over: Partial<ClusterConfig> = {}): ClusterConfig => ({ ...DEFAULT_CONFIG, ttl: 1, loopWait: 0.2, retryTimeout: 0.3, ...over });
const scheduled = (id: string, time: number) => ({ source: 'aws.events', 'detail-type': 'Scheduled Event', id, time: new Date(time).toISOString(), resources: [] });
const loopLease = async (): Promise<ArbiterItem | null> => (await store.readCluster(SHARD)).arbiter;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 20 ms until it returns a value; the cap is a bound on polls, generous for a loaded machine. */
async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, polls = 1500): Promise<T> {
  for (let i = 0; i < polls; i++) {
    const v = await check();
    if (v !== undefined) return v;
    await sleep(20);
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** Waits until no invocation holds the loop lease, so each test starts from a free shard. */
async function shardFree(): Promise<void> {
  await waitFor('a free loop lease', async () => {
    const l = await loopLease();
    return l === null || l.leaseExpiresAt <= Date.now() ? true : undefined;
  });
}

before(async () => {
  table = await freshTable();
  store = new DynamoDbStore({ client: table.client, tableName: table.tableName });
  Object.assign(process.env, env(table));
  mock.method(console, 'log', (line: unknown) => {
    if (typeof line === 'string' && line.includes('"_aws"')) emf.push(JSON.parse(line) as Record<string, unknown>);
  });
  if (process.env.DEBUG_ARBITER === undefined) {
    mock.method(console, 'warn', () => undefined);
    mock.method(console, 'error', () => undefined);
  }
  ({ handler, closeArbiter } = (await import('../../functions/arbiter/handler.js')) as unknown as { handler: Handler; closeArbiter: () => Promise<void> });
});

after(async () => {
  await closeArbiter();
  await table.close();
});

describe('the shard loop across invocations', () => {
  test('an invocation killed mid-failover is taken over by a wake once its loop lease runs out, and the failover completes under the wake', async () => {
    // Prepare: a led cluster whose leader is about to die; b holds its grant unconfirmed until the first invocation is dead
    const c: ClusterId = { namespace: 'handover', scope: 'killed' };
    const agents = new FakeAgents(store, c, {
      a: { lsn: 1000, alive: true, role: 'primary', timeline: 1, connUrl: 'postgres://127.0.0.1:1/postgres' },
      b: { lsn: 1000, alive: true, role: 'replica', timeline: 1, connUrl: 'postgres://127.0.0.1:2/postgres' },
    });
    await store.initialize(c, { systemId: '7300000000000000001', initializedBy: 'a' });
    await store.putConfig(c, fastConfig(), null);
    await agents.round();
    await store.grantLeader(c, { holder: 'a', expected: null, previous: null, lastLsn: 1000, timeline: 1, reason: 'bootstrap', kind: 'bootstrap', grantedAt: Date.now() });
    await agents.round();
    agents.holdGrants.add('b');
    agents.start(100, 60_000);
    after(() => agents.stop());
    await shardFree();
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'invoke-child.ts')], {
      cwd: join(import.meta.dirname, '..', '..'),
      stdio: ['ignore', 'ignore', process.env.DEBUG_ARBITER === undefined ? 'ignore' : 'inherit'],
      env: {
        ...process.env,
        ...env(table),
        PGFLOAT_TEST_INVOCATION_ID: 'doomed',
        PGFLOAT_TEST_EVENT: JSON.stringify(scheduled('doomed', Date.now())),
        PGFLOAT_TEST_REMAINING_MS: '120000',
      },
    });
    const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_code, signal) => r(signal)));
    after(() => child.kill('SIGKILL'));
    await waitFor('the child to hold the loop lease', async () => ((await loopLease())?.owner === 'doomed' ? true : undefined));
    // Act: the leader dies; once the doomed invocation has granted b, it is killed mid-failover
    agents.kill('a');
    const granted = await waitFor('the grant to b', async () => {
      const l = (await store.readCluster(c)).leader;
      return l?.holder === 'b' && l.phase === 'granted' ? l : undefined;
    });
    child.kill('SIGKILL');
    const signal = await exited;
    const deadLease = await loopLease();
    agents.holdGrants.delete('b');
    emf.length = 0;
    const wake = await handler({ action: 'wake', cluster: clusterPk(c), member: 'b', reason: 'leader-stale' }, localContext('pgfloat-arbiter', 'wake', REMAINING_MS));
    await agents.stop();
    // Assess
    const snap = await store.readCluster(c);
    const history = await store.listHistory(c);
    assert.equal(signal, 'SIGKILL');
    assert.equal(granted.term, 2);
    assert.equal(deadLease?.owner, 'doomed', 'the killed invocation never released its lease');
    assert.equal(wake.status, 'ran', JSON.stringify(wake));
    assert.ok((wake.firstTickAt ?? 0) >= (deadLease?.leaseExpiresAt ?? Infinity), 'the wake acted only once the dead lease had run out');
    assert.equal(wake.grants, 0, 'the grant of the dead invocation stands; no second grant');
    assert.ok(wake.endpointMoves >= 1, 'the wake finished the failover: it moved the endpoint');
    assert.deepEqual([snap.leader?.holder, snap.leader?.term, snap.leader?.phase], ['b', 2, 'active']);
    assert.deepEqual([snap.endpoint?.member, snap.endpoint?.term], ['b', 2]);
    assert.deepEqual(history.map((h) => [h.term, h.to]), [[1, 'a'], [2, 'b']]);
    assert.ok(history[1]?.endpointMovedAt !== undefined);
    assert.ok(wake.tickGapMs !== undefined && wake.tickGapMs >= LOOP_LEASE_MS / 2, `the gap since the dead loop's last tick is measured: ${wake.tickGapMs}`);
    assert.ok(
      emf.some((d) => d.Shard === `${SHARD.namespace}/${SHARD.scope}` && typeof d.ArbiterTickGap === 'number'),
      'the gap is published as ArbiterTickGap of the shard',
    );
  });

  test('a wake finds a live loop renewing its lease and returns without acting', async () => {
    // Prepare: a scheduled loop running
    await shardFree();
    const running = handler(scheduled('live', Date.now()), localContext('pgfloat-arbiter', 'live', 3000));
    await waitFor('the loop to hold its lease', async () => ((await loopLease())?.owner === 'live' ? true : undefined));
    // Act
    const wake = await handler({ action: 'wake', cluster: 'handover/any', member: 'b', reason: 'leader-stale' }, localContext('pgfloat-arbiter', 'idle-wake', REMAINING_MS));
    const loop = await running;
    // Assess
    assert.deepEqual([wake.status, wake.leaseOwner, wake.ticks], ['lease-held', 'live', 0]);
    assert.equal(loop.status, 'ran');
    assert.ok((wake.firstTickAt ?? null) === null);
  });

  test('a late schedule takes the loop over from the invocation still running, with no gap longer than a loop lease', async () => {
    // Prepare
    await shardFree();
    const t0 = Date.now();
    const holder = handler(scheduled('minute-0', t0), localContext('pgfloat-arbiter', 'minute-0', REMAINING_MS));
    await waitFor('the first loop to hold its lease', async () => ((await loopLease())?.owner === 'minute-0' ? true : undefined));
    // Act: the next schedule's invocation arrives half a period late
    await waitFor('half a period past the next schedule', () => (Date.now() >= t0 + 1.5 * PERIOD_MS ? true : undefined));
    emf.length = 0;
    const successor = await handler(scheduled('minute-1', t0 + PERIOD_MS), localContext('pgfloat-arbiter', 'minute-1', 2500));
    const first = await holder;
    // Assess
    assert.equal(first.status, 'handed-over', JSON.stringify(first));
    assert.equal(first.handedOverTo, 'minute-1');
    assert.ok((first.lastTickAt ?? 0) > t0 + PERIOD_MS, 'the first loop ticked on past the next schedule');
    assert.equal(successor.status, 'ran', JSON.stringify(successor));
    assert.ok(successor.ticks > 0);
    const [lastEnd, firstNext] = [first.lastTickEndedAt ?? Infinity, successor.firstTickAt ?? -Infinity];
    assert.ok(lastEnd <= firstNext, `never two acting: the holder's last tick ended (${lastEnd}) before the successor's first began (${firstNext})`);
    assert.ok(
      firstNext < (first.lastTickAt ?? 0) + LOOP_LEASE_MS,
      `the successor's first tick (${firstNext}) began before the holder's last lease would have run out (${(first.lastTickAt ?? 0) + LOOP_LEASE_MS})`,
    );
    assert.equal(successor.tickGapMs, firstNext - (first.lastTickAt ?? 0), 'the gap it measured is the one between the recorded ticks');
    assert.ok(emf.some((d) => typeof d.ArbiterTickGap === 'number'));
  });

  test('a duplicated schedule has one holder acting, and both invocations end by themselves', async () => {
    // Prepare
    await shardFree();
    const event = scheduled('duplicate', Date.now());
    // Act
    const [x, y] = await Promise.all([
      handler(event, localContext('pgfloat-arbiter', 'dup-x', 2500)),
      handler(event, localContext('pgfloat-arbiter', 'dup-y', 2500)),
    ]);
    // Assess
    const acted = [x, y].filter((s) => s.ticks > 0);
    const idle = [x, y].filter((s) => s.ticks === 0);
    assert.equal(acted.length, 1, JSON.stringify([x, y]));
    assert.equal(acted[0]?.status, 'ran');
    assert.equal(idle[0]?.status, 'lease-held');
    assert.equal(idle[0]?.leaseOwner, acted[0] === x ? 'dup-x' : 'dup-y');
    const lease = await loopLease();
    assert.ok((lease?.leaseExpiresAt ?? Infinity) <= Date.now(), 'the holder released the lease at its end');
  });
});
