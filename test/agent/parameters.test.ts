// Cluster-wide parameters on real servers: what the config item says reaches
// every node (a reload for sighup settings, a pending restart for postmaster
// ones), and a parameter the server would refuse, written into the store
// past the CLI, is set aside and reported while everything else applies.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { DEFAULT_CONFIG, type ClusterConfig } from '../../lib/dcs/items.js';
import { sql, TestCluster } from '../support/pgcluster.js';

let c: TestCluster | undefined;
after(async () => c?.stop());

const NODES = ['node1', 'node2', 'node3'];

async function setParameters(cl: TestCluster, parameters: ClusterConfig['postgresql']['parameters']): Promise<void> {
  const current = await cl.store.getConfig(cl.cluster);
  const config = current?.config ?? DEFAULT_CONFIG;
  const r = await cl.store.putConfig(cl.cluster, { ...config, postgresql: { parameters } }, current?.version ?? null);
  assert.ok(r.ok, 'the config write lands');
}

async function show(port: number, name: string): Promise<string | undefined> {
  const [row] = await sql<{ v: string }>(port, `SELECT current_setting($1) AS v`, [name]).catch(() => []);
  return row?.v;
}

test('cluster parameters reach every node; a restart-only one is pending; a bad one is set aside and reported', { timeout: 300_000 }, async () => {
  // Prepare: three nodes streaming
  c = await TestCluster.create({ nodes: 3, ttl: 3 });
  const cl = c;
  const primary = await cl.startStreaming();
  const before = await show(cl.spec('node1').pgPort, 'max_connections');

  // Act 1: a reload setting and a restart setting
  await setParameters(cl, { work_mem: '64MB', max_connections: 150 });

  // Assess 1: work_mem in new sessions everywhere; max_connections unchanged and pending on every member
  for (const n of NODES) {
    await cl.waitFor(`${n} shows work_mem 64MB`, async () => ((await show(cl.spec(n).pgPort, 'work_mem')) === '64MB' ? true : undefined));
  }
  const pending = await cl.waitFor('every member reports max_connections pending', (s) => {
    const all = NODES.every((n) => s.members.find((m) => m.name === n)?.pendingRestart?.includes('max_connections') === true);
    return all ? s : undefined;
  });
  for (const n of NODES) assert.equal(await show(cl.spec(n).pgPort, 'max_connections'), before, `${n} still runs with the old max_connections`);
  assert.equal(pending.members.every((m) => (m.serverVersion ?? 0) >= 150000 && (m.serverVersion ?? 0) < 160000), true, 'the real server version is reported');

  // Act 2: a value the server would refuse, written straight into the store, beside a good one
  await setParameters(cl, { work_mem: 'lots', maintenance_work_mem: '128MB' });

  // Assess 2: the good one applies, the bad one is reported by every member and never written
  for (const n of NODES) {
    await cl.waitFor(`${n} shows maintenance_work_mem 128MB`, async () => ((await show(cl.spec(n).pgPort, 'maintenance_work_mem')) === '128MB' ? true : undefined));
  }
  const reported = await cl.waitFor('every member reports work_mem set aside', (s) => {
    const all = NODES.every((n) => s.members.find((m) => m.name === n)?.parameterProblems?.some((p) => p.startsWith('work_mem=lots')) === true);
    return all ? s : undefined;
  });
  assert.equal(reported.leader?.holder, primary, 'no failover on the way');
  for (const n of NODES) {
    // work_mem fell back to the server's default: the bad value is not in the file, the old one is gone.
    assert.equal(await show(cl.spec(n).pgPort, 'work_mem'), '4MB');
  }
  const body = (await (await fetch(`http://127.0.0.1:${cl.spec(primary).apiPort}/patroni`, { signal: AbortSignal.timeout(2000) })).json()) as Record<string, unknown>;
  assert.equal(body['pending_restart'], undefined, 'max_connections is no longer asked for, so nothing waits for a restart');
  assert.match(JSON.stringify((body['pgfloat'] as Record<string, unknown>)['parameter_problems']), /work_mem=lots/);
});
