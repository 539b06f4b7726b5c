// Bad inputs never turn into destructive actions: a malformed config, the
// data directory of another cluster, a store unreachable at start-up.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { DynamoDbStore } from '../../lib/dcs/dynamodb-store.js';
import { planLocalNodes } from '../../lib/local/cluster.js';
import { freeLoopbackPort } from '../../lib/local/dynamodb-local.js';
import { PostgresNode } from '../../lib/postgres/node.js';
import { freshTable } from '../support/dynamodb.js';

const root = join(import.meta.dirname, '..', '..');

/** Caps a run of the agent (tsx start-up takes seconds on a busy machine): it only stops a hung agent. */
const RUN_BOUND_MS = 120_000;

/**
 * Runs the agent until it exits by itself, or until `stopWhen` holds of its
 * stderr (then SIGTERM, once, as systemd stops it), or at most RUN_BOUND_MS.
 */
function runAgent(config: string, stopWhen?: (stderr: string) => boolean): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'lib/agent/bin.ts'), '--config', config], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let stopping = false;
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (!stopping && stopWhen?.(stderr) === true) {
        stopping = true;
        child.kill('SIGTERM');
      }
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_BOUND_MS);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe('agent bad inputs', () => {
  const base = mkdtempSync('/tmp/pgf-bad-');
  chmodSync(base, 0o755);
  after(() => rmSync(base, { recursive: true, force: true }));

  test('a malformed config file is refused with every bad key named and nothing started', async () => {
    // Prepare
    const file = join(base, 'bad.yml');
    writeFileSync(file, 'scope: "has space"\nname: node1\ndcs: {}\nrestapi: { listen: nowhere }\npostgresql: { data_dir: relative/path }\n');
    // Act
    const r = await runAgent(file);
    // Assess
    assert.equal(r.code, 2);
    assert.match(r.stderr, /scope: the cluster name/);
    assert.match(r.stderr, /dcs\.table: missing \(add it\)/);
    assert.match(r.stderr, /^ {2}restapi\.listen: write host:port, e\.g\. 0\.0\.0\.0:8008$/m);
    assert.match(r.stderr, /^ {2}postgresql\.data_dir: an absolute path$/m);
    assert.doesNotMatch(r.stderr, /health API on/);
  });

  test('the data directory of another cluster is refused and left untouched', async () => {
    // Prepare: the store says system 1111..., the data directory is a fresh initdb
    const table = await freshTable();
    after(() => table.close());
    const cluster = { namespace: 'bad', scope: 'other' };
    const [spec] = await planLocalNodes({ baseDir: join(base, 'other'), cluster, nodes: 1, dynamoEndpoint: table.endpoint, table: table.tableName, bootstrap: { ttl: 3, loopWait: 0.5, retryTimeout: 1, proxyPort: await freeLoopbackPort() } });
    assert.ok(spec);
    const store = new DynamoDbStore({ client: table.client, tableName: table.tableName });
    await store.initialize(cluster, { initializedBy: 'elsewhere', systemId: '1111111111111111111' });
    const pg = new PostgresNode({ name: 'node1', dataDir: spec.dataDir, port: spec.pgPort, socketDir: join(base, 'other', 'sock'), auth: { hostAuthMethod: 'trust', localAuthMethod: 'trust' } });
    await pg.initdb({ noSync: true });
    const before = (await pg.controldata()).systemId;
    // Act
    const r = await runAgent(spec.configPath);
    // Assess
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, new RegExp(`belongs to system ${before}, but cluster other is system 1111111111111111111: refusing to join`));
    assert.equal((await pg.controldata()).systemId, before);
    assert.equal(await pg.isRunning(), false);
    assert.equal((await store.readCluster(cluster)).leader, null);
  });

  test('a store unreachable at start-up: the agent waits, logs why, runs no initdb, and stops cleanly', async () => {
    // Prepare: the store endpoint is a closed loopback port
    const deadPort = await freeLoopbackPort();
    const [spec] = await planLocalNodes({ baseDir: join(base, 'nostore'), cluster: { namespace: 'bad', scope: 'nostore' }, nodes: 1, dynamoEndpoint: `http://127.0.0.1:${deadPort}`, table: 'pgfloat', bootstrap: { ttl: 3, loopWait: 0.5, retryTimeout: 1, proxyPort: await freeLoopbackPort() } });
    assert.ok(spec);
    // Act: stop it (SIGTERM) once it has said twice why it is waiting: a whole loop went by, then another began
    const unavailable = /cannot read the cluster: store unavailable: readCluster failed after \d+ attempt/;
    const r = await runAgent(spec.configPath, (stderr) => (stderr.match(new RegExp(unavailable.source, 'g')) ?? []).length >= 2);
    // Assess
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, unavailable);
    assert.equal(existsSync(spec.dataDir) ? readdirSync(spec.dataDir).length : 0, 0);
    assert.doesNotMatch(readFileSync(spec.configPath, 'utf8'), /^$/);
  });
});
