// The control plane as it would be deployed: serverless.yml packaged offline
// (bundle + osls package), then the CloudFormation template inspected against
// the code it deploys: the table definition, the arbiter's settings and the
// metrics the bundled arbiter really emits.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, mock, test } from 'node:test';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { arbiterSettings, arbiterSettingsSchema } from '../../lib/arbiter/settings.js';
import { CLUSTER_ERRORS_METRIC, CLUSTER_METRICS, METRICS_NAMESPACE, SHARD_DIMENSION, TICK_GAP_METRIC } from '../../lib/arbiter/metrics.js';
import { LOOP_LEASE_NAMESPACE } from '../../lib/arbiter/loop.js';
import { DynamoDbStore } from '../../lib/dcs/dynamodb-store.js';
import { DEFAULT_CONFIG, type MemberStatus } from '../../lib/dcs/items.js';
import { clusterPk, type ClusterId } from '../../lib/dcs/keys.js';
import { createTableInput, TABLE_DEFINITION } from '../../lib/dcs/table.js';
import { freshTable, type TestTable } from '../support/dynamodb.js';
import { actionsOf, policyStatements, resourcesOfType, unresolvedReferences, type Template } from './cfn.js';
import { bundleFunctions, packageService, ROOT, type Packaged } from './package.js';

type Obj = Record<string, unknown>;
const CLUSTERS = ['pgfloat/orders', 'pgfloat/billing-eu'];
const ZONE = 'Z0123456789ABCDEFGHIJ';
const RECORDS = 'db.orders.example.internal,db.reports.example.internal';

let dir: string;
let plain: Packaged;
let configured: Packaged;

before(
  async () => {
    dir = await mkdtemp(join(tmpdir(), 'pgfloat-package-'));
    await bundleFunctions();
    // One after the other: two osls runs in one service directory share its scratch files.
    plain = await packageService(join(dir, 'plain'));
    configured = await packageService(join(dir, 'configured'), {
      clusters: CLUSTERS.join(','),
      route53HostedZoneId: ZONE,
      route53RecordNames: RECORDS,
      reservedConcurrency: '3',
    });
  },
  { timeout: 240_000 },
);

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function resource(t: Template, id: string): Obj {
  const r = (t.Resources as Obj)[id] as Obj | undefined;
  assert.ok(r, `resource ${id} in the packaged template`);
  return r;
}
const props = (r: Obj): Obj => r.Properties as Obj;

/** The metric an alarm watches: its own, or the one metric of its metric math. */
function watchedMetric(a: Obj): { namespace: string; name: string; dimensions: Obj; stat: string; math?: string } {
  if (a.Metrics === undefined) {
    const dims = Object.fromEntries((a.Dimensions as { Name: string; Value: unknown }[]).map((d) => [d.Name, d.Value]));
    return { namespace: String(a.Namespace), name: String(a.MetricName), dimensions: dims, stat: String(a.Statistic) };
  }
  const metrics = a.Metrics as Obj[];
  const stats = metrics.filter((m) => m.MetricStat !== undefined);
  assert.equal(stats.length, 1, `${String(a.AlarmName)} watches one metric`);
  const stat = (stats[0] as Obj).MetricStat as { Metric: Obj; Stat: string };
  const dims = Object.fromEntries((stat.Metric.Dimensions as { Name: string; Value: unknown }[]).map((d) => [d.Name, d.Value]));
  const returned = metrics.filter((m) => m.ReturnData === true);
  assert.equal(returned.length, 1, `${String(a.AlarmName)} alarms on one series`);
  return { namespace: String(stat.Metric.Namespace), name: String(stat.Metric.MetricName), dimensions: dims, stat: stat.Stat, math: String((returned[0] as Obj).Expression) };
}

function sameDimensions(a: Obj, b: Obj): boolean {
  const sorted = (o: Obj) => JSON.stringify(Object.entries(o).sort(([x], [y]) => x.localeCompare(y)));
  return sorted(a) === sorted(b);
}

function theFunctionEnv(t: Template): Obj {
  return ((theFunction(t).Environment as Obj).Variables as Obj) ?? {};
}

function theFunction(t: Template): Obj {
  const fns = resourcesOfType(t, 'AWS::Lambda::Function');
  assert.equal(fns.length, 1, 'one function: the arbiter');
  return props(fns[0]?.[1] as Obj);
}

function arbiterStatements(t: Template): Obj[] {
  return policyStatements(t)
    .filter((s) => s.where.startsWith('ArbiterRole.Properties.Policies'))
    .map((s) => s.statement as Obj);
}

