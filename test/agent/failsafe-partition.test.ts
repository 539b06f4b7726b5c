// failsafe_mode under a partial partition: the primary alone cut off from the
// store while the replicas and the arbiter still reach it. The replicas
// promise not to promote, the arbiter sees their promises and grants nobody,
// and the primary is the only node that takes writes; once it reaches the
// store again it renews in the same term.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { overlaps, startChecker } from '../support/checker.js';
import { sql, TestCluster } from '../support/pgcluster.js';

let c: TestCluster | undefined;
after(async () => c?.stop());

test('with failsafe_mode, the primary alone cut off from the store stays the only writable node, with no grant', { timeout: 600_000 }, async () => {
  // Prepare: each agent reaches the store through its own proxy; the arbiter directly
  c = await TestCluster.create({ nodes: 3, ttl: 10, loopWait: 2, retryTimeout: 4, cuttableStore: true, failsafeMode: true });
  const cl = c;
  const primary = await cl.startStreaming();
  await cl.waitFor('the failsafe set names both replicas', (s) => (s.leader?.failsafe?.length === 2 ? true : undefined), 60_000);
  await sql(cl.spec(primary).pgPort, 'CREATE TABLE checked (id int PRIMARY KEY, node text)');
  const before = await cl.read();
  const check = startChecker(cl.specs);

  // Act: the primary's store traffic cut for four ttl
  cl.storeProxies.get(primary)?.clearTarget();
  const cutFrom = performance.now();
  const promised = await cl.waitFor('both replicas report their promise', (s) => (s.members.filter((m) => m.failsafe?.holder === primary).length === 2 ? true : undefined), 60_000);
  await new Promise((r) => setTimeout(r, 40_000));
  const cutUntil = performance.now();
  const during = await cl.read();
  const dynamo = new URL(cl.table.endpoint);
  cl.storeProxies.get(primary)?.setTarget(dynamo.hostname, Number(dynamo.port));
  const resumed = await cl.waitFor('a renew after the cut', (s) => ((s.leader?.version ?? 0) > (during.leader?.version ?? 0) ? s : undefined), 60_000);
  const acks = await check.stop();

  // Assess
  assert.equal(promised, true);
  assert.deepEqual(overlaps(acks).map((a) => `${a.node}#${a.id}`), [], 'no two nodes took writes at once');
  assert.deepEqual(acks.filter((a) => a.node !== primary).map((a) => `${a.node}#${a.id}`), [], 'only the primary took writes');
  assert.ok(acks.some((a) => a.node === primary && a.startedAt > cutFrom + 30_000 && a.endedAt < cutUntil), 'the primary took writes late in the cut');
  assert.equal(during.leader?.holder, primary);
  assert.equal(during.leader?.term, before.leader?.term, 'no grant while the primary held on');
  assert.equal(resumed.leader?.holder, primary);
  assert.equal(resumed.leader?.term, before.leader?.term);
  assert.deepEqual((await cl.store.listHistory(cl.cluster)).map((h) => h.term), [1], 'no grant');
});
