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
import { CLUSTER_ERRORS_METRIC, CLUSTER_METRICS, METRICS_NAMESPACE } from '../../lib/arbiter/metrics.js';
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
    configured = await packageService(join(dir, 'configured'), { clusters: CLUSTERS.join(','), route53HostedZoneId: ZONE, route53RecordNames: RECORDS });
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

function sameDimensions(a: Obj, b: Obj): boolean {
  const sorted = (o: Obj) => JSON.stringify(Object.entries(o).sort(([x], [y]) => x.localeCompare(y)));
  return sorted(a) === sorted(b);
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

  test("runs the arbiter on arm64 Node.js with a timeout beyond the schedule period and only the arbiter's settings", async () => {
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
    assert.ok(Number(fn.Timeout) * 1000 > defaults.PGFLOAT_SCHEDULE_PERIOD_MS, 'a scheduled tick loop ends before the timeout');
    assert.ok(Number(fn.Timeout) * 1000 < 2 * defaults.PGFLOAT_SCHEDULE_PERIOD_MS, 'a hung invocation ends before two periods');
    assert.ok(Number(fn.MemorySize) >= 256 && Number(fn.MemorySize) <= 512);
    assert.ok(Number(fn.ReservedConcurrentExecutions) >= 2, 'a loop and its waiting successor');
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

  test('alarms on no leader, failovers, lag, endpoint drift and arbiter errors of each listed cluster, and on function errors and throttles', () => {
    // Prepare
    const alarms = resourcesOfType(configured.template, 'AWS::CloudWatch::Alarm').map(([, r]) => props(r));
    const topics = resourcesOfType(configured.template, 'AWS::SNS::Topic');
    const perCluster = [
      CLUSTER_ERRORS_METRIC.name,
      CLUSTER_METRICS.endpointInSync.name,
      CLUSTER_METRICS.failovers.name,
      CLUSTER_METRICS.leaderPresent.name,
      CLUSTER_METRICS.maxReplicationLagBytes.name,
    ].map((m) => `${METRICS_NAMESPACE}/${m}`);
    // Act
    const watched = (cluster: string | undefined) =>
      alarms
        .filter((a) => (a.Dimensions as { Name: string; Value: unknown }[]).find((d) => d.Name === 'Cluster')?.Value === cluster)
        .map((a) => `${String(a.Namespace)}/${String(a.MetricName)}`)
        .sort();
    // Assess
    assert.equal(topics.length, 1);
    const topicRef = { Ref: topics[0]?.[0] };
    for (const c of CLUSTERS) assert.deepEqual(watched(c), perCluster.sort(), c);
    assert.deepEqual(watched(undefined), ['AWS/Lambda/Errors', 'AWS/Lambda/Throttles']);
    assert.equal(alarms.length, 5 * CLUSTERS.length + 2);
    assert.equal(resourcesOfType(plain.template, 'AWS::CloudWatch::Alarm').length, 2, 'no cluster listed, no cluster alarm');
    for (const a of alarms) {
      assert.deepEqual(a.AlarmActions, [topicRef], `${String(a.AlarmName)} notifies the topic`);
      if (a.Namespace === 'AWS/Lambda') assert.deepEqual(a.Dimensions, [{ Name: 'FunctionName', Value: { Ref: 'ArbiterLambdaFunction' } }]);
    }
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
    await store.heartbeat(led, member('a', 'primary', 5000), null);
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
      .map(([, r]) => props(r))
      .filter((a) => a.Namespace !== 'AWS/Lambda');
    // Act
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
    assert.equal(alarms.length, 5 * CLUSTERS.length);
    for (const a of alarms) {
      const dims = Object.fromEntries((a.Dimensions as { Name: string; Value: string }[]).map((d) => [d.Name, d.Value]));
      assert.ok(CLUSTERS.includes(String(dims.Cluster)), `${String(a.AlarmName)} watches a cluster given as a parameter`);
      const label = a.MetricName === CLUSTER_ERRORS_METRIC.name ? clusterPk(broken) : clusterPk(led);
      const match = emitted.find(
        (e) => e.namespace === a.Namespace && e.name === a.MetricName && sameDimensions(e.dimensions, { ...dims, Cluster: label }),
      );
      assert.ok(match, `${String(a.AlarmName)}: the arbiter emits ${String(a.Namespace)}/${String(a.MetricName)} with ${JSON.stringify(dims)}`);
    }
  });
});