function bySid(t: Template, sid: string): Obj {
  const s = arbiterStatements(t).find((x) => x.Sid === sid);
  assert.ok(s, `arbiter policy statement ${sid}`);
  return s;
}

describe('packaged control plane', () => {
  test('packages offline into one function package holding only the bundled arbiter', () => {
    // Prepare / Act: packaged in before()
    const fn = theFunction(plain.template);
    // Assess
    assert.deepEqual([...plain.zipEntries].sort(), ['.build/arbiter/index.mjs', '.build/arbiter/index.mjs.map']);
    assert.equal(fn.Handler, '.build/arbiter/index.handler');
    assert.deepEqual(unresolvedReferences(plain.template), []);
    assert.deepEqual(unresolvedReferences(configured.template), []);
  });

  test("declares the store table with the keys and settings of the code's table definition", () => {
    // Prepare
    const table = resource(plain.template, 'StoreTable');
    const p = props(table);
    const wanted = createTableInput(String(p.TableName));
    const byName = (a: unknown) => [...(a as { AttributeName: string }[])].sort((x, y) => x.AttributeName.localeCompare(y.AttributeName));
    // Act
    const fromTemplate = {
      keySchema: p.KeySchema,
      attributes: byName(p.AttributeDefinitions),
      billingMode: p.BillingMode,
      pointInTimeRecovery: (p.PointInTimeRecoverySpecification as Obj).PointInTimeRecoveryEnabled,
      serverSideEncryption: (p.SSESpecification as Obj).SSEEnabled,
      deletionProtection: p.DeletionProtectionEnabled,
    };
    // Assess
    assert.deepEqual(fromTemplate, {
      keySchema: wanted.KeySchema,
      attributes: byName(wanted.AttributeDefinitions),
      billingMode: TABLE_DEFINITION.billingMode,
      pointInTimeRecovery: TABLE_DEFINITION.pointInTimeRecovery,
      serverSideEncryption: TABLE_DEFINITION.serverSideEncryption,
      deletionProtection: TABLE_DEFINITION.deletionProtection,
    });
    assert.equal(table.DeletionPolicy, 'Retain');
    assert.equal(p.GlobalSecondaryIndexes, undefined, 'the store uses no index');
  });

  test("runs the arbiter on arm64 Node.js with a timeout of two schedule periods and a margin, no reserved concurrency unless asked, and only the arbiter's settings", async () => {
    // Prepare
    const fn = theFunction(plain.template);
    const defaults = arbiterSettings({ PGFLOAT_TABLE: 'pgfloat-test' });
    const engines = (JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
    const env = (fn.Environment as { Variables: Record<string, unknown> }).Variables;
    // Act
    const runtimeMajor = Number(/^nodejs(\d+)\.x$/.exec(String(fn.Runtime))?.[1]);
    const settingsNames = Object.keys(env).filter((k) => k.startsWith('PGFLOAT_'));
    // Assess
    assert.ok(runtimeMajor >= Number(/(\d+)/.exec(engines)?.[1]), `${String(fn.Runtime)} runs the project's Node.js (${engines})`);
    assert.deepEqual(fn.Architectures, ['arm64']);
    const timeoutMs = Number(fn.Timeout) * 1000;
    assert.ok(
      timeoutMs >= 2 * defaults.PGFLOAT_SCHEDULE_PERIOD_MS + defaults.PGFLOAT_HANDOVER_MARGIN_MS + defaults.PGFLOAT_TICK_MS,
      'a loop outlasts a successor a whole period late, with the hand-over margin and a tick to spare',
    );
    assert.ok(timeoutMs <= 3 * defaults.PGFLOAT_SCHEDULE_PERIOD_MS, 'a hung invocation ends within three periods');
    assert.ok(Number(fn.MemorySize) >= 256 && Number(fn.MemorySize) <= 512);
    assert.ok(!('ReservedConcurrentExecutions' in fn), 'no reserved concurrency unless asked: accounts limited to 10 concurrent executions cannot reserve any');
    assert.equal(theFunction(configured.template).ReservedConcurrentExecutions, 3, 'the param reserves it');
    assert.deepEqual(env.PGFLOAT_TABLE, { Ref: 'StoreTable' });
    for (const name of settingsNames) assert.ok(name in arbiterSettingsSchema.shape, `${name} is an arbiter setting`);
    assert.equal(env.PGFLOAT_DYNAMODB_ENDPOINT, undefined, 'the real DynamoDB on AWS');
    assert.doesNotThrow(() => arbiterSettings({ ...env, PGFLOAT_TABLE: 'pgfloat-test' } as Record<string, string>));
  });

  test('starts the arbiter every minute from an EventBridge schedule, the period its settings assume', () => {
    // Prepare
    const period = arbiterSettings({ PGFLOAT_TABLE: 'pgfloat-test' }).PGFLOAT_SCHEDULE_PERIOD_MS;
    const fnId = resourcesOfType(plain.template, 'AWS::Lambda::Function')[0]?.[0];
    // Act
    const rules = resourcesOfType(plain.template, 'AWS::Events::Rule').map(([id, r]) => [id, props(r)] as const);
    const permissions = resourcesOfType(plain.template, 'AWS::Lambda::Permission').map(([, r]) => props(r));
    // Assess
    assert.equal(rules.length, 1);
    const [ruleId, rule] = rules[0] as readonly [string, Obj];
    assert.equal(rule.ScheduleExpression, 'rate(1 minute)');
    assert.equal(period, 60_000);
    assert.equal(rule.State, 'ENABLED');
    assert.deepEqual((rule.Targets as Obj[]).map((x) => x.Arn), [{ 'Fn::GetAtt': [fnId, 'Arn'] }]);
    assert.ok(
      permissions.some((p) => p.Principal === 'events.amazonaws.com' && JSON.stringify(p.SourceArn) === JSON.stringify({ 'Fn::GetAtt': [ruleId, 'Arn'] })),
      'EventBridge may invoke the function',
    );
  });

  test('grants no IAM statement a wildcard action', () => {
    for (const t of [plain.template, configured.template]) {
      // Prepare
      const types = new Map(Object.entries(t.Resources as Obj).map(([id, r]) => [id, String((r as Obj).Type)]));
      // Act
      const checked = policyStatements(t).filter((s) => s.statement.Effect === 'Allow' || types.get(s.where.split('.')[0] ?? '')?.startsWith('AWS::IAM::'));
      const wild = checked.filter((s) => s.statement.NotAction !== undefined || actionsOf(s.statement).some((a) => a.includes('*')));
      // Assess
      assert.ok(checked.length >= 6, 'the arbiter role has statements');
      assert.deepEqual(wild.map((s) => `${s.where}: ${actionsOf(s.statement).join(', ')}`), []);
    }
  });

  test('lets the arbiter use only the store table, with only the requests the store sends', async () => {
    // Prepare: the DynamoDB commands lib/dcs/dynamodb-store.ts imports
    const source = await readFile(join(ROOT, 'lib', 'dcs', 'dynamodb-store.ts'), 'utf8');
    const imported = /import\s*\{([^}]*)\}\s*from\s*'@aws-sdk\/client-dynamodb'/.exec(source)?.[1] ?? '';
    const sent = new Set(
      [...imported.matchAll(/\b(\w+)Command\b/g)].flatMap((m) =>
        m[1] === 'TransactWriteItems' ? ['PutItem', 'UpdateItem', 'DeleteItem', 'ConditionCheckItem'] : [m[1] as string],
      ),
    );
    // Act
    const dynamo = arbiterStatements(plain.template).filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')));
    // Assess
    assert.ok(sent.has('Query') && sent.has('PutItem'), 'the store commands were found');
    assert.equal(dynamo.length, 1);
    const statement = dynamo[0] as Obj;
    assert.deepEqual(statement.Resource, { 'Fn::GetAtt': ['StoreTable', 'Arn'] });
    assert.deepEqual(
      actionsOf(statement).sort(),
      ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:Scan', 'dynamodb:UpdateItem'],
    );
    for (const a of actionsOf(statement)) assert.ok(sent.has(a.slice('dynamodb:'.length)), `${a} is a request the store sends`);
  });

  test('lets the arbiter move only tagged Elastic IPs and interfaces and only the configured Route 53 records', () => {
    // Prepare / Act
    const move = bySid(configured.template, 'MoveTaggedEndpoints');
    const read = bySid(configured.template, 'ReadEndpoints');
    const records = bySid(configured.template, 'MoveConfiguredRecords');
    const zoneArn = { 'Fn::Sub': `arn:\${AWS::Partition}:route53:::hostedzone/${ZONE}` };
    // Assess
    assert.deepEqual(actionsOf(move).sort(), ['ec2:AssignPrivateIpAddresses', 'ec2:AssociateAddress']);
    assert.ok((move.Resource as unknown[]).every((r) => /:(elastic-ip|network-interface|instance)\/\*$/.test(String((r as Obj)['Fn::Sub']))));
    assert.deepEqual(move.Condition, { Null: { 'aws:ResourceTag/pgfloat:cluster': 'false' } });
    assert.deepEqual(actionsOf(read).sort(), ['ec2:DescribeAddresses', 'ec2:DescribeNetworkInterfaces']);
    assert.deepEqual(actionsOf(records), ['route53:ChangeResourceRecordSets']);
    assert.deepEqual(records.Resource, zoneArn);
    assert.deepEqual(records.Condition, {
      'ForAllValues:StringEquals': {
        'route53:ChangeResourceRecordSetsNormalizedRecordNames': { 'Fn::Split': [',', RECORDS] },
        'route53:ChangeResourceRecordSetsRecordTypes': ['A'],
        'route53:ChangeResourceRecordSetsActions': ['UPSERT'],
      },
    });
    assert.deepEqual(bySid(configured.template, 'ReadConfiguredRecords').Resource, zoneArn);
    assert.deepEqual((configured.template.Conditions as Obj).HasRoute53, { 'Fn::Not': [{ 'Fn::Equals': [ZONE, ''] }] });
    assert.deepEqual((plain.template.Conditions as Obj).HasRoute53, { 'Fn::Not': [{ 'Fn::Equals': ['', ''] }] }, 'no zone, no Route 53 permission');
  });

  test('alarms on no leader, failovers, lag, endpoint drift, arbiter and member store errors, failsafe, slot retention and failed rewinds of each listed cluster', () => {
    // Prepare
    const alarms = resourcesOfType(configured.template, 'AWS::CloudWatch::Alarm').map(([, r]) => props(r));
    const topics = resourcesOfType(configured.template, 'AWS::SNS::Topic');
    const perCluster = [
      CLUSTER_ERRORS_METRIC.name,
      CLUSTER_METRICS.endpointInSync.name,
      CLUSTER_METRICS.failovers.name,
      CLUSTER_METRICS.leaderPresent.name,
      CLUSTER_METRICS.maxReplicationLagBytes.name,
      CLUSTER_METRICS.memberStoreErrors.name,
      CLUSTER_METRICS.failsafePromises.name,
      CLUSTER_METRICS.slotRetainedBytes.name,
      CLUSTER_METRICS.rewindFailedMembers.name,
    ].map((m) => `${METRICS_NAMESPACE}/${m}`);
    // Act
    const watched = (cluster: string | undefined) =>
      alarms
        .map(watchedMetric)
        .filter((m) => m.dimensions.Cluster === cluster)
        .map((m) => `${m.namespace}/${m.name}`)
        .sort();
    const storeErrors = alarms.map(watchedMetric).filter((m) => m.name === CLUSTER_METRICS.memberStoreErrors.name);
    // Assess
    assert.equal(topics.length, 1);
    const topicRef = { Ref: topics[0]?.[0] };
    for (const c of CLUSTERS) assert.deepEqual(watched(c), perCluster.sort(), c);
    assert.equal(alarms.length, 9 * CLUSTERS.length + 5);
    assert.equal(resourcesOfType(plain.template, 'AWS::CloudWatch::Alarm').length, 5, 'no cluster listed, no cluster alarm');
    // A counter since each agent started: its growth alarms, not its level.
    assert.deepEqual(
      storeErrors.map((m) => m.math),
      CLUSTERS.map(() => 'DIFF(count)'),
    );
    for (const a of alarms) assert.deepEqual(a.AlarmActions, [topicRef], `${String(a.AlarmName)} notifies the topic`);
  });

  test('alarms on function errors, throttles, a missing schedule, failed or dropped invocations and a gap in the ticking', () => {
    // Prepare
    const alarms = new Map(resourcesOfType(plain.template, 'AWS::CloudWatch::Alarm').map(([id, r]) => [id, props(r)]));
    const fnRef = { Ref: 'ArbiterLambdaFunction' };
    const alarm = (id: string): Obj => {
      const a = alarms.get(id);
      assert.ok(a, `alarm ${id}`);
      return a;
    };
    // Act
    const lambda = [...alarms.values()].filter((a) => a.Namespace === 'AWS/Lambda');
    const notInvoked = alarm('ArbiterNotInvokedAlarm');
    const failed = alarm('ArbiterFailedInvocationsAlarm');
    const gap = alarm('ArbiterTickGapAlarm');
    const throttles = alarm('ArbiterThrottlesAlarm');
    // Assess
    assert.deepEqual(lambda.map((a) => a.MetricName).sort(), ['Errors', 'Invocations', 'Throttles']);
    for (const a of lambda) assert.deepEqual(a.Dimensions, [{ Name: 'FunctionName', Value: fnRef }]);
    assert.deepEqual(
      [notInvoked.Statistic, notInvoked.Period, notInvoked.EvaluationPeriods, notInvoked.DatapointsToAlarm, notInvoked.ComparisonOperator, notInvoked.Threshold, notInvoked.TreatMissingData],
      ['Sum', 60, 3, 3, 'LessThanThreshold', 1, 'breaching'],
      'not invoked for 3 minutes; no data is no invocation',
    );
    assert.deepEqual(
      [failed.Namespace, failed.MetricName, failed.Dimensions, failed.ComparisonOperator, failed.Threshold],
      ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', [{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['ArbiterFailureQueue', 'QueueName'] } }], 'GreaterThanOrEqualToThreshold', 1],
    );
    assert.deepEqual(
      [gap.Namespace, gap.MetricName, gap.Statistic, gap.ComparisonOperator, gap.Threshold],
      [METRICS_NAMESPACE, TICK_GAP_METRIC.name, 'Maximum', 'GreaterThanThreshold', 10],
    );
    assert.deepEqual(gap.Dimensions, [
      { Name: 'service', Value: 'pgfloat-arbiter' },
      { Name: SHARD_DIMENSION, Value: `${LOOP_LEASE_NAMESPACE}/${String(theFunctionEnv(plain.template).PGFLOAT_SHARD)}` },
    ]);
    assert.doesNotMatch(String(throttles.AlarmDescription), /reserved concurrency \d/, 'the throttles alarm claims no reserved concurrency');
  });

  test('sends failed and dropped asynchronous invocations to an encrypted queue kept 14 days, which only the arbiter may write', () => {
    // Prepare
    const configs = resourcesOfType(plain.template, 'AWS::Lambda::EventInvokeConfig').map(([, r]) => props(r));
    const queue = props(resource(plain.template, 'ArbiterFailureQueue'));
    const queueArn = { 'Fn::GetAtt': ['ArbiterFailureQueue', 'Arn'] };
    // Act
    const send = arbiterStatements(plain.template).filter((s) => actionsOf(s).some((a) => a.startsWith('sqs:')));
    // Assess
    assert.equal(configs.length, 1);
    assert.deepEqual((configs[0] as Obj).DestinationConfig, { OnFailure: { Destination: queueArn } });
    assert.deepEqual([(configs[0] as Obj).MaximumRetryAttempts, (configs[0] as Obj).MaximumEventAgeInSeconds], [0, 60]);
    assert.equal(queue.SqsManagedSseEnabled, true);
    assert.equal(queue.MessageRetentionPeriod, 14 * 24 * 3600);
    assert.equal(send.length, 1);
    assert.deepEqual(actionsOf(send[0] as Obj), ['sqs:SendMessage']);
    assert.deepEqual((send[0] as Obj).Resource, queueArn);
  });
});

