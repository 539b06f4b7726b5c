// An operator's restart, reload and reinitialize over the agent API, on real
// servers: a replica and the primary restart (the primary keeps its term and
// picks up a pending setting), conditions are honoured, a scheduled restart
// runs or is cancelled, and a reinit re-creates a replica from the leader.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parse } from 'yaml';
import { DEFAULT_CONFIG } from '../../lib/dcs/items.js';
import { postmasterPid } from '../../lib/local/cluster.js';
import { sql, streamingStandbys, TestCluster } from '../support/pgcluster.js';

let c: TestCluster | undefined;
after(async () => c?.stop());

interface Reply {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

function api(cl: TestCluster, name: string) {
  const cfg = parse(readFileSync(cl.spec(name).configPath, 'utf8')) as { restapi: { authentication: { username: string; password: string } } };
  const { username, password } = cfg.restapi.authentication;
  const auth = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  return async (method: string, path: string, body?: unknown): Promise<Reply> => {
    const r = await fetch(`http://127.0.0.1:${cl.spec(name).apiPort}${path}`, {
      method,
      headers: { Authorization: auth, 'Content-Type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(120_000),
    });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };
}

test('restart, reload and reinitialize over the agent API', { timeout: 420_000 }, async () => {
  // Prepare: three nodes streaming, ttl 3
  c = await TestCluster.create({ nodes: 3, ttl: 3 });
  const cl = c;
  const primary = await cl.startStreaming();
  const streaming = async (n: number) => cl.waitFor(`${n} replicas streaming`, async () => ((await streamingStandbys(cl.spec(primary).pgPort)).length === n ? true : undefined), 120_000);
  await cl.waitFor('every replica reports streaming', (s) => (s.members.filter((m) => m.receiver === 'streaming').length === 2 ? true : undefined));
  const term = (await cl.read()).leader?.term;

  // Act 1: restart a replica
  const before2 = postmasterPid(cl.spec('node2'));
  const r2 = await api(cl, 'node2')('POST', '/restart', {});
  // Assess 1
  assert.equal(r2.status, 200, JSON.stringify(r2.body));
  assert.notEqual(postmasterPid(cl.spec('node2')), before2);
  await streaming(2);

  // Act 2: a setting that needs a restart, then a restart of the primary only where one is pending
  const cur = await cl.store.getConfig(cl.cluster);
  assert.ok((await cl.store.putConfig(cl.cluster, { ...(cur?.config ?? DEFAULT_CONFIG), postgresql: { parameters: { max_connections: 120 } } }, cur?.version ?? null)).ok);
  await cl.waitFor('the primary reports max_connections pending', (s) => (s.members.find((m) => m.name === primary)?.pendingRestart?.includes('max_connections') ? true : undefined));
  const wrongRole = await api(cl, primary)('POST', '/restart', { role: 'replica' });
  const beforeP = postmasterPid(cl.spec(primary));
  const rp = await api(cl, primary)('POST', '/restart', { restart_pending: true });
  // Assess 2: refused by role; restarted in place, same term, the new value in force and no longer pending
  assert.equal(wrongRole.status, 503);
  assert.match(String(wrongRole.body['message'] ?? wrongRole.body['error']), /restart conditions are not satisfied/);
  assert.equal(rp.status, 200, JSON.stringify(rp.body));
  assert.notEqual(postmasterPid(cl.spec(primary)), beforeP);
  const [row] = await sql<{ v: string }>(cl.spec(primary).pgPort, "SELECT current_setting('max_connections') AS v");
  assert.equal(row?.v, '120');
  const after2 = await cl.waitFor('the primary no longer pending', (s) => (s.members.find((m) => m.name === primary)?.pendingRestart?.length === 0 ? s : undefined));
  assert.equal(after2.leader?.holder, primary);
  assert.equal(after2.leader?.term, term, 'no failover');

  // Act 3: schedule, show, cancel; then schedule one that runs
  const n2 = api(cl, 'node2');
  const later = await n2('POST', '/restart', { schedule: new Date(Date.now() + 3600_000).toISOString() });
  const shown = (await (await fetch(`http://127.0.0.1:${cl.spec('node2').apiPort}/patroni`)).json()) as Record<string, unknown>;
  const cancel = await n2('DELETE', '/restart');
  const cancelAgain = await n2('DELETE', '/restart');
  const pid2 = postmasterPid(cl.spec('node2'));
  const soon = await n2('POST', '/restart', { schedule: new Date(Date.now() + 2000).toISOString() });
  // Assess 3
  assert.equal(later.status, 202);
  assert.ok(shown['scheduled_restart'] !== undefined);
  assert.deepEqual([cancel.status, cancelAgain.status], [200, 404]);
  assert.equal(soon.status, 202);
  await cl.waitFor('the scheduled restart ran', async () => {
    const now = postmasterPid(cl.spec('node2'));
    return now !== null && now !== pid2 ? true : undefined;
  });
  await streaming(2);

  // Act 4: reload, and reinitialize node3 (a file left in its data directory must go), and refuse on the primary
  const reload = await n2('POST', '/reload');
  const marker = join(cl.spec('node3').dataDir, 'left-by-hand');
  writeFileSync(marker, 'x');
  const onPrimary = await api(cl, primary)('POST', '/reinitialize', {});
  const reinit = await api(cl, 'node3')('POST', '/reinitialize', {});
  // Assess 4
  assert.equal(reload.status, 200);
  assert.equal(onPrimary.status, 503);
  assert.match(String(onPrimary.body['message'] ?? onPrimary.body['error']), /holds the lease/);
  assert.equal(reinit.status, 202, JSON.stringify(reinit.body));
  await cl.waitFor('node3 re-created and streaming', async () => (!existsSync(marker) && (await streamingStandbys(cl.spec(primary).pgPort)).includes('node3') ? true : undefined), 180_000);
  assert.equal((await cl.read()).leader?.term, term, 'still no failover');
});
