// The whole store stalls (it accepts connections and never answers, as a
// frozen engine or a black-holed network does) for 6 s and for 30 s, longer
// than the lease: every agent and the arbiter keep running and retrying, the
// primary is fenced only by the lease rule, a checker writing to every node
// directly never sees two nodes take writes at once, and once the store
// answers again one primary takes writes.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { overlaps, startChecker } from '../support/checker.js';
import { leaderActive, sql, streamingStandbys, TestCluster } from '../support/pgcluster.js';

for (const stallS of [6, 30]) {
  describe(`a store stall of ${stallS} s`, () => {
    let c: TestCluster | undefined;
    after(async () => c?.stop());

    test('no process crashes, no two nodes take writes at once, and a primary takes writes once the store is back', { timeout: 600_000 }, async () => {
      // Prepare: a healthy cluster whose agents and arbiter reach the store through one proxy
      c = await TestCluster.create({ nodes: 3, ttl: 3, stallableStore: true });
      const cl = c;
      cl.startArbiter();
      cl.start('node1');
      const old = await cl.waitFor('node1 leads', leaderActive, 120_000);
      cl.start('node2');
      cl.start('node3');
      await cl.waitFor('two replicas streaming', async () => ((await streamingStandbys(cl.spec(old).pgPort)).filter((n) => n.startsWith('node')).length === 2 ? true : undefined), 120_000);
      await sql(cl.spec(old).pgPort, 'CREATE TABLE checked (id int PRIMARY KEY, node text)');
      const check = startChecker(cl.specs);
      const proxy = cl.storeProxy;
      assert.ok(proxy !== null);
      let arbiterEnded = false;
      void cl.arbiterRunning?.then(() => (arbiterEnded = true));

      // Act
      proxy.setMode('stall');
      await new Promise((r) => setTimeout(r, stallS * 1000));
      proxy.setMode('forward');

      // Assess: a primary takes writes again through the cluster's own choice
      let id = -1;
      await cl.waitFor('a write on the active leader after the stall', async (s) => {
        if (s.leader?.phase !== 'active') return undefined;
        const ok = await sql(cl.spec(s.leader.holder).pgPort, 'INSERT INTO checked VALUES ($1, $2)', [id--, 'after'], 2000).then(() => true, () => false);
        return ok ? s.leader.holder : undefined;
      }, 120_000);
      const acks = await check.stop();
      assert.deepEqual(overlaps(acks).map((a) => `${a.node}#${a.id}`), [], 'no two nodes took writes at once');
      for (const [name, a] of cl.agents) assert.equal(a.child.exitCode, null, `${name}'s agent is still running`);
      assert.equal(arbiterEnded, false, 'the arbiter loop is still running');
    });
  });
}
