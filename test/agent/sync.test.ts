// Synchronous mode: only a standby PostgreSQL waits for is ever eligible, so
// a failover loses no acknowledged write; the new primary has a synchronous
// standby again within a second of its promotion.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { leaderActive, sql, streamingStandbys, TestCluster } from '../support/pgcluster.js';

let c: TestCluster;
before(async () => {
  c = await TestCluster.create({ nodes: 3, ttl: 3, synchronousMode: true });
  c.startArbiter();
});
after(async () => c?.stop());

async function syncStandby(port: number): Promise<string | undefined> {
  const rows = await sql<{ name: string }>(port, "SELECT application_name AS name FROM pg_stat_replication WHERE sync_state = 'sync'", [], 500).catch(() => []);
  return rows[0]?.name;
}

test('after a kill -9 failover every acknowledged write is on the new primary, which has a sync standby again within 1 s', async () => {
  // Prepare: node1 leads, the others stream, one of them is the synchronous standby
  c.start('node1');
  const old = await c.waitFor('node1 leads', leaderActive);
  c.start('node2');
  c.start('node3');
  await c.waitFor('two replicas streaming', async () => ((await streamingStandbys(c.spec(old).pgPort)).length === 2 ? true : undefined));
  const standby = await c.waitFor('a synchronous standby in PostgreSQL and in the store', async (s) => {
    const inPg = await syncStandby(c.spec(old).pgPort);
    return inPg !== undefined && s.sync?.leader === old && s.sync.standbys.includes(inPg) ? inPg : undefined;
  });
  await sql(c.spec(old).pgPort, 'CREATE TABLE acked (id int PRIMARY KEY)');
  const acked: number[] = [];
  let writing = true;
  const writer = (async () => {
    for (let id = 1; writing && id < 100_000; id++) {
      try {
        await sql(c.spec(old).pgPort, 'INSERT INTO acked VALUES ($1)', [id], 1000);
        acked.push(id);
      } catch {
        return;
      }
    }
  })();
  await new Promise((r) => setTimeout(r, 700));
  // Act: kill the primary mid-stream of writes
  c.kill(old);
  writing = false;
  await writer;
  const others = c.specs.map((s) => s.name).filter((n) => n !== old);
  const promoted = await c.waitFor('a promoted node', async () => {
    for (const n of others) {
      const rows = await sql<{ r: boolean }>(c.spec(n).pgPort, 'SELECT pg_is_in_recovery() AS r', [], 300).catch(() => []);
      if (rows[0]?.r === false) return { name: n, at: Date.now() };
    }
    return undefined;
  }, 30_000);
  const syncAgainAt = await c.waitFor('a sync standby on the new primary', async () => ((await syncStandby(c.spec(promoted.name).pgPort)) !== undefined ? Date.now() : undefined), 10_000);
  // Assess
  assert.equal(promoted.name, standby, 'only the synchronous standby was eligible');
  const rows = await sql<{ id: number }>(c.spec(promoted.name).pgPort, 'SELECT id FROM acked');
  const present = new Set(rows.map((r) => r.id));
  assert.deepEqual(acked.filter((id) => !present.has(id)), [], 'acknowledged writes missing on the new primary');
  assert.ok(acked.length > 10, `${acked.length} writes acknowledged before the crash`);
  const gapMs = syncAgainAt - promoted.at;
  console.log(`synchronous standby again ${gapMs} ms after the promotion was seen`);
  assert.ok(gapMs < 1000, `sync standby again after ${gapMs} ms`);
  const snap = await c.read();
  assert.equal(snap.sync?.leader, promoted.name);
});
