// agent.yml as an operator writes it: every mapping is closed, every value in
// range, and every refusal names the key's YAML path and the fix, before the
// agent starts anything.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parse } from 'yaml';
import { AgentConfigError, bootstrapClusterConfig, parseAgentConfig } from '../../lib/agent/config.js';
import { editDistance, nearestKey } from '../../lib/agent/config-errors.js';
import { main } from '../../lib/agent/main.js';
import { readAgentConfig } from '../../lib/cli/agent-config.js';
import { planLocalNodes } from '../../lib/local/cluster.js';
import { parseCfnYaml } from '../infra/cfn.js';

type Obj = Record<string, unknown>;
const ROOT = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync('/tmp/pgf-config-');
after(() => rmSync(dir, { recursive: true, force: true }));

const BASE = {
  scope: 'orders',
  name: 'node1',
  dcs: { table: 'pgfloat' },
  restapi: { listen: '127.0.0.1:8008', connect_address: '127.0.0.1:8008' },
  postgresql: { data_dir: '/var/lib/pg', listen: '127.0.0.1:5432', connect_address: '127.0.0.1:5432' },
};

/** BASE with the given top-level sections merged in (one level deep), as YAML text. */
function yamlWith(extra: Obj): string {
  const doc: Obj = structuredClone(BASE);
  for (const [k, v] of Object.entries(extra)) {
    const cur = doc[k];
    doc[k] = cur !== null && typeof cur === 'object' && v !== null && typeof v === 'object' ? { ...(cur as Obj), ...(v as Obj) } : v;
  }
  return `${Object.entries(doc).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join('\n')}\n`;
}

/** The AgentConfigError message parseAgentConfig throws for text. */
function refusal(text: string): string {
  try {
    parseAgentConfig(text, 'agent.yml');
  } catch (err) {
    assert.ok(err instanceof AgentConfigError, `an AgentConfigError, not ${String(err)}`);
    return err.message;
  }
  assert.fail('the config was accepted');
}

describe('agent.yml unknown keys', () => {
  test('an unknown top-level key is refused with its name and the nearest known key', () => {
    // Prepare
    const text = yamlWith({ postgres: { data_dir: '/x' } });
    // Act
    const message = refusal(text);
    // Assess
    assert.match(message, /^agent\.yml is invalid:\n {2}postgres: unknown key, did you mean postgresql\?/);
    assert.match(message, /accepted here: scope, namespace, name, dcs, restapi, postgresql, tags, aws, arbiter, watchdog, bootstrap/);
  });

  test('an unknown tag is refused with its path and the nearest known key, so a misspelt nofailover cannot leave a node eligible', () => {
    // Prepare
    const text = yamlWith({ tags: { nofailovr: true } });
    // Act
    const message = refusal(text);
    // Assess
    assert.match(message, /^ {2}tags\.nofailovr: unknown key, did you mean nofailover\? \(accepted here: nofailover, failover_priority, nosync, noloadbalance\)$/m);
  });

  test('an unknown key two levels down names its full path', () => {
    // Prepare
    const text = yamlWith({ bootstrap: { dcs: { ttll: 30 } } });
    // Act
    const message = refusal(text);
    // Assess
    assert.match(message, /^ {2}bootstrap\.dcs\.ttll: unknown key, did you mean ttl\?/m);
  });

  test('a key differing only in case is pointed at the right spelling', () => {
    // Prepare
    const text = yamlWith({ postgresql: { Data_Dir: '/var/lib/pg' } });
    // Act
    const message = refusal(text);
    // Assess
    assert.match(message, /^ {2}postgresql\.Data_Dir: unknown key, did you mean data_dir\?/m);
  });

  test('a key far from every known key gets the list of accepted keys and no guess', () => {
    // Prepare
    const text = yamlWith({ watchdog: { timeout: 7 } });
    // Act
    const message = refusal(text);
    // Assess
    assert.match(message, /^ {2}watchdog\.timeout: unknown key \(accepted here: mode, device\)$/m);
  });

  test('every nested mapping is closed: each unknown key is named on its own line', () => {
    // Prepare
    const text = yamlWith({
      dcs: { tabel: 'x' },
      restapi: { authentication: { username: 'admin', passwd: 'x' } },
      postgresql: { authentication: { superuser: { username: 'postgres', pasword: 'x' }, replicaton: {} } },
      aws: { instanceid: 'i-0abc' },
      arbiter: { functon: 'pgfloat-prod-arbiter' },
      bootstrap: { dcs: { endpoint: { kind: 'elastic-ip', allocationId: 'eipalloc-0123456789abcdef0', allocation: 'x' } }, dsc: {} },
    });
    // Act
    const message = refusal(text);
    // Assess
    for (const path of [
      'dcs.tabel',
      'restapi.authentication.passwd',
      'postgresql.authentication.superuser.pasword',
      'postgresql.authentication.replicaton',
      'aws.instanceid',
      'arbiter.functon',
      'bootstrap.dsc',
      'bootstrap.dcs.endpoint.allocation',
    ]) {
      assert.match(message, new RegExp(`^ {2}${path.replaceAll('.', '\\.')}: unknown key`, 'm'), path);
    }
  });

  test('the nearest key is the one at most two edits away, or the same but for case', () => {
    // Prepare
    const keys = ['nofailover', 'failover_priority', 'nosync', 'noloadbalance'];
    // Act
    const found = ['nofailovr', 'NOSYNC', 'nosink', 'priority'].map((k) => nearestKey(k, keys));
    // Assess
    assert.deepEqual(found, ['nofailover', 'nosync', 'nosync', null]);
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.equal(editDistance('', 'abc'), 3);
  });
});

