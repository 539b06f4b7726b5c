// A former primary whose pg_rewind cannot succeed (its WAL is gone) on real
// servers: it tries, gives up, says so in the store and in `pgfloat list`,
// never starts on its own, and `pgfloat reinit` re-creates it from the leader.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parse } from 'yaml';
import { main } from '../../lib/cli/main.js';
import { postmasterPid } from '../../lib/local/cluster.js';
import { streamingStandbys, TestCluster } from '../support/pgcluster.js';

let c: TestCluster | undefined;
after(async () => c?.stop());

async function cli(cl: TestCluster, argv: string[]): Promise<{ code: number; out: string }> {
  const cfg = parse(readFileSync(cl.spec('node2').configPath, 'utf8')) as { restapi: { authentication: { username: string; password: string } } };
  const { username, password } = cfg.restapi.authentication;
  let out = '';
  const code = await main([...argv, '--cluster', `${cl.cluster.namespace}/${cl.cluster.scope}`], { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (out += s) }, env: { PGFLOAT_API_AUTH: `${username}:${password}` } }, { store: cl.store });
  return { code, out };
}

test('a former primary that cannot be rewound is reported, left stopped, and re-created by pgfloat reinit', { timeout: 420_000 }, async () => {
  // Prepare: three nodes, node1 leads
  c = await TestCluster.create({ nodes: 3, ttl: 3 });
  const cl = c;
  await cl.startStreaming();

  // Act 1: node1 dies, another is promoted, and node1's WAL is lost before it comes back
  cl.kill('node1');
  await cl.agents.get('node1')?.exited;
  const next = await cl.waitFor('a new leader', (s) => (s.leader?.phase === 'active' && s.leader.holder !== 'node1' ? s.leader.holder : undefined), 120_000);
  const wal = join(cl.spec('node1').dataDir, 'pg_wal');
  for (const f of readdirSync(wal)) if (/^[0-9A-F]{24}$/.test(f)) rmSync(join(wal, f));
  cl.start('node1');
  const marked = await cl.waitFor('node1 reports its rewind failed', (s) => (s.members.find((m) => m.name === 'node1')?.rewindFailed === true ? s : undefined), 180_000);
  const listed = await cli(cl, ['list']);

  // Assess 1: marked in the store and in list, not running, the leader unchanged
  assert.equal(marked.leader?.holder, next);
  assert.equal(postmasterPid(cl.spec('node1')), null);
  assert.match(listed.out, /node1 .*rewind failed \(pgfloat reinit node1\)/);

  // Act 2: the operator re-creates it
  const r = await cli(cl, ['reinit', 'node1', '--force', '--wait', '240']);

  // Assess 2: streaming from the leader again, no longer marked
  assert.equal(r.code, 0, r.out);
  await cl.waitFor('node1 streams from the leader', async () => ((await streamingStandbys(cl.spec(next).pgPort)).includes('node1') ? true : undefined), 120_000);
  const after2 = await cl.waitFor('node1 no longer marked', (s) => (s.members.find((m) => m.name === 'node1')?.rewindFailed === undefined ? s : undefined));
  assert.equal(after2.leader?.holder, next);
});
