// The real arbiter handler (middy, zod, Powertools) against DynamoDB Local,
// with test code playing the agents.
import assert from 'node:assert/strict';
import { connect, createServer, type Server } from 'node:net';
import { after, before, describe, mock, test } from 'node:test';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { Context } from 'aws-lambda';
import { DynamoDbStore } from '../../lib/dcs/dynamodb-store.js';
import { DEFAULT_CONFIG, type ClusterConfig } from '../../lib/dcs/items.js';
import { clusterPk, type ClusterId } from '../../lib/dcs/keys.js';
import type { LoopSummary } from '../../lib/arbiter/loop.js';
import { freeLoopbackPort } from '../../lib/local/dynamodb-local.js';
import { freshTable, type TestTable } from '../support/dynamodb.js';
import { FakeAgents } from './agents.js';

type Handler = (event: unknown, context: Context) => Promise<LoopSummary>;
let handler: Handler;
let closeArbiter: () => Promise<void>;
let table: TestTable;
let store: DynamoDbStore;
const emf: Record<string, unknown>[] = [];
const warnings: Record<string, unknown>[] = [];

/** What the function's timeout grants a scheduled invocation: two schedule periods (PGFLOAT_SCHEDULE_PERIOD_MS) and a margin. */
const SCHEDULED_REMAINING_MS = 2 * 3000 + 500;
const fastConfig = (over: Partial<ClusterConfig> = {}): ClusterConfig => ({ ...DEFAULT_CONFIG, ttl: 1, loopWait: 0.2, retryTimeout: 0.3, ...over });
let n = 0;
const newCluster = (): ClusterId => ({ namespace: 'arb', scope: `c${++n}` });

function context(id: string, remainingMs = 30_000): Context {
  return {
    awsRequestId: id,
    functionName: 'pgfloat-arbiter',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:pgfloat-arbiter',
    memoryLimitInMB: '256',
    logGroupName: '/aws/lambda/pgfloat-arbiter',
    logStreamName: 'test',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => remainingMs,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** A stand-in PostgreSQL: a loopback listener that says its name to each connection. */
async function namedListener(name: string): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => s.end(name));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port };
}

async function readThrough(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    const s = connect(port, '127.0.0.1');
    s.setTimeout(2000, () => s.destroy(new Error('timeout')));
    s.on('data', (d) => (data += d.toString()));
    s.on('close', () => resolve(data));
    s.on('error', reject);
  });
}

/**
 * Invokes the handler again and again until `done` holds of the store, at most
 * `cap` invocations (a bound on work, generous for a loaded machine, never a
 * measure of time). Returns every invocation's summary.
 */
async function invokeUntil(event: () => unknown, id: string, done: () => Promise<boolean>, cap = 15, remainingMs?: number): Promise<LoopSummary[]> {
  const summaries: LoopSummary[] = [];
  for (let i = 0; i < cap && !(await done()); i++) summaries.push(await handler(event(), context(`${id}-${i}`, remainingMs)));
  assert.ok(await done(), `condition not reached after ${cap} invocations: ${JSON.stringify(summaries)}`);
  return summaries;
}

const sum = (summaries: readonly LoopSummary[], k: 'grants'): number => summaries.reduce((t, x) => t + x[k], 0);

/** A cluster led by `leader` (term 1, active) with the given members playing agents. */
async function ledCluster(c: ClusterId, agents: FakeAgents, leader: string, config: ClusterConfig): Promise<void> {
  await store.initialize(c, { systemId: '7300000000000000001', initializedBy: leader });
  await store.putConfig(c, config, null);
  await agents.round();
  await store.grantLeader(c, { holder: leader, expected: null, previous: null, lastLsn: 1000, timeline: 1, reason: 'bootstrap', kind: 'bootstrap', grantedAt: Date.now() });
  await agents.round();
}

