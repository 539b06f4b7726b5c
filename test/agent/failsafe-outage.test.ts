// failsafe_mode through a store outage: DynamoDB unreachable for 5 minutes
// (every connection reset, as a stopped engine does), for the agents and the
// arbiter alike. The primary keeps taking writes on its members' promises,
// nobody else takes any, and once the store is back the same primary renews
// in the same term: no failover, no restart.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { overlaps, startChecker } from '../support/checker.js';
import { sql, TestCluster } from '../support/pgcluster.js';

const OUTAGE_MS = 5 * 60_000;

let c: TestCluster | undefined;
after(async () => c?.stop());

test('with failsafe_mode, a 5 minute store outage leaves the primary taking writes and, after it, the same primary in the same term', { timeout: 900_000 }, async () => {
  // Prepare: ttl 10, loop_wait 2, retry_timeout 4; agents and arbiter reach the store through one proxy
  c = await TestCluster.create({ nodes: 3, ttl: 10, loopWait: 2, retryTimeout: 4, stallableStore: true, failsafeMode: true });
  const cl = c;
  const primary = await cl.startStreaming();
  await cl.waitFor('the failsafe set names both replicas', (s) => (s.leader?.failsafe?.length === 2 ? true : undefined), 60_000);
  await sql(cl.spec(primary).pgPort, 'CREATE TABLE checked (id int PRIMARY KEY, node text)');
  const started = (await sql<{ t: string }>(cl.spec(primary).pgPort, 'SELECT pg_postmaster_start_time()::text AS t'))[0]?.t;
  const before = await cl.read();
  const check = startChecker(cl.specs);
  const proxy = cl.storeProxy;
  assert.ok(proxy !== null);

  // Act: the store unreachable for 5 minutes
  proxy.setMode('refuse');
  const outFrom = performance.now();
  await new Promise((r) => setTimeout(r, OUTAGE_MS));
  const outUntil = performance.now();
  proxy.setMode('forward');
  const resumed = await cl.waitFor('a renew after the outage', (s) => ((s.leader?.version ?? 0) > (before.leader?.version ?? 0) ? s : undefined), 60_000);
  await new Promise((r) => setTimeout(r, 5000));
  const acks = await check.stop();

  // Assess: writes on the primary all through the outage, on nobody else, and no failover after it
  const onPrimary = acks.filter((a) => a.node === primary && a.startedAt > outFrom && a.endedAt < outUntil);
  for (const minute of [0, 1, 2, 3, 4]) {
    const from = outFrom + minute * 60_000;
    assert.ok(onPrimary.some((a) => a.startedAt >= from && a.startedAt < from + 60_000), `the primary took writes in minute ${minute + 1} of the outage`);
  }
  assert.deepEqual(acks.filter((a) => a.node !== primary).map((a) => `${a.node}#${a.id}`), [], 'no other node took writes');
  assert.deepEqual(overlaps(acks).map((a) => `${a.node}#${a.id}`), [], 'no two nodes took writes at once');
  assert.equal(resumed.leader?.holder, primary);
  assert.equal(resumed.leader?.term, before.leader?.term);
  assert.deepEqual((await cl.store.listHistory(cl.cluster)).map((h) => h.term), [1], 'no grant');
  const after = (await sql<{ t: string }>(cl.spec(primary).pgPort, 'SELECT pg_postmaster_start_time()::text AS t'))[0]?.t;
  assert.equal(after, started, 'PostgreSQL was never restarted');
  const log = readFileSync(cl.spec(primary).logPath, 'utf8');
  assert.match(log, /failsafe mode active/);
  assert.deepEqual(log.split('\n').filter((l) => /fencing|lease lost|demot/.test(l)), [], 'the primary was never fenced nor demoted');
});