describe('bundled arbiter against the alarms', () => {
  let table: TestTable;
  const emf: Obj[] = [];
  type Handler = (event: unknown, context: Context) => Promise<{ status: string; errors: number }>;
  let bundled: { handler: Handler; closeArbiter: () => Promise<void> };

  before(async () => {
    table = await freshTable();
    Object.assign(process.env, {
      PGFLOAT_TABLE: table.tableName,
      PGFLOAT_DYNAMODB_ENDPOINT: table.endpoint,
      PGFLOAT_TICK_MS: '100',
      PGFLOAT_METRICS_EVERY_MS: '0',
      POWERTOOLS_DEV: 'true',
      POWERTOOLS_METRICS_DISABLED: 'false',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
    });
    mock.method(console, 'log', (line: unknown) => {
      if (typeof line === 'string' && line.includes('"_aws"')) emf.push(JSON.parse(line) as Obj);
    });
    mock.method(console, 'error', () => undefined);
    mock.method(console, 'warn', () => undefined);
    bundled = (await import(pathToFileURL(join(ROOT, '.build', 'arbiter', 'index.mjs')).href)) as typeof bundled;
  });

  after(async () => {
    await bundled.closeArbiter();
    await table.close();
    mock.restoreAll();
  });

  function context(id: string): Context {
    return {
      awsRequestId: id,
      functionName: 'pgfloat-test-arbiter',
      functionVersion: '$LATEST',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:pgfloat-test-arbiter',
      memoryLimitInMB: '256',
      logGroupName: '/aws/lambda/pgfloat-test-arbiter',
      logStreamName: 'test',
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => 20_000,
      done: () => undefined,
      fail: () => undefined,
      succeed: () => undefined,
    };
  }

  const member = (name: string, role: MemberStatus['role'], lsn: number): MemberStatus => ({
    name,
    role,
    state: 'running',
    timeline: 1,
    lsn,
    replayLsn: role === 'replica' ? lsn : null,
    tags: { nofailover: false, failoverPriority: 1, nosync: false, noloadbalance: false },
    connUrl: `postgres://127.0.0.1:1/${name}`,
    apiUrl: 'http://127.0.0.1:1/patroni',
    systemId: '7300000000000000001',
    heartbeatAt: Date.now(),
  });

  test('emits every metric an alarm watches, in the namespace and with the dimensions the alarms name', async () => {
    // Prepare: a led cluster, and a cluster whose leader item is malformed (an arbiter error)
    const store = new DynamoDbStore({ client: table.client, tableName: table.tableName });
    const led: ClusterId = { namespace: 'pgfloat', scope: 'orders' };
    const broken: ClusterId = { namespace: 'pgfloat', scope: 'broken' };
    await store.initialize(led, { systemId: '7300000000000000001', initializedBy: 'a' });
    await store.putConfig(led, DEFAULT_CONFIG, null);
    await store.heartbeat(led, { ...member('a', 'primary', 5000), slotRetainedBytes: 1000 }, null);
    await store.heartbeat(led, member('b', 'replica', 4000), null);
    await store.grantLeader(led, { holder: 'a', expected: null, previous: null, lastLsn: 5000, timeline: 1, reason: 'bootstrap', kind: 'bootstrap', grantedAt: Date.now() });
    await store.confirmLeader(led, { holder: 'a', term: 1, lastLsn: 5000, timeline: 1 });
    await store.putConfig(broken, DEFAULT_CONFIG, null);
    await table.client.send(
      new PutItemCommand({
        TableName: table.tableName,
        Item: { pk: { S: clusterPk(broken) }, sk: { S: 'leader' }, holder: { S: 'a' }, term: { S: 'one' }, version: { N: '1' } },
      }),
    );
    const alarms = resourcesOfType(configured.template, 'AWS::CloudWatch::Alarm')
      .map(([, r]) => [String(props(r).AlarmName), watchedMetric(props(r))] as const)
      .filter(([, m]) => m.namespace === METRICS_NAMESPACE);
    // Act: the second invocation takes the loop lease the first handed over, and publishes the gap
    const ran = await bundled.handler({ action: 'tick', cluster: clusterPk(led), ticks: 2 }, context('led'));
    const failed = await bundled.handler({ action: 'tick', cluster: clusterPk(broken), ticks: 1 }, context('broken'));
    // Assess
    assert.equal(ran.status, 'ran');
    assert.ok(failed.errors >= 1, 'the malformed cluster counted an error');
    const emitted = emf.flatMap((doc) => {
      const directives = (doc._aws as { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] }).CloudWatchMetrics;
      return directives.flatMap((d) =>
        d.Metrics.flatMap((m) => d.Dimensions.map((dims) => ({ namespace: d.Namespace, name: m.Name, dimensions: Object.fromEntries(dims.map((k) => [k, doc[k]])) }))),
      );
    });
    assert.equal(alarms.length, 9 * CLUSTERS.length + 1);
    for (const [name, m] of alarms) {
      const dims = m.dimensions;
      if (dims.Cluster === undefined) {
        assert.equal(m.name, TICK_GAP_METRIC.name, `${name}: the one deployment-wide alarm on the arbiter's own metrics`);
      } else {
        assert.ok(CLUSTERS.includes(String(dims.Cluster)), `${name} watches a cluster given as a parameter`);
      }
      const label = m.name === CLUSTER_ERRORS_METRIC.name ? clusterPk(broken) : clusterPk(led);
      const wanted = dims.Cluster === undefined ? dims : { ...dims, Cluster: label };
      const match = emitted.find((e) => e.namespace === m.namespace && e.name === m.name && sameDimensions(e.dimensions, wanted));
      assert.ok(match, `${name}: the arbiter emits ${m.namespace}/${m.name} with ${JSON.stringify(wanted)}`);
    }
  });
});
