// The primary cut off from the store: it must stop taking writes before any
// other node is granted, and a checker writing to every node never sees two
// nodes accept writes at once. Order is judged on server-side evidence: each
// acknowledged probe returns the time PostgreSQL executed it
// (clock_timestamp()), and the arbiter stamps the grant; every node, the
// arbiter and the clock they read are on this one machine.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { leaderActive, sql, streamingStandbys, TestCluster } from '../support/pgcluster.js';

/** Caps every wait (bootstrap, clones, a 3 s lease: seconds on an idle machine): it only stops a hung test. */
const BOUND_MS = 120_000;
/** Per probe: on a busy machine a slow acknowledgement still counts, a refused one is simply not an acknowledgement. */
const PROBE_TIMEOUT_MS = 5_000;
const PROBE_EVERY_MS = 30;

let c: TestCluster;
before(async () => {
  c = await TestCluster.create({ nodes: 3, ttl: 3, cuttableStore: true });
  c.startArbiter();
});
after(async () => c?.stop());

/** Polls the store like c.waitFor, capped at BOUND_MS unless told otherwise. */
const waitFor: TestCluster['waitFor'] = (what, check, timeoutMs = BOUND_MS) => c.waitFor(what, check, timeoutMs);

/** A write a node acknowledged, with the time (µs since the epoch) its server executed it. */
interface Ack {
  readonly node: string;
  readonly executedAtUs: bigint;
}

test('a primary cut off from the store fences itself before another node is granted; never two writable nodes', async () => {
  // Prepare: node1 bootstraps alone, then the others clone from it; the probe table is on every node
  c.start('node1');
  const old = await waitFor('node1 leads', leaderActive);
  c.start('node2');
  c.start('node3');
  const replicas = c.specs.map((s) => s.name).filter((n) => n !== old);
  // By name: a clone's pg_basebackup also streams from the primary.
  await waitFor('both replicas streaming', async () => {
    const streaming = await streamingStandbys(c.spec(old).pgPort);
    return replicas.every((r) => streaming.includes(r)) ? true : undefined;
  });
  await sql(c.spec(old).pgPort, 'CREATE TABLE fence (node text, executed_at_us bigint)');
  for (const s of c.specs) {
    await waitFor(`the probe table on ${s.name}`, async () => ((await sql<{ t: string | null }>(s.pgPort, "SELECT to_regclass('fence')::text AS t").catch(() => []))[0]?.t ? true : undefined));
  }
  const acks: Ack[] = [];
  let probing = true;
  const probe = async (name: string, port: number): Promise<void> => {
    while (probing) {
      const rows = await sql<{ us: string }>(
        port,
        'INSERT INTO fence VALUES ($1, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint) RETURNING executed_at_us::text AS us',
        [name],
        PROBE_TIMEOUT_MS,
      ).catch(() => []);
      if (rows[0] !== undefined) acks.push({ node: name, executedAtUs: BigInt(rows[0].us) });
      await sleep(PROBE_EVERY_MS);
    }
  };
  const checker = Promise.all(c.specs.map((s) => probe(s.name, s.pgPort)));
  await waitFor('a probe acknowledged by the primary', () => (acks.some((a) => a.node === old) ? true : undefined));

  // Act: cut the leader's store traffic
  await c.storeProxies.get(old)?.clearTarget();
  const next = await waitFor('another node leads', (s) => (s.leader?.phase === 'active' && s.leader.holder !== old ? s.leader.holder : undefined));
  await waitFor(`a probe acknowledged by ${next}`, () => (acks.some((a) => a.node === next) ? true : undefined));
  probing = false;
  await checker;

  // Assess: the acknowledged writes, in the order the servers executed them, come from the old primary, then from the new one only
  const history = await c.store.listHistory(c.cluster);
  const grant = history.find((h) => h.to === next && h.from === old);
  assert.ok(grant, `history of the grant to ${next}`);
  const grantedAtUs = BigInt(grant.grantedAt) * 1000n;
  const ordered = [...acks].sort((x, y) => (x.executedAtUs < y.executedAtUs ? -1 : x.executedAtUs > y.executedAtUs ? 1 : 0));
  const writers = ordered.map((a) => a.node).filter((n, i, all) => i === 0 || all[i - 1] !== n);
  assert.deepEqual(writers, [old, next], 'the old primary, then the new one, never both in turn');
  const lastOld = ordered.filter((a) => a.node === old).at(-1) as Ack;
  const firstNew = ordered.find((a) => a.node === next) as Ack;
  assert.ok(lastOld.executedAtUs < grantedAtUs, `the old primary executed a write ${(lastOld.executedAtUs - grantedAtUs).toString()} µs after the grant`);
  assert.ok(grantedAtUs < firstNew.executedAtUs, 'the new primary took writes only after its grant');
  // It was fenced when its lease ran out, by its own timer or by the fence keeper (same deadline), not by a lost condition.
  const log = readFileSync(c.spec(old).logPath, 'utf8');
  assert.match(log, /fencing: no successful renew|FENCE lease deadline passed: immediate shutdown/);
  assert.doesNotMatch(log, /lease lost/);
});