describe('agent.yml ranges', () => {
  for (const [section, key] of [
    ['restapi', 'listen'],
    ['restapi', 'connect_address'],
    ['postgresql', 'listen'],
    ['postgresql', 'connect_address'],
  ] as const) {
    test(`${section}.${key} with port 99999 is refused as no TCP port, with an example`, () => {
      // Prepare
      const text = yamlWith({ [section]: { [key]: '10.0.1.10:99999' } });
      // Act
      const message = refusal(text);
      // Assess
      const example = section === 'restapi' ? '8008' : '5432';
      assert.match(message, new RegExp(`^ {2}${section}\\.${key}: port 99999 is not a TCP port \\(1-65535\\), e\\.g\\. [0-9.]+:${example}$`, 'm'));
    });
  }

  test('port 0 and a port of six digits are refused too, and an IPv6 literal with a valid port is taken', () => {
    // Prepare
    const zero = yamlWith({ postgresql: { listen: '127.0.0.1:0' } });
    const six = yamlWith({ restapi: { listen: '127.0.0.1:123456' } });
    const v6 = yamlWith({ postgresql: { listen: '[::1]:5432' } });
    // Act
    const messages = [refusal(zero), refusal(six)];
    const parsed = parseAgentConfig(v6);
    // Assess
    assert.match(messages[0] ?? '', /postgresql\.listen: port 0 is not a TCP port/);
    assert.match(messages[1] ?? '', /restapi\.listen: port 123456 is not a TCP port/);
    assert.equal(parsed.postgresql.listen, '[::1]:5432');
  });

  test('a port alone, without a host, is refused with the host:port form', () => {
    // Prepare
    const text = yamlWith({ restapi: { listen: 8008 } });
    // Act
    const message = refusal(text);
    // Assess
    assert.match(message, /^ {2}restapi\.listen: write host:port, e\.g\. 0\.0\.0\.0:8008$/m);
  });

  test('a negative failover_priority is refused, saying what the number means', () => {
    // Prepare
    const text = yamlWith({ tags: { failover_priority: -1 } });
    // Act
    const message = refusal(text);
    // Assess
    assert.match(message, /^ {2}tags\.failover_priority: a whole number, 0 or more/m);
  });

  test('a bootstrap ttl shorter than loop_wait + 2 * retry_timeout is refused at load, not when the agent starts', () => {
    // Prepare
    const text = yamlWith({ bootstrap: { dcs: { ttl: 5 } } });
    // Act
    const message = refusal(text);
    // Assess
    assert.match(message, /^ {2}bootstrap\.dcs\.ttl: ttl 5 is less than loop_wait \+ 2 \* retry_timeout \(2 \+ 2 \* 4\)/m);
  });

  test('a bootstrap number that is not positive, and a bad endpoint kind, are refused with their paths', () => {
    // Prepare
    const text = yamlWith({ bootstrap: { dcs: { loop_wait: 0, endpoint: { kind: 'eip' } } } });
    // Act
    const message = refusal(text);
    // Assess
    assert.match(message, /^ {2}bootstrap\.dcs\.loop_wait: /m);
    assert.match(message, /^ {2}bootstrap\.dcs\.endpoint\.kind: one of none, elastic-ip, private-ip, route53, local-proxy/m);
  });

  test('a socket_dir too long for a Unix socket path is refused', () => {
    // Prepare
    const text = yamlWith({ postgresql: { socket_dir: `/tmp/${'x'.repeat(100)}` } });
    // Act
    const message = refusal(text);
    // Assess
    assert.match(message, /^ {2}postgresql\.socket_dir: at most 92 bytes/m);
  });

  test('a value of the wrong type says what was expected and what was found', () => {
    // Prepare
    const text = yamlWith({ tags: { nofailover: 'yes' }, postgresql: { authentication: { superuser: { username: 'postgres', password: 1234 } } } });
    // Act
    const message = refusal(text);
    // Assess
    assert.match(message, /^ {2}tags\.nofailover: expected true or false, got the string "yes"$/m);
    assert.match(message, /^ {2}postgresql\.authentication\.superuser\.password: expected a string, got number 1234: quote it, e\.g\. '1234'$/m);
  });

  test('a missing section is named with "missing (add it)"', () => {
    // Prepare
    const text = 'scope: orders\nname: node1\ndcs: { table: pgfloat }\n';
    // Act
    const message = refusal(text);
    // Assess
    assert.match(message, /^ {2}restapi: missing \(add it\)$/m);
    assert.match(message, /^ {2}postgresql: missing \(add it\)$/m);
  });
});

