// A slow store is not a dead one: with every answer of the store 2 s late
// for three ttl (agents and arbiter alike), the primary keeps renewing its
// lease in its term, nobody is granted, nothing is fenced, and writes go on.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { overlaps, startChecker } from '../support/checker.js';
import { leaderActive, sql, streamingStandbys, TestCluster } from '../support/pgcluster.js';

let c: TestCluster | undefined;
after(async () => c?.stop());

test('a store answering 2 s late keeps the healthy primary in its term: no fence, no grant, writes go on', { timeout: 600_000 }, async () => {
  // Prepare: ttl 10, loop_wait 2, retry_timeout 4 (the defaults); agents and arbiter reach the store through one proxy,
  // the arbiter with its function's default step timeout (3 s), so that it keeps judging through the slow store
  c = await TestCluster.create({ nodes: 3, ttl: 10, loopWait: 2, retryTimeout: 4, stallableStore: true });
  const cl = c;
  cl.startArbiter({ stepTimeoutMs: 3000 });
  cl.start('node1');
  const primary = await cl.waitFor('node1 leads', leaderActive, 120_000);
  cl.start('node2');
  cl.start('node3');
  await cl.waitFor('two replicas streaming', async () => ((await streamingStandbys(cl.spec(primary).pgPort)).filter((n) => n.startsWith('node')).length === 2 ? true : undefined), 120_000);
  await sql(cl.spec(primary).pgPort, 'CREATE TABLE checked (id int PRIMARY KEY, node text)');
  const before = await cl.read();
  const check = startChecker(cl.specs);
  const proxy = cl.storeProxy;
  assert.ok(proxy !== null);

  // Act: every answer 2 s late, for three ttl
  proxy.setDelay(2000);
  const slowFrom = performance.now();
  await new Promise((r) => setTimeout(r, 30_000));
  const slowUntil = performance.now();
  const during = await cl.read();
  proxy.setDelay(0);

  // Assess: the same holder, in the same term, renewed through the slow store
  const acks = await check.stop();
  assert.equal(during.leader?.holder, primary);
  assert.equal(during.leader?.term, before.leader?.term);
  assert.equal(during.leader?.phase, 'active');
  assert.ok((during.leader?.version ?? 0) > (before.leader?.version ?? 0) + 2, `renewed while slow (version ${before.leader?.version} -> ${during.leader?.version})`);
  assert.deepEqual((await cl.store.listHistory(cl.cluster)).map((h) => h.term), [1], 'no grant');
  assert.ok(acks.some((a) => a.node === primary && a.startedAt > slowFrom + 20_000 && a.endedAt < slowUntil), 'the primary took writes late in the slow period');
  assert.deepEqual(overlaps(acks).map((a) => `${a.node}#${a.id}`), [], 'no two nodes took writes at once');
  const log = readFileSync(cl.spec(primary).logPath, 'utf8');
  const bad = log.split('\n').filter((l) => /fencing|lease lost|demot/.test(l));
  assert.deepEqual(bad, [], 'the primary was never fenced nor demoted');
});
