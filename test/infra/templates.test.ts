// The database node infrastructure: the CloudFormation template of one
// cluster's nodes, the agent's systemd unit and the example agent config,
// read the way CloudFormation, bash, systemd and the agent read them.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { clusterConfigSchema, DEFAULT_CONFIG, endpointConfigSchema } from '../../lib/dcs/items.js';
import { clusterIdSchema, clusterPk, historyPk, memberNameSchema, parseClusterPk, type ClusterId } from '../../lib/dcs/keys.js';
import { actionsOf, parseCfnYaml, policyStatements, resourcesOfType, subVariables, unresolvedReferences, unusedParameters, type Template } from './cfn.js';

type Obj = Record<string, unknown>;
const ROOT = join(import.meta.dirname, '..', '..');
const read = (...path: string[]): string => readFileSync(join(ROOT, ...path), 'utf8');
const nodes: Template = parseCfnYaml(read('infra', 'cluster-nodes.yml'));
const unitText = read('infra', 'pgfloat-agent.service');
const example = parse(read('infra', 'agent.example.yml')) as Obj;

const resources = nodes.Resources as Record<string, Obj>;
const props = (id: string): Obj => {
  const r = resources[id];
  assert.ok(r, `resource ${id} in infra/cluster-nodes.yml`);
  return r.Properties as Obj;
};

/** Replaces each ${Name} of a Sub string with its value; a name without one is an error. */
function substitute(text: string, values: Record<string, string>): string {
  return text.replace(/\$\{([^}!][^}]*)\}/g, (_, name: string) => {
    const v = values[name.trim()];
    if (v === undefined) throw new Error(`no sample value for \${${name}}`);
    return v;
  });
}

const userDataSub = (((props('NodeLaunchTemplate').LaunchTemplateData as Obj).UserData as Obj)['Fn::Base64'] as Obj)['Fn::Sub'] as [string, Obj];
const userData = userDataSub[0];

/** The endpoint YAML of each EndpointKind: the leaves of the EndpointConfig If chain. */
function endpointBranches(node: unknown): string[] {
  if (typeof node === 'string') return [node];
  if (Array.isArray(node)) return node.flatMap(endpointBranches);
  const o = node as Obj;
  if (Array.isArray(o['Fn::If'])) return (o['Fn::If'] as unknown[]).slice(1).flatMap(endpointBranches);
  if (typeof o['Fn::Sub'] === 'string') return [o['Fn::Sub']];
  throw new Error(`unexpected endpoint branch ${JSON.stringify(node)}`);
}

const SAMPLE: Record<string, string> = {
  Namespace: 'pgfloat',
  Scope: 'orders',
  TableName: 'pgfloat-prod',
  ArbiterFunctionName: 'pgfloat-prod-arbiter',
  'AWS::Region': 'us-east-1',
  AgentUrl: 'https://example.com/agent.mjs',
  AgentSha256: '0'.repeat(64),
  ClusterSecret: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:pgfloat/pgfloat/orders/agent-AbCdEf',
  MaxConnections: '200',
  SharedBuffers: '2GB',
  'ElasticIp.AllocationId': 'eipalloc-0123456789abcdef0',
  PrivateEndpointAddress: '10.0.1.100',
  Route53HostedZoneId: 'Z0123456789ABCDEFGHIJ',
  Route53RecordName: 'db.orders.example.internal',
};
/** What the bootstrap script's own variables hold on a node. */
const SHELL: Record<string, string> = {
  MEMBER: 'node1',
  PRIVATE_IP: '10.0.1.10',
  RESTAPI_PASSWORD: 'a'.repeat(40),
  SUPERUSER_PASSWORD: 'b'.repeat(40),
  REPLICATION_PASSWORD: 'c'.repeat(40),
};

function heredoc(script: string, opener: string, end: string): string {
  const start = script.indexOf(opener);
  assert.ok(start >= 0, `the user data has ${opener}`);
  const body = script.slice(script.indexOf('\n', start) + 1);
  const close = body.indexOf(`\n${end}\n`);
  assert.ok(close >= 0, `the heredoc ${end} ends`);
  return body.slice(0, close + 1);
}