before(async () => {
  table = await freshTable();
  store = new DynamoDbStore({ client: table.client, tableName: table.tableName });
  Object.assign(process.env, {
    PGFLOAT_TABLE: table.tableName,
    PGFLOAT_DYNAMODB_ENDPOINT: table.endpoint,
    PGFLOAT_TICK_MS: '100',
    PGFLOAT_CLUSTER_LEASE_MS: '2000',
    PGFLOAT_LOOP_LEASE_MS: '2000',
    PGFLOAT_SCHEDULE_PERIOD_MS: '3000',
    PGFLOAT_HANDOVER_MARGIN_MS: '200',
    PGFLOAT_METRICS_EVERY_MS: '0',
    POWERTOOLS_DEV: 'true',
    POWERTOOLS_METRICS_DISABLED: 'false',
    POWERTOOLS_LOG_LEVEL: process.env.DEBUG_ARBITER === undefined ? 'WARN' : 'DEBUG',
  });
  mock.method(console, 'log', (line: unknown) => {
    if (typeof line === 'string' && line.includes('"_aws"')) emf.push(JSON.parse(line) as Record<string, unknown>);
  });
  mock.method(console, 'warn', (line: unknown) => {
    if (typeof line === 'string') warnings.push(JSON.parse(line) as Record<string, unknown>);
  });
  if (process.env.DEBUG_ARBITER === undefined) mock.method(console, 'error', () => undefined);
  ({ handler, closeArbiter } = (await import('../../functions/arbiter/handler.js')) as unknown as { handler: Handler; closeArbiter: () => Promise<void> });
});

after(async () => {
  await closeArbiter();
  await table.close();
});

