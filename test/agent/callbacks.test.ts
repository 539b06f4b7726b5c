// Callbacks and pre_promote on real PostgreSQL 15 under three agents, with
// DynamoDB Local and the arbiter loop in this process. Each node's callbacks
// append their arguments to the node's own file; node2's pre_promote fails,
// so when the leader is killed the failover must end on node3.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { writeNodeHooks } from '../../lib/local/cluster.js';
import { leaderActive, sql, streamingStandbys, TestCluster } from '../support/pgcluster.js';

let c: TestCluster;
let hooksDir: string;
/** Caps every wait; it only stops a hung test. */
const BOUND_MS = 120_000;

const calls = (name: string): string[] => {
  const file = join(hooksDir, `${name}.calls`);
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l !== '') : [];
};

function script(path: string, body: string): string {
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

before(async () => {
  c = await TestCluster.create({ nodes: 3, ttl: 3 });
  // As root the scripts run as the PostgreSQL OS user: it must reach them and the files they append to.
  hooksDir = join(c.baseDir, 'hooks');
  mkdirSync(hooksDir);
  chmodSync(hooksDir, 0o777);
  for (const s of c.specs) {
    const record = script(join(hooksDir, `${s.name}-callback.sh`), `echo "$@" >> ${join(hooksDir, `${s.name}.calls`)}`);
    const pre = script(join(hooksDir, `${s.name}-pre-promote.sh`), s.name === 'node2' ? 'echo "node2 refuses"; exit 1' : 'exit 0');
    writeNodeHooks(s.configPath, {
      callbacks: { on_start: record, on_stop: record, on_restart: record, on_reload: record, on_role_change: record },
      prePromote: pre,
      callbackTimeout: 10,
      // node2 is the arbiter's first choice among equals: the failover meets its veto first.
      ...(s.name === 'node2' ? { failoverPriority: 2 } : {}),
    });
  }
  c.startArbiter();
});
after(async () => c?.stop());

/** POST to a node's agent API with the cluster's credential. */
async function post(name: string, path: string): Promise<number> {
  const { username, password } = (parse(readFileSync(c.spec(name).configPath, 'utf8')) as { restapi: { authentication: { username: string; password: string } } }).restapi.authentication;
  const r = await fetch(`http://127.0.0.1:${c.spec(name).apiPort}${path}`, {
    method: 'POST',
    headers: { Authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`, 'Content-Type': 'application/json' },
    signal: AbortSignal.timeout(60_000),
  });
  await r.text();
  return r.status;
}

const waitFor: TestCluster['waitFor'] = (what, check, timeoutMs = BOUND_MS) => c.waitFor(what, check, timeoutMs);

describe('callbacks and pre_promote on real PostgreSQL', { concurrency: false }, () => {
  test('every node that starts its PostgreSQL runs on_start with its role and the scope', async () => {
    // Prepare: node1 first, so it is the leader the failover replaces.
    c.start('node1');
    await waitFor('node1 the confirmed leader', (s) => (leaderActive(s) === 'node1' ? true : undefined));
    c.start('node2');
    c.start('node3');
    await waitFor('node2 and node3 streaming', async () => {
      const got = await streamingStandbys(c.spec('node1').pgPort);
      return got.includes('node2') && got.includes('node3') ? true : undefined;
    });
    // Act: a callback runs beside the loop, a moment after the start.
    await waitFor('on_start on every node', () => (c.specs.every((s) => calls(s.name).some((l) => l.startsWith('on_start '))) ? true : undefined), 30_000);
    // Assess
    const scope = c.cluster.scope;
    for (const name of ['node2', 'node3']) assert.ok(calls(name).includes(`on_start replica ${scope}`), `${name}: ${calls(name).join(' | ')}`);
    assert.match(calls('node1').find((l) => l.startsWith('on_start ')) ?? '', new RegExp(`^on_start (primary|replica) ${scope}$`));
  });

  test('the leader killed: node2 vetoes by its pre_promote, node3 is promoted and runs on_role_change primary', async () => {
    // Act
    c.kill('node1');
    const leader = await waitFor('a new confirmed leader', (s) => {
      const l = leaderActive(s);
      return l !== undefined && l !== 'node1' ? l : undefined;
    });
    // Assess
    assert.equal(leader, 'node3', c.logs());
    const node2Log = readFileSync(c.spec('node2').logPath, 'utf8');
    assert.match(node2Log, /pre_promote vetoed the promotion of term \d+ \(exited with status 1\)/);
    assert.match(node2Log, /node2 refuses/);
    const recovery = await sql<{ r: boolean }>(c.spec('node2').pgPort, 'SELECT pg_is_in_recovery() AS r');
    assert.equal(recovery[0]?.r, true, 'node2 never promoted');
    await waitFor('on_role_change primary on node3', () => (calls('node3').includes(`on_role_change primary ${c.cluster.scope}`) ? true : undefined), 30_000);
    assert.ok(!calls('node2').some((l) => l.startsWith('on_role_change primary')), calls('node2').join(' | '));
  });

  test('an operator reload and restart of the new primary run on_reload and on_restart with role primary', async () => {
    // Act
    assert.equal(await post('node3', '/reload'), 200);
    assert.equal(await post('node3', '/restart'), 200);
    // Assess
    const scope = c.cluster.scope;
    await waitFor('on_reload and on_restart on node3', () => (calls('node3').includes(`on_reload primary ${scope}`) && calls('node3').includes(`on_restart primary ${scope}`) ? true : undefined), 60_000);
  });
});