describe('agent.yml syntax', () => {
  test('a YAML syntax error names the line and column', () => {
    // Prepare
    const text = 'scope: orders\nname: node1\ntags: { nofailover: true\ndcs: { table: pgfloat }\n';
    // Act
    const message = refusal(text);
    // Assess
    assert.match(message, /^agent\.yml is not valid YAML at line 4, column 1: /);
  });

  test('a key written twice is a syntax error at the line of the second', () => {
    // Prepare
    const text = 'scope: orders\nname: node1\nscope: billing\n';
    // Act
    const message = refusal(text);
    // Assess
    assert.match(message, /^agent\.yml is not valid YAML at line 3, column 1: Map keys must be unique/);
  });

  test('an empty file is refused, pointing at the example', () => {
    // Act
    const message = refusal('# nothing yet\n');
    // Assess
    assert.match(message, /agent\.yml is empty: .*infra\/agent\.example\.yml/);
  });
});

describe('agent.yml files the repository ships or writes', () => {
  test('infra/agent.example.yml parses unchanged: every value it writes is the value the agent reads', () => {
    // Prepare
    const text = readFileSync(join(ROOT, 'infra', 'agent.example.yml'), 'utf8');
    const written = parse(text) as Obj;
    // Act
    const cfg = parseAgentConfig(text, 'infra/agent.example.yml');
    // Assess
    assertWrittenKept(written, cfg);
    assert.equal(bootstrapClusterConfig(cfg).endpoint.kind, 'elastic-ip');
  });

  test('the agent.yml infra/cluster-nodes.yml writes parses for every endpoint kind', () => {
    // Prepare
    const template = parseCfnYaml(readFileSync(join(ROOT, 'infra', 'cluster-nodes.yml'), 'utf8'));
    const resources = template.Resources as Record<string, Obj>;
    const data = (((resources.NodeLaunchTemplate?.Properties as Obj).LaunchTemplateData as Obj).UserData as Obj)['Fn::Base64'] as Obj;
    const [script, vars] = data['Fn::Sub'] as [string, Obj];
    const branches = leaves(vars.EndpointConfig);
    const body = script.slice(script.indexOf('\n', script.indexOf('cat > /etc/pgfloat/agent.yml <<AGENT')) + 1);
    const heredoc = body.slice(0, body.indexOf('\nAGENT\n') + 1);
    // Act
    const configs = branches.map((endpoint) => {
      const text = render(heredoc.replace('${EndpointConfig}', endpoint));
      return { text, cfg: parseAgentConfig(text, 'cluster-nodes.yml agent.yml') };
    });
    // Assess
    assert.deepEqual(configs.map((c) => c.cfg.bootstrap.dcs.endpoint?.kind).sort(), ['elastic-ip', 'none', 'private-ip', 'route53']);
    for (const c of configs) assertWrittenKept(parse(c.text) as Obj, c.cfg);
  });

  test('the agent.yml of each local node parses', async () => {
    // Prepare
    const specs = await planLocalNodes({
      baseDir: join(dir, 'local'),
      cluster: { namespace: 'pgfloat', scope: 'orders' },
      nodes: 2,
      dynamoEndpoint: 'http://127.0.0.1:8000',
      table: 'pgfloat',
      bootstrap: { ttl: 3, loopWait: 0.5, retryTimeout: 1, synchronousMode: true, failsafeMode: true, proxyPort: 15432 },
      parameters: { fsync: 'off' },
    });
    // Act
    const configs = specs.map((s) => {
      const text = readFileSync(s.configPath, 'utf8');
      return { text, cfg: parseAgentConfig(text, s.configPath) };
    });
    // Assess
    assert.deepEqual(configs.map((c) => c.cfg.name), ['node1', 'node2']);
    for (const c of configs) assertWrittenKept(parse(c.text) as Obj, c.cfg);
  });
});

