// The primary cut off from the store: it must stop taking writes before any
// other node is granted, and a checker polling every node never sees two
// nodes accept writes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { leaderActive, sql, streamingStandbys, TestCluster } from '../support/pgcluster.js';

let c: TestCluster;
before(async () => {
  c = await TestCluster.create({ nodes: 3, ttl: 3, cuttableStore: true });
  c.startArbiter();
});
after(async () => c?.stop());

interface Probe {
  readonly round: number;
  readonly node: string;
  readonly ok: boolean;
  readonly endedAt: number;
}

test('a primary cut off from the store fences itself before another node is granted; never two writable nodes', async () => {
  // Prepare: node1 bootstraps alone, then the others clone from it
  c.start('node1');
  const old = await c.waitFor('node1 leads', leaderActive);
  c.start('node2');
  c.start('node3');
  await c.waitFor('two replicas streaming', async () => ((await streamingStandbys(c.spec(old).pgPort)).length === 2 ? true : undefined));
  await sql(c.spec(old).pgPort, 'CREATE TABLE fence (node text, at bigint)');
  const probes: Probe[] = [];
  let probing = true;
  const checker = (async () => {
    for (let round = 0; probing && round < 2000; round++) {
      await Promise.all(
        c.specs.map(async (s) => {
          const ok = await sql(s.pgPort, 'INSERT INTO fence VALUES ($1, $2)', [s.name, Date.now()], 400).then(
            () => true,
            () => false,
          );
          probes.push({ round, node: s.name, ok, endedAt: Date.now() });
        }),
      );
      await new Promise((r) => setTimeout(r, 30));
    }
  })();
  await new Promise((r) => setTimeout(r, 500));
  // Act: cut the leader's store traffic
  await c.storeProxies.get(old)?.clearTarget();
  const cutAt = Date.now();
  const next = await c.waitFor('another node leads', (s) => (s.leader?.phase === 'active' && s.leader.holder !== old ? s.leader.holder : undefined), 30_000);
  await new Promise((r) => setTimeout(r, 1000));
  probing = false;
  await checker;
  // Assess
  const rounds = new Map<number, string[]>();
  for (const p of probes) if (p.ok) rounds.set(p.round, [...(rounds.get(p.round) ?? []), p.node]);
  const doubled = [...rounds.entries()].filter(([, nodes]) => nodes.length > 1);
  assert.deepEqual(doubled, [], 'no round in which two nodes accepted a write');
  const history = await c.store.listHistory(c.cluster);
  const grant = history.find((h) => h.to === next && h.from === old);
  assert.ok(grant, `history of the grant to ${next}`);
  const lastOldWrite = Math.max(...probes.filter((p) => p.ok && p.node === old).map((p) => p.endedAt));
  assert.ok(lastOldWrite < grant.grantedAt, `old primary's last write ended ${lastOldWrite - grant.grantedAt} ms after the grant`);
  assert.ok(lastOldWrite > cutAt, 'the old primary kept serving writes for a while after the cut (the lease was still good)');
  assert.ok(probes.some((p) => p.ok && p.node === next && p.endedAt > grant.grantedAt), 'the new primary took writes');
  assert.match(readFileSync(c.spec(old).logPath, 'utf8'), /fencing: no successful renew/);
});