/** Dotted paths of every key of a YAML/JSON value, e.g. postgresql.authentication.superuser.username. */
function keyPaths(v: unknown, prefix = ''): string[] {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return [prefix];
  return Object.entries(v as Obj).flatMap(([k, x]) => keyPaths(x, prefix === '' ? k : `${prefix}.${k}`));
}

function unitSettings(text: string): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) {
      section = header[1] as string;
      continue;
    }
    const eq = line.indexOf('=');
    const key = `${section}.${line.slice(0, eq)}`;
    settings.set(key, [...(settings.get(key) ?? []), line.slice(eq + 1)]);
  }
  return settings;
}

/** Patroni-style snake_case bootstrap keys to the store's camelCase config. */
function camel(o: Obj): Obj {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), v]));
}

describe('infra/cluster-nodes.yml', () => {
  test('parses with CloudFormation tags and refers only to parameters, resources and conditions it defines', () => {
    // Prepare / Act
    const problems = unresolvedReferences(nodes);
    const unused = unusedParameters(nodes);
    // Assess
    assert.deepEqual(problems, []);
    assert.deepEqual(unused, []);
    assert.equal(resourcesOfType(nodes, 'AWS::EC2::Instance').length, 3);
    assert.equal(resourcesOfType(nodes, 'AWS::EC2::LaunchTemplate').length, 1);
    assert.equal(resourcesOfType(nodes, 'AWS::IAM::InstanceProfile').length, 1);
    assert.equal(resourcesOfType(nodes, 'AWS::EC2::EIP').length, 1);
  });

  test('the reference check reports every name a template does not define', () => {
    // Prepare
    const broken = parseCfnYaml(
      [
        'Parameters: { Size: { Type: Number } }',
        'Conditions: { Big: !Equals [!Ref Size, 2] }',
        'Resources:',
        '  Bucket:',
        '    Type: AWS::S3::Bucket',
        '    Properties:',
        '      BucketName: !Sub "${Missing}-${AWS::Region}-${Size}"',
        '      Tags: [{ Key: a, Value: !GetAtt Nope.Arn }, { Key: b, Value: !If [Small, x, !Ref Gone] }]',
      ].join('\n'),
    );
    // Act
    const problems = unresolvedReferences(broken);
    // Assess
    assert.equal(problems.length, 4, problems.join('\n'));
    for (const name of ['Missing', 'Nope', 'Small', 'Gone']) assert.ok(problems.some((p) => p.includes(name)), name);
    assert.deepEqual(unusedParameters(broken), []);
    assert.deepEqual(subVariables('${a} ${!b} ${c.d}'), ['a', 'c.d'], 'a ${!Literal} is no variable');
  });

  test('launches three nodes from one launch template, each in its own subnet parameter, each a distinct member', () => {
    // Prepare
    const instances = resourcesOfType(nodes, 'AWS::EC2::Instance').map(([, r]) => r.Properties as Obj);
    // Act
    const subnets = instances.map((p) => (p.SubnetId as Obj).Ref);
    const members = instances.map((p) => (p.Tags as { Key: string; Value: string }[]).find((t) => t.Key === 'pgfloat:member')?.Value);
    // Assess
    assert.equal(new Set(subnets).size, 3);
    for (const s of subnets) assert.equal((nodes.Parameters as Record<string, Obj>)[String(s)]?.Type, 'AWS::EC2::Subnet::Id');
    assert.equal(new Set(members).size, 3);
    for (const m of members) assert.doesNotThrow(() => memberNameSchema.parse(m));
    for (const p of instances) assert.deepEqual((p.LaunchTemplate as Obj).LaunchTemplateId, { Ref: 'NodeLaunchTemplate' });
    const metadata = (props('NodeLaunchTemplate').LaunchTemplateData as Obj).MetadataOptions as Obj;
    assert.equal(metadata.HttpTokens, 'required', 'IMDSv2 only');
    assert.equal(metadata.InstanceMetadataTags, 'enabled', 'the member name is read from the instance tags');
  });

  test("limits a node's store access to its own cluster's two partitions, with no wildcard action", () => {
    // Prepare
    const statements = policyStatements(nodes).filter((s) => s.where.startsWith('NodeRole.Properties.Policies'));
    const dynamo = statements.filter((s) => actionsOf(s.statement).some((a) => a.startsWith('dynamodb:')));
    const c = clusterIdSchema.parse({ namespace: SAMPLE.Namespace, scope: SAMPLE.Scope });
    // Act
    const condition = (dynamo[0]?.statement.Condition as Obj)['ForAllValues:StringEquals'] as Obj;
    const leadingKeys = (condition['dynamodb:LeadingKeys'] as { 'Fn::Sub': string }[]).map((k) => substitute(k['Fn::Sub'], SAMPLE));
    // Assess
    assert.equal(dynamo.length, 1);
    assert.deepEqual(leadingKeys.sort(), [clusterPk(c), historyPk(c)].sort());
    assert.equal(substitute((dynamo[0]?.statement.Resource as { 'Fn::Sub': string })['Fn::Sub'], { ...SAMPLE, 'AWS::Partition': 'aws', 'AWS::AccountId': '123456789012' }), 'arn:aws:dynamodb:us-east-1:123456789012:table/pgfloat-prod');
    assert.ok(!actionsOf(dynamo[0]?.statement ?? {}).includes('dynamodb:Scan'), 'a Scan names no partition key, so LeadingKeys cannot limit it');
    for (const s of policyStatements(nodes)) {
      assert.equal(s.statement.NotAction, undefined);
      for (const a of actionsOf(s.statement)) assert.ok(!a.includes('*'), `${s.where}: ${a}`);
    }
  });

  test('lets a node invoke exactly the arbiter function named, and nothing else of Lambda', () => {
    // Prepare
    const statements = policyStatements(nodes).filter((s) => s.where.startsWith('NodeRole.Properties.Policies'));
    // Act
    const lambda = statements.filter((s) => actionsOf(s.statement).some((a) => a.startsWith('lambda:')));
    const arn = (r: unknown): string => substitute((r as { 'Fn::Sub': string })['Fn::Sub'], { ...SAMPLE, 'AWS::Partition': 'aws', 'AWS::AccountId': '123456789012' });
    // Assess
    assert.equal(lambda.length, 1);
    assert.deepEqual(actionsOf(lambda[0]?.statement ?? {}), ['lambda:InvokeFunction']);
    assert.equal(arn(lambda[0]?.statement.Resource), 'arn:aws:lambda:us-east-1:123456789012:function:pgfloat-prod-arbiter');
    assert.equal(lambda[0]?.statement.Condition, undefined);
    assert.equal((nodes.Parameters as Record<string, Obj>).ArbiterFunctionName?.Default, undefined, 'named by the operator, from the control plane output');
  });

  test('tags the Elastic IP, the instances and their interfaces with the tag the arbiter may move', () => {
    // Prepare: the tag key the arbiter's policy in serverless.yml requires
    const sls = parseCfnYaml(read('serverless.yml'));
    const declared = (sls.resources as unknown[]).filter((r): r is Obj => typeof r === 'object' && r !== null);
    const arbiterRole = declared.map((r) => (r.Resources as Record<string, Obj> | undefined)?.ArbiterRole).find((r) => r !== undefined) as Template;
    const move = policyStatements({ Resources: { ArbiterRole: arbiterRole } }).find((s) => s.statement.Sid === 'MoveTaggedEndpoints');
    const tagKey = Object.keys(((move?.statement.Condition as Obj).Null as Obj) ?? {})[0]?.replace('aws:ResourceTag/', '');
    const tagged = (tags: unknown): boolean => (tags as { Key: string }[]).some((t) => t.Key === tagKey);
    // Act
    const specs = (props('NodeLaunchTemplate').LaunchTemplateData as Obj).TagSpecifications as { ResourceType: string; Tags: unknown }[];
    // Assess
    assert.equal(tagKey, 'pgfloat:cluster');
    assert.ok(tagged(props('ElasticIp').Tags), 'the Elastic IP');
    assert.ok(tagged(specs.find((s) => s.ResourceType === 'network-interface')?.Tags), 'the network interfaces');
    for (const [id, r] of resourcesOfType(nodes, 'AWS::EC2::Instance')) assert.ok(tagged((r.Properties as Obj).Tags), id);
  });

  test('opens PostgreSQL and the health API to the clients and the nodes only', () => {
    // Prepare
    const inline = props('NodeSecurityGroup').SecurityGroupIngress as Obj[];
    const extra = resourcesOfType(nodes, 'AWS::EC2::SecurityGroupIngress').map(([, r]) => r.Properties as Obj);
    // Act
    const rules = [...inline, ...extra];
    const ports = new Set(rules.map((r) => r.FromPort));
    // Assess
    assert.deepEqual([...ports].sort(), [22, 5432, 8008]);
    for (const r of rules) {
      assert.equal(r.FromPort, r.ToPort);
      assert.notEqual(r.CidrIp, '0.0.0.0/0');
      assert.ok(r.CidrIp !== undefined || r.SourceSecurityGroupId !== undefined);
    }
    const fromNodes = extra.filter((r) => JSON.stringify(r.SourceSecurityGroupId) === JSON.stringify(r.GroupId));
    assert.deepEqual(fromNodes.map((r) => r.FromPort).sort(), [5432, 8008]);
  });

  test('user data is a valid bash script that installs the systemd unit shipped in infra/', async () => {
    // Prepare
    const script = substitute(userData, { ...SAMPLE, EndpointConfig: '{ kind: none }' });
    // Act
    const embedded = heredoc(script, "cat > /etc/systemd/system/pgfloat-agent.service <<'UNIT'", 'UNIT');
    const syntax = await promisify(execFile)('bash', ['-n', '-c', script]);
    // Assess
    assert.equal(embedded, unitText);
    assert.equal(syntax.stderr, '');
    assert.match(script, /systemctl enable --now pgfloat-agent\.service/);
    assert.match(script, /sha256sum -c/);
  });

  test('user data writes an agent config shaped like the example, with a valid endpoint for every endpoint kind', () => {
    // Prepare
    const branches = endpointBranches(userDataSub[1].EndpointConfig).map((b) => substitute(b, SAMPLE));
    const kinds = (nodes.Parameters as Record<string, Obj>).EndpointKind?.AllowedValues as string[];
    // Act
    const configs = branches.map((endpoint) => {
      const text = heredoc(substitute(userData, { ...SAMPLE, EndpointConfig: endpoint }), 'cat > /etc/pgfloat/agent.yml <<AGENT', 'AGENT');
      return parse(text.replace(/\$([A-Z_]+)/g, (_, v: string) => SHELL[v] ?? `$${v}`)) as Obj;
    });
    // Assess
    assert.deepEqual(configs.map((c) => endpointConfigSchema.parse(((c.bootstrap as Obj).dcs as Obj).endpoint).kind).sort(), [...kinds].sort());
    // The example's keys, the arbiter to wake among them.
    const wanted = [...new Set(keyPaths(example))].filter((p) => !p.startsWith('bootstrap.dcs.endpoint')).sort();
    for (const c of configs) {
      assert.deepEqual(keyPaths(c).filter((p) => !p.startsWith('bootstrap.dcs.endpoint')).sort(), wanted);
      assert.equal(c.name, 'node1');
      assert.equal((c.dcs as Obj).table, 'pgfloat-prod');
      assert.deepEqual(c.arbiter, { function: 'pgfloat-prod-arbiter' });
    }
  });
});