describe('agent entry point and CLI', () => {
  test('the agent exits 2 on a bad agent.yml, writing the path-named message to stderr and starting nothing', async () => {
    // Prepare
    const file = join(dir, 'bad-agent.yml');
    writeFileSync(file, yamlWith({ postgresql: { listen: '127.0.0.1:99999' }, tags: { nofailovr: true } }));
    const written: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    // Act
    let code: number;
    try {
      code = await main(['--config', file]);
    } finally {
      process.stderr.write = write;
    }
    // Assess
    const stderr = written.join('');
    assert.equal(code, 2);
    assert.match(stderr, new RegExp(`^${file.replaceAll('.', '\\.')} is invalid:\n`));
    assert.match(stderr, /^ {2}postgresql\.listen: port 99999 is not a TCP port \(1-65535\), e\.g\. 10\.0\.1\.10:5432$/m);
    assert.match(stderr, /^ {2}tags\.nofailovr: unknown key, did you mean nofailover\?/m);
    assert.doesNotMatch(stderr, /\n\s+at /);
  });

  test('the agent exits 2 on an unknown option, with its usage', async () => {
    // Prepare
    const written: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    // Act
    let code: number;
    try {
      code = await main(['--confg', '/etc/pgfloat/agent.yml']);
    } finally {
      process.stderr.write = write;
    }
    // Assess
    assert.equal(code, 2);
    assert.match(written.join(''), /usage: pgfloat-agent --config <agent\.yml>/);
  });

  test('the CLI reads scope and dcs from a full agent.yml and refuses a misspelt key with the nearest known one', async () => {
    // Prepare
    const good = join(dir, 'cli-good.yml');
    const typo = join(dir, 'cli-typo.yml');
    const syntax = join(dir, 'cli-syntax.yml');
    writeFileSync(good, readFileSync(join(ROOT, 'infra', 'agent.example.yml'), 'utf8'));
    writeFileSync(typo, 'scope: orders\nnamespace: pgfloat\ndcs: { tabel: pgfloat-prod }\n');
    writeFileSync(syntax, 'scope: orders\nscope: billing\n');
    // Act
    const cfg = await readAgentConfig(good);
    const refused = await Promise.all([typo, syntax].map((f) => readAgentConfig(f).then(() => '', (err: Error) => err.message)));
    // Assess
    assert.deepEqual({ scope: cfg.scope, namespace: cfg.namespace, dcs: cfg.dcs }, { scope: 'orders', namespace: 'pgfloat', dcs: { table: 'pgfloat-prod', region: 'us-east-1' } });
    assert.match(refused[0] ?? '', new RegExp(`^agent config ${typo}: key dcs\\.tabel: unknown key, did you mean table\\?`));
    assert.match(refused[1] ?? '', new RegExp(`^agent config ${syntax}: is not valid YAML at line 2, column 1: Map keys must be unique$`));
  });
});

/** Every leaf value written in the file is the value the parsed config holds at the same path. */
function assertWrittenKept(written: unknown, parsed: unknown, path = ''): void {
  if (written !== null && typeof written === 'object' && !Array.isArray(written)) {
    assert.ok(parsed !== null && typeof parsed === 'object', `${path} is a mapping after parsing`);
    for (const [k, v] of Object.entries(written)) assertWrittenKept(v, (parsed as Obj)[k], path === '' ? k : `${path}.${k}`);
    return;
  }
  assert.deepEqual(parsed, written, path);
}

/** The string leaves of a CloudFormation If chain. */
function leaves(node: unknown): string[] {
  if (typeof node === 'string') return [node];
  if (Array.isArray(node)) return node.flatMap(leaves);
  const o = node as Obj;
  if (Array.isArray(o['Fn::If'])) return (o['Fn::If'] as unknown[]).slice(1).flatMap(leaves);
  if (typeof o['Fn::Sub'] === 'string') return [o['Fn::Sub']];
  throw new Error(`unexpected branch ${JSON.stringify(node)}`);
}

