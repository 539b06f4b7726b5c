// The real arbiter handler with its store behind a loopback proxy that the
// test stalls or shuts: nothing the store does may crash the process or end
// the loop early, and a loop that could not renew its lease acts no more
// until it holds it again. Only properties are asserted (order, states
// reached within generous loop caps), never durations.
import assert from 'node:assert/strict';
import { after, before, describe, mock, test } from 'node:test';
import type { Context } from 'aws-lambda';
import type { LoopSummary } from '../../lib/arbiter/loop.js';
import { LOOP_LEASE_NAMESPACE } from '../../lib/arbiter/loop.js';
import { DynamoDbStore } from '../../lib/dcs/dynamodb-store.js';
import { DEFAULT_CONFIG, type ArbiterItem } from '../../lib/dcs/items.js';
import type { ClusterId } from '../../lib/dcs/keys.js';
import { freshTable, type TestTable } from '../support/dynamodb.js';
import { FakeAgents } from './agents.js';
import { startStoreProxy, type StoreProxy } from '../support/store-proxy.js';

type Handler = (event: unknown, context: Context) => Promise<LoopSummary>;
let handler: Handler;
let closeArbiter: () => Promise<void>;
let table: TestTable;
let store: DynamoDbStore;
let proxy: StoreProxy;
const errors: string[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};

const SHARD = { namespace: LOOP_LEASE_NAMESPACE, scope: 'shard-0' };
const config = { ...DEFAULT_CONFIG, ttl: 1, loopWait: 0.2, retryTimeout: 0.3 };
let n = 0;
const newCluster = (): ClusterId => ({ namespace: 'outage', scope: `c${++n}-${process.pid}` });