describe('infra/cluster-alarms.cjs', () => {
  const alarms = createRequire(import.meta.url)('../../infra/cluster-alarms.cjs') as {
    parseClusters(raw: string): string[];
    clusterAlarms(clusters: string[], o: { stage: string; lagBytes: number; slotBytes: number; topic: unknown }): Record<string, { Properties: Record<string, unknown> }>;
  };

  test('rejects a cluster that is not "<namespace>/<scope>" and keeps look-alike clusters apart', () => {
    // Prepare
    const lookAlike = alarms.parseClusters(' pgfloat/a-b , pgfloat/ab,team/x/orders ');
    // Act
    const resources = alarms.clusterAlarms(lookAlike, { stage: 'prod', lagBytes: 1024, slotBytes: 4096, topic: { Ref: 'AlarmTopic' } });
    // Assess
    assert.deepEqual(lookAlike, ['pgfloat/a-b', 'pgfloat/ab', 'team/x/orders']);
    for (const c of lookAlike) assert.deepEqual(parseClusterPk(c) === null ? null : clusterPk(parseClusterPk(c) as ClusterId), c);
    assert.equal(Object.keys(resources).length, 9 * 3);
    for (const id of Object.keys(resources)) assert.match(id, /^[A-Za-z0-9]{1,255}$/);
    assert.throws(() => alarms.parseClusters('orders'), /"orders" is not "<namespace>\/<scope>"/);
    assert.throws(() => alarms.parseClusters('pgfloat/orders,pgfloat/orders'), /twice/);
    assert.deepEqual(alarms.parseClusters(''), []);
  });
});

