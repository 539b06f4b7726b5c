// A replica following a healthy leader reads the head of the partition (the
// leader, config, initialize and request items) rather than every member, and
// still sees what changes: a pause, then the leader's death and the failover.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { DEFAULT_CONFIG } from '../../lib/dcs/items.js';
import { leaderActive, sql, streamingStandbys, TestCluster } from '../support/pgcluster.js';

let c: TestCluster | undefined;
after(async () => c?.stop());

interface Reads {
  readonly paused: boolean;
  readonly cluster: number;
  readonly head: number;
}

/** What the agent on `apiPort` says of its reads and of the pause. */
async function reads(apiPort: number): Promise<Reads> {
  const r = await fetch(`http://127.0.0.1:${apiPort}/patroni`, { signal: AbortSignal.timeout(2000) });
  const body = (await r.json()) as { pause: boolean; pgfloat: { store_reads: { cluster: number; head: number } } };
  return { paused: body.pause, ...body.pgfloat.store_reads };
}

async function until<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}${last !== undefined ? `: ${String(last)}` : ''}`);
}

test('replicas of a healthy leader read the head, see a pause, and fail over when the leader dies', { timeout: 300_000 }, async () => {
  // Prepare: three nodes, ttl 3
  c = await TestCluster.create({ nodes: 3, ttl: 3 });
  const cl = c;
  const primary = await cl.startStreaming();
  const replicas = ['node2', 'node3'];

  // Act 1: a healthy cluster for a while
  const first = await until('head reads on both replicas', async () => {
    const r = await Promise.all(replicas.map((n) => reads(cl.spec(n).apiPort)));
    return r.every((x) => x.head >= 3) ? r : undefined;
  });
  const primaryReads = await reads(cl.spec(primary).apiPort);

  // Assess 1: the replicas read the head; the primary, which renews and names the failsafe set, reads everything
  for (const r of first) assert.ok(r.cluster >= 1 && r.head >= 3, JSON.stringify(r));
  assert.equal(primaryReads.head, 0, 'the holder reads the whole partition');

  // Act 2: pause, by CAS on the config
  const cfg = await cl.store.getConfig(cl.cluster);
  const put = await cl.store.putConfig(cl.cluster, { ...(cfg?.config ?? DEFAULT_CONFIG), paused: true }, cfg?.version ?? null);
  assert.ok(put.ok);
  const seen = await until('both replicas paused', async () => {
    const r = await Promise.all(replicas.map((n) => reads(cl.spec(n).apiPort)));
    return r.every((x) => x.paused) ? r : undefined;
  });

  // Assess 2: the change came through while they were reading heads
  seen.forEach((r, i) => assert.ok(r.head > (first[i]?.head ?? 0) || r.cluster > (first[i]?.cluster ?? 0), JSON.stringify(r)));

  // Act 3: resume, then kill -9 the leader (agent and PostgreSQL)
  const paused = await cl.store.getConfig(cl.cluster);
  assert.ok((await cl.store.putConfig(cl.cluster, { ...(paused?.config ?? DEFAULT_CONFIG), paused: false }, paused?.version ?? null)).ok);
  await until('both replicas resumed', async () => ((await Promise.all(replicas.map((n) => reads(cl.spec(n).apiPort)))).every((x) => !x.paused) ? true : undefined));
  // A lease renewed while paused is held unfenced until its holder renews after the resume: only then may it fail over.
  await cl.waitFor('the holder renewed out of pause', (s) => (s.leader?.holder === primary && s.leader.unfenced === undefined ? true : undefined));
  cl.kill(primary);
  const next = await cl.waitFor('a new leader', (s) => {
    const l = leaderActive(s);
    return l !== undefined && l !== primary ? l : undefined;
  }, 120_000);
  const other = replicas.find((n) => n !== next) ?? '';
  await cl.waitFor(`${other} streaming from ${next}`, async () => ((await streamingStandbys(cl.spec(next).pgPort)).includes(other) ? true : undefined), 120_000);

  // Assess 3: one writable node, and the survivor follows it
  const writable = await Promise.all(replicas.map(async (n) => (await sql<{ r: boolean }>(cl.spec(n).pgPort, 'SELECT pg_is_in_recovery() AS r'))[0]?.r === false));
  assert.deepEqual(writable, replicas.map((n) => n === next));
});