function context(id: string): Context {
  return {
    awsRequestId: id,
    functionName: 'pgfloat-arbiter',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:pgfloat-arbiter',
    memoryLimitInMB: '256',
    logGroupName: '/aws/lambda/pgfloat-arbiter',
    logStreamName: 'test',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => 120_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

const scheduled = (id: string) => ({ source: 'aws.events', 'detail-type': 'Scheduled Event', id, time: new Date().toISOString(), resources: [] });

/** Polls `check` every 50 ms until it returns a value; the cap is a bound on polls, generous for a loaded machine. */
async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, polls = 1200): Promise<T> {
  for (let i = 0; i < polls; i++) {
    const v = await check();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

const loopLease = async (): Promise<ArbiterItem | null> => (await store.readCluster(SHARD)).arbiter;

/** The handler's promise, settled either way, so a rejection is a result the test asserts on, never a floating one. */
function settle(p: Promise<LoopSummary>): Promise<{ ok: true; summary: LoopSummary } | { ok: false; error: unknown }> {
  return p.then(
    (summary) => ({ ok: true as const, summary }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

before(async () => {
  table = await freshTable();
  store = new DynamoDbStore({ client: table.client, tableName: table.tableName });
  proxy = await startStoreProxy(table.endpoint);
  Object.assign(process.env, {
    PGFLOAT_TABLE: table.tableName,
    PGFLOAT_DYNAMODB_ENDPOINT: proxy.endpoint,
    PGFLOAT_TICK_MS: '100',
    PGFLOAT_CLUSTER_LEASE_MS: '2000',
    PGFLOAT_LOOP_LEASE_MS: '2000',
    PGFLOAT_SCHEDULE_PERIOD_MS: '120000',
    PGFLOAT_HANDOVER_MARGIN_MS: '200',
    PGFLOAT_STEP_TIMEOUT_MS: '400',
    PGFLOAT_METRICS_EVERY_MS: '0',
    POWERTOOLS_DEV: 'true',
    POWERTOOLS_LOG_LEVEL: 'WARN',
  });
  process.on('unhandledRejection', onUnhandled);
  mock.method(console, 'log', () => undefined);
  mock.method(console, 'warn', () => undefined);
  mock.method(console, 'error', (line: unknown) => {
    errors.push(typeof line === 'string' ? line : String(line));
  });
  ({ handler, closeArbiter } = (await import('../../functions/arbiter/handler.js')) as unknown as { handler: Handler; closeArbiter: () => Promise<void> });
});

after(async () => {
  await closeArbiter();
  process.removeListener('unhandledRejection', onUnhandled);
  await proxy.close();
  await table.close();
});

/** A cluster led by `a` (term 1, confirmed) with a and b played by agents that write straight to the store. */
async function ledCluster(): Promise<{ c: ClusterId; agents: FakeAgents }> {
  const c = newCluster();
  const agents = new FakeAgents(store, c, {
    a: { lsn: 1000, alive: true, role: 'primary', timeline: 1, connUrl: 'postgres://127.0.0.1:1/postgres' },
    b: { lsn: 1000, alive: true, role: 'replica', timeline: 1, connUrl: 'postgres://127.0.0.1:2/postgres' },
  });
  await store.initialize(c, { systemId: '7300000000000000001', initializedBy: 'a' });
  await store.putConfig(c, config, null);
  await agents.round();
  await store.grantLeader(c, { holder: 'a', expected: null, previous: null, lastLsn: 1000, timeline: 1, reason: 'bootstrap', kind: 'bootstrap', grantedAt: Date.now() });
  await agents.round();
  return { c, agents };
}

/** Settles unhandled-rejection bookkeeping: Node reports them after the microtask queue drains. */
const drain = (): Promise<void> => new Promise((r) => setTimeout(r, 20));

describe('arbiter with its store unreachable', () => {
  test('a store that resets every call ends a short invocation as store-unavailable, without throwing', async () => {
    // Prepare
    proxy.setMode('refuse');
    after(() => proxy.setMode('forward'));
    unhandled.length = 0;
    // Act
    const r = await settle(handler({ action: 'tick', cluster: 'outage/none', ticks: 3 }, context('refused')));
    await drain();
    // Assess
    assert.ok(r.ok, `the handler resolved (${r.ok ? '' : String(r.error)})`);
    assert.deepEqual([r.summary.status, r.summary.ticks, r.summary.loopErrors], ['store-unavailable', 0, 3]);
    assert.deepEqual(unhandled, []);
  });

  test('a stall mid-loop stops acting, then the loop takes its lease again and fails over when the store returns', async () => {
    // Prepare: the loop runs and ticks the cluster
    const { c, agents } = await ledCluster();
    agents.start(100, 120_000);
    after(() => agents.stop());
    unhandled.length = 0;
    const run = settle(handler(scheduled('stall'), context('stall-run')));
    const first = await waitFor('the loop lease taken', async () => {
      const l = await loopLease();
      return l?.owner === 'stall-run' ? l : undefined;
    });
    await waitFor('the cluster ticked', async () => ((await store.readCluster(c)).arbiter?.owner === 'shard-0' ? true : undefined));
    // Act: the store stalls until the loop finds it cannot renew its lease, then returns
    errors.length = 0;
    proxy.setMode('stall');
    await waitFor('a failed renew reported', () => (errors.some((e) => /renew lease failed/.test(e)) ? true : undefined));
    const duringStall = await loopLease();
    proxy.setMode('forward');
    const retaken = await waitFor('the loop lease taken again', async () => {
      const l = await loopLease();
      return l !== null && l.owner === 'stall-run' && l.version > (duringStall?.version ?? 0) ? l : undefined;
    });
    agents.kill('a');
    const granted = await waitFor('b granted', async () => {
      const l = (await store.readCluster(c)).leader;
      return l?.holder === 'b' ? l : undefined;
    });
    await closeArbiter();
    const r = await run;
    await drain();
    // Assess
    assert.ok(r.ok, `the handler resolved (${r.ok ? '' : String(r.error)})`);
    assert.equal(r.summary.status, 'ran');
    assert.ok(r.summary.loopErrors >= 1 && r.summary.grants >= 1, JSON.stringify(r.summary));
    assert.ok(first.version < retaken.version, 'the lease version advanced across the outage');
    assert.equal(granted.term, 2);
    assert.deepEqual(unhandled, []);
  });

  test('a loop that could not renew acts no more, and stops when another invocation took the lease meanwhile', async () => {
    // Prepare
    const { c, agents } = await ledCluster();
    agents.start(100, 120_000);
    after(() => agents.stop());
    unhandled.length = 0;
    const run = settle(handler(scheduled('rival'), context('losing-run')));
    await waitFor('the loop lease taken', async () => ((await loopLease())?.owner === 'losing-run' ? true : undefined));
    await waitFor('the cluster ticked', async () => ((await store.readCluster(c)).arbiter?.owner === 'shard-0' ? true : undefined));
    // Act: stall; once the renew failed, another invocation takes the lease; then the store returns
    errors.length = 0;
    proxy.setMode('stall');
    await waitFor('a failed renew reported', () => (errors.some((e) => /renew lease failed/.test(e)) ? true : undefined));
    const seen = await loopLease();
    const rival = await store.putArbiter(SHARD, { owner: 'rival', leaseExpiresAt: Date.now() + 60_000, leader: null, members: {} }, seen?.version ?? null);
    assert.ok(rival.ok, 'the rival took the lease');
    const clusterItem = (await store.readCluster(c)).arbiter;
    proxy.setMode('forward');
    const r = await waitFor('the loop ended', () => Promise.race([run, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 50))]));
    await drain();
    // Assess: it stopped for the rival, and wrote nothing after the rival took over
    assert.ok(r.ok, `the handler resolved (${r.ok ? '' : String(r.error)})`);
    assert.deepEqual([r.summary.status, r.summary.leaseOwner], ['lease-lost', 'rival']);
    assert.deepEqual(await loopLease(), rival.item);
    assert.deepEqual((await store.readCluster(c)).arbiter, clusterItem);
    assert.deepEqual(unhandled, []);
  });
});