const SAMPLE: Record<string, string> = {
  Scope: 'orders',
  Namespace: 'pgfloat',
  TableName: 'pgfloat-prod',
  'AWS::Region': 'us-east-1',
  ArbiterFunctionName: 'pgfloat-prod-arbiter',
  MaxConnections: '200',
  SharedBuffers: '1GB',
  'ElasticIp.AllocationId': 'eipalloc-0123456789abcdef0',
  PrivateEndpointAddress: '10.0.1.100',
  Route53HostedZoneId: 'Z0123456789ABCDEFGHIJ',
  Route53RecordName: 'orders.db.example.com',
  MEMBER: 'node1',
  PRIVATE_IP: '10.0.1.10',
  RESTAPI_PASSWORD: 'a'.repeat(40),
  SUPERUSER_PASSWORD: 'b'.repeat(40),
  REPLICATION_PASSWORD: 'c'.repeat(40),
};

/** ${Name} (CloudFormation) and $NAME (shell) replaced by their SAMPLE values; a name without one is an error. */
function render(text: string): string {
  const value = (name: string): string => {
    const v = SAMPLE[name.trim()];
    if (v === undefined) throw new Error(`no sample value for ${name}`);
    return v;
  };
  return text.replace(/\$\{([^}!][^}]*)\}/g, (_, name: string) => value(name)).replace(/\$([A-Z_]+)\b/g, (_, name: string) => value(name));
}

describe('agent.yml postgresql.parameters', () => {
  test('a node parameter is checked as the server checks it, named by its YAML path', () => {
    // Prepare
    const text = yamlWith({ postgresql: { parameters: { work_mem: 'lots', port: 5433, max_connections: 200 } } });
    // Act
    const message = refusal(text);
    // Assess
    assert.match(message, /postgresql\.parameters\.work_mem: work_mem=lots: expected a number with an optional unit/);
    assert.match(message, /postgresql\.parameters\.port: port=5433: is set from agent\.yml \(postgresql\.listen/);
    assert.match(message, /postgresql\.parameters\.max_connections: .*pgfloat edit-config --pg max_connections=200/);
  });

  test('valid node parameters are kept as written', () => {
    // Prepare
    const text = yamlWith({ postgresql: { parameters: { work_mem: '8MB', fsync: 'off', 'pg_stat_statements.max': 1000 } } });
    // Act
    const cfg = parseAgentConfig(text, 'agent.yml');
    // Assess
    assert.deepEqual(cfg.postgresql.parameters, { work_mem: '8MB', fsync: 'off', 'pg_stat_statements.max': 1000 });
  });
});

test('bootstrap.dcs.postgresql.parameters become the first config item\'s cluster-wide parameters, checked like edit-config\'s', () => {
  // Prepare
  const good = yamlWith({ bootstrap: { dcs: { postgresql: { parameters: { max_connections: 200 } } } } });
  const bad = yamlWith({ bootstrap: { dcs: { postgresql: { parameters: { wal_level: 'minimal' } } } } });
  // Act
  const cfg = parseAgentConfig(good, 'agent.yml');
  const message = refusal(bad);
  // Assess
  assert.deepEqual(bootstrapClusterConfig(cfg).postgresql.parameters, { max_connections: 200 });
  assert.match(message, /bootstrap\.dcs\.postgresql\.parameters\.wal_level: wal_level=minimal: must be replica or logical/);
});

test('bootstrap.dcs takes permanent_slots and slot_grace_period, and refuses a logical slot naming its path', () => {
  // Prepare
  const good = yamlWith({ bootstrap: { dcs: { permanent_slots: { dr: { type: 'physical' } }, slot_grace_period: 600 } } });
  const bad = yamlWith({ bootstrap: { dcs: { permanent_slots: { cdc: { type: 'logical' } } } } });
  // Act
  const cfg = bootstrapClusterConfig(parseAgentConfig(good, 'agent.yml'));
  const message = refusal(bad);
  // Assess
  assert.deepEqual(cfg.permanentSlots, { dr: { type: 'physical' } });
  assert.equal(cfg.slotGracePeriod, 600);
  assert.match(message, /bootstrap\.dcs\.permanent_slots\.cdc/);
});
