// Pause as a maintenance mode on real servers: the agents leave PostgreSQL
// alone (a replica stopped by hand stays stopped), the primary keeps taking
// writes with its agent gone for good while paused and after the resume
// (its lease is held unfenced, which no automatic failover passes), and the
// agent's return ends the unfenced lease with no failover and no restart.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { DEFAULT_CONFIG } from '../../lib/dcs/items.js';
import { postmasterPid } from '../../lib/local/cluster.js';
import { sql, TestCluster } from '../support/pgcluster.js';

let c: TestCluster | undefined;
after(async () => c?.stop());

async function setPaused(cl: TestCluster, paused: boolean): Promise<void> {
  const cur = await cl.store.getConfig(cl.cluster);
  const r = await cl.store.putConfig(cl.cluster, { ...(cur?.config ?? DEFAULT_CONFIG), paused }, cur?.version ?? null);
  assert.ok(r.ok, 'the config write lands');
}

async function writable(port: number): Promise<boolean> {
  try {
    await sql(port, 'CREATE TABLE IF NOT EXISTS pause_probe (at timestamptz); INSERT INTO pause_probe VALUES (now())');
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('paused: PostgreSQL is left alone, and the primary outlives its agent with no fence and no failover', { timeout: 300_000 }, async () => {
  // Prepare: three nodes streaming, ttl 3
  c = await TestCluster.create({ nodes: 3, ttl: 3 });
  const cl = c;
  const primary = await cl.startStreaming();
  const term = (await cl.read()).leader?.term;

  // Act 1: pause, then stop node2's PostgreSQL by hand
  await setPaused(cl, true);
  const unfencedAt = await cl.waitFor('the lease held unfenced', (s) => (s.leader?.unfenced === true ? s.leader.version : undefined));
  await cl.waitFor('the paused holder keeps renewing, unfenced', (s) => (s.leader?.unfenced === true && s.leader.version >= unfencedAt + 3 ? true : undefined), 30_000);
  const pid = postmasterPid(cl.spec('node2'));
  assert.ok(pid !== null);
  process.kill(pid, 'SIGINT');
  const stoppedAt = await cl.waitFor('node2 reports stopped', (s) => {
    const m = s.members.find((x) => x.name === 'node2');
    return m?.state === 'stopped' ? m.version : undefined;
  });
  await cl.waitFor('node2 heartbeats five more times', (s) => ((s.members.find((x) => x.name === 'node2')?.version ?? 0) >= stoppedAt + 5 ? true : undefined));

  // Assess 1: nobody started it
  assert.equal(postmasterPid(cl.spec('node2')), null, 'node2 stays stopped while paused');

  // Act 2: the primary's agent dies (PostgreSQL stays); wait well past ttl, then resume and wait again
  const agent = cl.agents.get(primary);
  agent?.child.kill('SIGKILL');
  await agent?.exited;
  await sleep(3 * 3000);
  const whilePaused = await writable(cl.spec(primary).pgPort);
  await setPaused(cl, false);
  await sleep(3 * 3000);

  // Assess 2: still the only primary, same term, never fenced
  assert.equal(whilePaused, true, 'the primary takes writes with its agent gone, while paused');
  assert.equal(await writable(cl.spec(primary).pgPort), true, 'and after the resume');
  const snap = await cl.read();
  assert.equal(snap.leader?.holder, primary);
  assert.equal(snap.leader?.term, term, 'no failover over the unfenced lease');
  assert.equal(snap.leader?.unfenced, true);
  assert.equal(await writable(cl.spec('node3').pgPort), false, 'node3 is still a replica');

  // Act 3: the agent comes back
  cl.start(primary);
  const back = await cl.waitFor('the lease renewed fenced again', (s) => (s.leader?.unfenced === undefined && s.leader?.holder === primary ? s : undefined));

  // Assess 3: same term, the same server, writes through
  assert.equal(back.leader?.term, term);
  assert.equal(await writable(cl.spec(primary).pgPort), true);
  await cl.waitFor('node2 started again once resumed', async () => (postmasterPid(cl.spec('node2')) !== null ? true : undefined));
});
