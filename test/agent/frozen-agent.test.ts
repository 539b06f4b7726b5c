// A frozen agent (SIGSTOP: a GC pause, a swap storm, a VM stall of the agent
// alone) while its PostgreSQL keeps running: the fence keeper, outside the
// agent, stops the primary when its lease runs out, so a checker writing to
// every node directly never sees the old primary accept a write after the
// new one has; in synchronous mode no acknowledged write is lost.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { startChecker } from '../support/checker.js';
import { leaderActive, sql, streamingStandbys, TestCluster } from '../support/pgcluster.js';

for (const synchronousMode of [false, true]) {
  describe(`a frozen primary agent (${synchronousMode ? 'synchronous' : 'asynchronous'} mode)`, () => {
    let c: TestCluster | undefined;
    after(async () => c?.stop());

    test('the fence keeper stops its primary before another node takes a write; no acknowledged write overlaps', { timeout: 600_000 }, async () => {
      // Prepare: node1 leads, the others stream from it; a checker writes to every node directly
      c = await TestCluster.create({ nodes: 3, ttl: 3, synchronousMode });
      c.startArbiter();
      const cl = c;
      cl.start('node1');
      const old = await cl.waitFor('node1 leads', leaderActive);
      cl.start('node2');
      cl.start('node3');
      // By name: a clone's pg_basebackup also streams from the primary.
      const replicas = cl.specs.map((s) => s.name).filter((n) => n !== old);
      await cl.waitFor('both replicas streaming', async () => {
        const streaming = await streamingStandbys(cl.spec(old).pgPort);
        return replicas.every((r) => streaming.includes(r)) ? true : undefined;
      });
      if (synchronousMode) await cl.waitFor('a synchronous standby in the store', (s) => (s.sync?.leader === old && s.sync.standbys.length > 0 ? true : undefined));
      await sql(cl.spec(old).pgPort, 'CREATE TABLE checked (id int PRIMARY KEY, node text)');
      const check = startChecker(cl.specs);
      await cl.waitFor('the checker has written through the old primary', async () => ((await sql(cl.spec(old).pgPort, 'SELECT 1 FROM checked LIMIT 1')).length > 0 ? true : undefined));

      // Act: freeze the primary's agent alone; PostgreSQL keeps running
      const agent = cl.agents.get(old);
      assert.ok(agent !== undefined);
      agent.child.kill('SIGSTOP');
      let next: string;
      try {
        next = await cl.waitFor('another node leads', (s) => (s.leader?.phase === 'active' && s.leader.holder !== old ? s.leader.holder : undefined), 90_000);
        await cl.waitFor(`the checker has written through ${next}`, async () => ((await sql(cl.spec(next).pgPort, "SELECT 1 FROM checked WHERE node = $1 LIMIT 1", [next])).length > 0 ? true : undefined), 60_000);
      } finally {
        agent.child.kill('SIGCONT');
      }
      await cl.waitFor(`${old} back as a replica of ${next}`, async () => ((await streamingStandbys(cl.spec(next).pgPort)).includes(old) ? true : undefined), 90_000);
      const acks = await check.stop();

      // Assess: every write the old primary acknowledged began before the first the new one acknowledged ended
      const oldAcks = acks.filter((a) => a.node === old);
      const newAcks = acks.filter((a) => a.node === next);
      assert.ok(oldAcks.length > 0 && newAcks.length > 0, `writes acknowledged: ${old} ${oldAcks.length}, ${next} ${newAcks.length}`);
      const newFirstEnded = Math.min(...newAcks.map((a) => a.endedAt));
      const lateOld = oldAcks.filter((a) => a.startedAt > newFirstEnded);
      assert.deepEqual(lateOld.map((a) => a.id), [], `${old} acknowledged writes after ${next} had taken one`);
      const third = acks.filter((a) => a.node !== old && a.node !== next);
      assert.deepEqual(third.map((a) => a.node), [], 'no third node ever took a write');
      if (synchronousMode) {
        const rows = await sql<{ id: number }>(cl.spec(next).pgPort, 'SELECT id FROM checked');
        const present = new Set(rows.map((r) => r.id));
        assert.deepEqual(acks.filter((a) => !present.has(a.id)).map((a) => `${a.node}#${a.id}`), [], 'acknowledged writes missing on the new primary');
      }
      assert.match(readFileSync(cl.spec(old).logPath, 'utf8'), /FENCE lease deadline passed: immediate shutdown/, 'the fence keeper, not the frozen agent, stopped the old primary');
    });
  });
}