describe('infra/pgfloat-agent.service', () => {
  test('runs the agent as postgres, restarts it on failure and leaves no PostgreSQL behind it', () => {
    // Prepare / Act
    const s = unitSettings(unitText);
    // Assess
    assert.deepEqual(s.get('Service.User'), ['postgres']);
    assert.deepEqual(s.get('Service.Restart'), ['on-failure']);
    assert.deepEqual(s.get('Service.ExecStart'), ['/usr/bin/node /opt/pgfloat/agent.mjs --config /etc/pgfloat/agent.yml']);
    assert.deepEqual(s.get('Service.KillMode'), ['mixed']);
    assert.ok(Number(s.get('Service.TimeoutStopSec')?.[0]) >= 30, 'time to release the lease and stop PostgreSQL');
    assert.ok(Number(s.get('Service.RestartSec')?.[0]) < DEFAULT_CONFIG.ttl, 'a crashed agent is back before its lease runs out');
    assert.deepEqual(s.get('Service.NoNewPrivileges'), ['yes']);
    assert.deepEqual(s.get('Install.WantedBy'), ['multi-user.target']);
  });
});

describe('infra/agent.example.yml', () => {
  test('names a valid cluster and member and bootstraps the default cluster configuration', () => {
    // Prepare
    const bootstrap = (example.bootstrap as Obj).dcs as Obj;
    // Act
    const config = clusterConfigSchema.parse(camel(bootstrap));
    // Assess
    assert.doesNotThrow(() => clusterIdSchema.parse({ namespace: example.namespace, scope: example.scope }));
    assert.doesNotThrow(() => memberNameSchema.parse(example.name));
    assert.deepEqual(
      [config.ttl, config.loopWait, config.retryTimeout, config.maximumLagOnFailover, config.synchronousMode],
      [DEFAULT_CONFIG.ttl, DEFAULT_CONFIG.loopWait, DEFAULT_CONFIG.retryTimeout, DEFAULT_CONFIG.maximumLagOnFailover, DEFAULT_CONFIG.synchronousMode],
    );
    assert.equal(config.endpoint.kind, 'elastic-ip');
    for (const path of [
      'dcs.table',
      'dcs.region',
      'restapi.listen',
      'restapi.connect_address',
      'restapi.authentication.username',
      'postgresql.data_dir',
      'postgresql.bin_dir',
      'postgresql.listen',
      'postgresql.connect_address',
      'postgresql.authentication.superuser.password',
      'postgresql.authentication.replication.username',
      'tags.nofailover',
      'tags.failover_priority',
      'aws.instance_id',
      'aws.network_interface_id',
      'aws.private_ip',
    ]) {
      assert.ok(keyPaths(example).includes(path), path);
    }
  });
});