describe('arbiter handler', () => {
  test('fails over a dead leader to the most advanced replica and moves the local endpoint after its promotion', async () => {
    // Prepare: a, b, c on stand-in servers; the endpoint is a local proxy
    const servers = await Promise.all(['a', 'b', 'c'].map(namedListener));
    after(() => servers.forEach((s) => s.server.close()));
    const proxyPort = await freeLoopbackPort();
    const c = newCluster();
    const url = (i: number): string => `postgres://127.0.0.1:${servers[i]?.port}/postgres`;
    const agents = new FakeAgents(store, c, {
      a: { lsn: 1000, alive: true, role: 'primary', timeline: 1, connUrl: url(0) },
      b: { lsn: 900, alive: true, role: 'replica', timeline: 1, connUrl: url(1) },
      c: { lsn: 1000, alive: true, role: 'replica', timeline: 1, connUrl: url(2) },
    });
    await ledCluster(c, agents, 'a', fastConfig({ endpoint: { kind: 'local-proxy', host: '127.0.0.1', port: proxyPort } }));
    agents.start(100, 15_000);
    after(() => agents.stop());
    await handler({ action: 'tick', cluster: clusterPk(c), ticks: 5 }, context('first'));
    const before = await readThrough(proxyPort);
    // Act: the leader dies; the arbiter ticks until the endpoint follows the new leader
    agents.kill('a');
    const summaries = await invokeUntil(
      () => ({ action: 'tick', cluster: clusterPk(c), ticks: 40 }),
      'second',
      async () => ((await store.listHistory(c))[1]?.endpointMovedAt ?? undefined) !== undefined,
    );
    await agents.stop();
    // Assess
    const snap = await store.readCluster(c);
    assert.equal(before, 'a');
    assert.ok(summaries.every((x) => x.status === 'ran'));
    assert.equal(sum(summaries, 'grants'), 1);
    assert.deepEqual([snap.leader?.holder, snap.leader?.term, snap.leader?.phase, snap.leader?.previous], ['c', 2, 'active', 'a']);
    assert.match(snap.leader?.reason ?? '', /lease|expired|unchanged/i);
    assert.deepEqual([snap.endpoint?.member, snap.endpoint?.term], ['c', 2]);
    assert.equal(await readThrough(proxyPort), 'c');
    const history = await store.listHistory(c);
    assert.deepEqual(
      history.map((h) => [h.term, h.kind, h.to]),
      [
        [1, 'bootstrap', 'a'],
        [2, 'failover', 'c'],
      ],
    );
    assert.ok(history[1]?.promotedAt !== undefined && history[1]?.endpointMovedAt !== undefined);
  });

  test('publishes each cluster metric in Embedded Metric Format under the pgfloat namespace', async () => {
    // Prepare
    const c = newCluster();
    const agents = new FakeAgents(store, c, {
      a: { lsn: 5000, alive: true, role: 'primary', timeline: 1, connUrl: 'postgres://127.0.0.1:1/postgres' },
      b: { lsn: 3000, alive: true, role: 'replica', timeline: 1, connUrl: 'postgres://127.0.0.1:2/postgres' },
    });
    await ledCluster(c, agents, 'a', fastConfig());
    await store.confirmLeader(c, { holder: 'a', term: 1, lastLsn: 5000, timeline: 1 });
    emf.length = 0;
    // Act
    await handler({ action: 'tick', cluster: clusterPk(c), ticks: 2 }, context('metrics'));
    // Assess
    const doc = emf.find((d) => d.Cluster === clusterPk(c));
    assert.ok(doc, 'an EMF document for the cluster');
    const directives = (doc._aws as { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] }).CloudWatchMetrics[0];
    assert.equal(directives?.Namespace, 'pgfloat');
    assert.ok(directives?.Dimensions.some((d) => d.includes('Cluster')));
    assert.deepEqual(
      directives?.Metrics.map((m) => m.Name).sort(),
      ['EndpointInSync', 'Failovers', 'FailsafePromises', 'HealthyMembers', 'LeaderPresent', 'MalformedItems', 'MaxReplicationLagBytes', 'MemberStoreErrors', 'RewindFailedMembers', 'SecondsWithoutLeader'],
    );
    assert.equal(doc.LeaderPresent, 1);
    assert.equal(doc.MaxReplicationLagBytes, 2000);
    assert.equal(doc.HealthyMembers, 2);
  });

  test('one malformed cluster is logged and counted and never stops the others', async () => {
    // Prepare: cluster x has a malformed leader; cluster y's leader is dead
    const x = newCluster();
    const y = newCluster();
    await store.putConfig(x, fastConfig(), null);
    await table.client.send(
      new (await import('@aws-sdk/client-dynamodb')).PutItemCommand({
        TableName: table.tableName,
        Item: { pk: { S: clusterPk(x) }, sk: { S: 'leader' }, holder: { S: 'a' }, term: { S: 'one' }, version: { N: '1' } },
      }),
    );
    const agents = new FakeAgents(store, y, {
      a: { lsn: 1000, alive: true, role: 'primary', timeline: 1, connUrl: 'postgres://127.0.0.1:1/postgres' },
      b: { lsn: 1000, alive: true, role: 'replica', timeline: 1, connUrl: 'postgres://127.0.0.1:2/postgres' },
    });
    await ledCluster(y, agents, 'a', fastConfig());
    agents.kill('a');
    agents.start(100, 10_000);
    after(() => agents.stop());
    emf.length = 0;
    // Act: scheduled invocations over all clusters until y has failed over
    const summaries = await invokeUntil(
      () => ({ source: 'aws.events', 'detail-type': 'Scheduled Event', id: 'e1', time: new Date().toISOString(), resources: [] }),
      'scheduled',
      async () => (await store.readCluster(y)).leader?.holder === 'b',
      15,
      // As Lambda grants a scheduled invocation: two periods and a margin. None arrives after it, so each runs it out.
      SCHEDULED_REMAINING_MS,
    );
    await agents.stop();
    // Assess: every tick counted x's error, and y went on regardless
    assert.ok(summaries.length > 0 && summaries.every((x) => x.status === 'ran' && x.ticks > 0 && x.errors >= x.ticks), JSON.stringify(summaries));
    assert.ok(emf.some((d) => d.Cluster === clusterPk(x) && d.ArbiterErrors === 1));
    assert.ok(emf.some((d) => d.Cluster === clusterPk(y) && d.Failovers === 1));
  });

  test('a malformed member item is reported and set aside; the cluster still fails over', async () => {
    // Prepare: a ghost member item with a wrong-typed field, and a dead leader
    const c = newCluster();
    const agents = new FakeAgents(store, c, {
      a: { lsn: 1000, alive: true, role: 'primary', timeline: 1, connUrl: 'postgres://127.0.0.1:1/postgres' },
      b: { lsn: 1000, alive: true, role: 'replica', timeline: 1, connUrl: 'postgres://127.0.0.1:2/postgres' },
    });
    await ledCluster(c, agents, 'a', fastConfig());
    await table.client.send(
      new (await import('@aws-sdk/client-dynamodb')).PutItemCommand({
        TableName: table.tableName,
        Item: { pk: { S: clusterPk(c) }, sk: { S: 'member#ghost' }, ...marshall({ ...agents.status('b'), name: 'ghost', lsn: 'lots', version: 1 }) },
      }),
    );
    agents.kill('a');
    agents.start(100, 15_000);
    after(() => agents.stop());
    emf.length = 0;
    warnings.length = 0;
    // Act
    const summaries = await invokeUntil(
      () => ({ action: 'tick', cluster: clusterPk(c), ticks: 40 }),
      'ghost',
      async () => (await store.readCluster(c)).leader?.holder === 'b',
    );
    await agents.stop();
    // Assess
    const snap = await store.readCluster(c);
    assert.ok(summaries.every((x) => x.status === 'ran'));
    assert.deepEqual([snap.leader?.holder, snap.leader?.term], ['b', 2]);
    assert.deepEqual(
      snap.malformed.map((e) => [e.key, e.field]),
      [['member#ghost', 'lsn']],
    );
    assert.ok(emf.some((d) => d.Cluster === clusterPk(c) && d.MalformedItems === 1));
    assert.ok(
      warnings.some((w) => w.cluster === clusterPk(c) && w.key === 'member#ghost' && w.field === 'lsn'),
      `a warning naming cluster, key and field among ${JSON.stringify(warnings.map((w) => w.message))}`,
    );
  });

  test('a malformed leader item is reported and held: nothing is granted, the item is left as it is', async () => {
    // Prepare: live replicas, and a leader item whose phase no schema knows
    const c = newCluster();
    const agents = new FakeAgents(store, c, {
      b: { lsn: 1000, alive: true, role: 'replica', timeline: 1, connUrl: 'postgres://127.0.0.1:2/postgres' },
    });
    await store.initialize(c, { systemId: '7300000000000000001', initializedBy: 'a' });
    await store.putConfig(c, fastConfig(), null);
    await agents.round();
    const raw = { pk: clusterPk(c), sk: 'leader', holder: 'a', term: 1, phase: 'reigning', lastLsn: 1, timeline: 1, previous: null, reason: 'x', version: 1 };
    await table.client.send(new (await import('@aws-sdk/client-dynamodb')).PutItemCommand({ TableName: table.tableName, Item: marshall(raw) }));
    agents.start(100, 10_000);
    after(() => agents.stop());
    warnings.length = 0;
    // Act: longer than ttl, so a leader taken for absent would have been granted
    const summary = await handler({ action: 'tick', cluster: clusterPk(c), ticks: 20 }, context('held'));
    await agents.stop();
    // Assess
    const snap = await store.readCluster(c);
    assert.equal(summary.grants, 0);
    assert.ok(summary.errors >= 1);
    assert.deepEqual(
      snap.malformed.map((e) => [e.key, e.field, e.version]),
      [['leader', 'phase', 1]],
    );
    assert.deepEqual(await store.listHistory(c), []);
    assert.ok(warnings.some((w) => w.cluster === clusterPk(c) && w.key === 'leader' && w.field === 'phase'));
  });

  test('a second invocation finds the loop lease held and exits cleanly; the lease is handed over at the end', async () => {
    // Prepare
    const c = newCluster();
    await store.putConfig(c, fastConfig(), null);
    const shard = { namespace: '_pgfloat', scope: 'shard-0' };
    const leaseOf = async () => (await store.readCluster(shard)).arbiter;
    const scheduled = handler(
      { source: 'aws.events', 'detail-type': 'Scheduled Event', id: 'e2', time: new Date().toISOString(), resources: [] },
      context('long-runner', SCHEDULED_REMAINING_MS),
    );
    let taken = await leaseOf();
    for (let i = 0; i < 400 && taken?.owner !== 'long-runner'; i++) {
      await new Promise((r) => setTimeout(r, 25));
      taken = await leaseOf();
    }
    // Act
    const second = await handler({ action: 'tick', cluster: clusterPk(c), ticks: 3 }, context('latecomer'));
    const first = await scheduled;
    const handedOver = await leaseOf();
    const third = await handler({ action: 'tick', cluster: clusterPk(c), ticks: 2 }, context('after'));
    // Assess
    assert.equal(taken?.owner, 'long-runner');
    assert.deepEqual([second.status, second.leaseOwner, second.ticks], ['lease-held', 'long-runner', 0]);
    assert.ok(first.status === 'ran' && first.ticks > 0, JSON.stringify(first));
    assert.equal(handedOver?.owner, 'long-runner');
    assert.ok((handedOver?.leaseExpiresAt ?? Infinity) <= Date.now(), 'the lease ran out at hand-over, not at its term');
    assert.ok((handedOver?.version ?? 0) > (taken?.version ?? 0), 'the lease was renewed or handed over after it was taken');
    assert.deepEqual([third.status, third.ticks], ['ran', 2]);
  });

  test('rejects an event of no known shape with a clear error and writes nothing', async () => {
    // Prepare
    const clustersBefore = await store.listClusters();
    // Act + Assess
    await assert.rejects(handler({ hello: 'world' }, context('bad')), (err: Error) => {
      assert.equal(err.name, 'InvalidArbiterEventError');
      assert.match(err.message, /EventBridge scheduled event, a CloudWatch alarm state change, \{"action":"tick".* or \{"action":"wake"/);
      return true;
    });
    await assert.rejects(handler({ action: 'tick', cluster: 'no-slash' }, context('bad2')), /write "<namespace>\/<scope>"/);
    assert.deepEqual(await store.listClusters(), clustersBefore);
  });
});
