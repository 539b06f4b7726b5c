// Real PostgreSQL 15 nodes under their agents, DynamoDB Local, the arbiter
// loop in this process: bootstrap, kill -9 failover, rejoin by pg_rewind,
// switchover. One cluster, its story told in order.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { leaderActive, sql, streamingStandbys, TestCluster } from '../support/pgcluster.js';

let c: TestCluster;

before(async () => {
  c = await TestCluster.create({ nodes: 3, ttl: 3 });
  c.startArbiter();
});
after(async () => c?.stop());

const portOf = (name: string): number => c.spec(name).pgPort;
/** Per write: a slow acknowledgement on a busy machine is still an acknowledgement. */
const WRITE_TIMEOUT_MS = 5_000;
/**
 * Caps every wait: bootstrap, clones, a 3 s lease running out, a rewind take
 * seconds on an idle machine; the cap only stops a hung test.
 */
const BOUND_MS = 120_000;

/** Polls the store like c.waitFor, capped at BOUND_MS unless told otherwise. */
const waitFor: TestCluster['waitFor'] = (what, check, timeoutMs = BOUND_MS) => c.waitFor(what, check, timeoutMs);

async function endpointSays(port: number): Promise<string> {
  // Through the local endpoint proxy: which server answers? (inet_server_port identifies the node)
  const rows = await sql<{ port: number }>(port, 'SELECT inet_server_port() AS port');
  const p = rows[0]?.port;
  return c.specs.find((s) => s.pgPort === p)?.name ?? `port ${p}`;
}

async function waitStreaming(leader: string, replicas: string[], timeoutMs = BOUND_MS): Promise<void> {
  await waitFor(`${replicas.join(', ')} streaming from ${leader}`, async () => {
    const got = await streamingStandbys(portOf(leader));
    return replicas.every((r) => got.includes(r)) ? true : undefined;
  }, timeoutMs);
}

describe('agents on real PostgreSQL', { concurrency: false }, () => {
  test('three agents started at once on an empty store: exactly one initdb, two clones, all three streaming', async () => {
    // Act
    for (const s of c.specs) c.start(s.name);
    const leader = await waitFor('a confirmed leader', leaderActive);
    const replicas = c.specs.map((s) => s.name).filter((n) => n !== leader);
    await waitStreaming(leader, replicas);
    // Assess
    const snap = await c.read();
    assert.equal(snap.initialize?.initializedBy, leader);
    assert.match(snap.initialize?.systemId ?? '', /^\d+$/);
    const sysids = await Promise.all(c.specs.map((s) => sql<{ id: string }>(s.pgPort, 'SELECT system_identifier::text AS id FROM pg_control_system()')));
    assert.deepEqual(new Set(sysids.map((r) => r[0]?.id)), new Set([snap.initialize?.systemId]));
    const logs = c.logs();
    assert.equal((logs.match(/won the initialize race: initdb/g) ?? []).length, 1, logs);
    assert.equal((logs.match(/: clone: /g) ?? []).length, 2, logs);
    const recovery = await Promise.all(replicas.map((r) => sql<{ r: boolean }>(portOf(r), 'SELECT pg_is_in_recovery() AS r')));
    assert.deepEqual(recovery.map((x) => x[0]?.r), [true, true]);
  });

  test('the endpoint follows the leader once it confirmed its promotion', async () => {
    // Prepare
    const leader = await waitFor('a confirmed leader', leaderActive);
    // Act
    await waitFor('endpoint record', (s) => (s.endpoint?.member === leader ? true : undefined));
    // Assess
    assert.equal(await endpointSays(c.proxyPort), leader);
  });

  test('kill -9 of the primary: a replica is granted and promotes, the other follows it, the endpoint moves', async () => {
    // Prepare
    const old = await waitFor('a confirmed leader', leaderActive);
    await sql(portOf(old), 'CREATE TABLE IF NOT EXISTS acked (id int PRIMARY KEY)');
    for (let i = 1; i <= 50; i++) await sql(portOf(old), 'INSERT INTO acked VALUES ($1)', [i]);
    const before = await c.read();
    // Act
    c.kill(old);
    const next = await waitFor('a new confirmed leader', (s) => (s.leader?.phase === 'active' && s.leader.holder !== old ? s.leader.holder : undefined));
    const other = c.specs.map((s) => s.name).find((n) => n !== old && n !== next) as string;
    await waitStreaming(next, [other]);
    await waitFor('endpoint moved', (s) => (s.endpoint?.member === next ? true : undefined));
    // Assess
    const snap = await c.read();
    assert.equal(snap.leader?.term, (before.leader?.term ?? 0) + 1);
    assert.match(snap.leader?.reason ?? '', /expired|unchanged|lease/);
    const rows = await sql<{ n: string }>(portOf(next), 'SELECT count(*)::text AS n FROM acked');
    assert.equal(rows[0]?.n, '50');
    await sql(portOf(next), 'INSERT INTO acked VALUES (51)');
    assert.equal(await endpointSays(c.proxyPort), next);
  });

  test('the old primary, restarted, rejoins as a replica through pg_rewind', async () => {
    // Prepare: the killed node is the one not streaming and not leading
    const leader = await waitFor('a confirmed leader', leaderActive);
    const streaming = await streamingStandbys(portOf(leader));
    const old = c.specs.map((s) => s.name).find((n) => n !== leader && !streaming.includes(n)) as string;
    // Act
    c.start(old);
    await waitStreaming(leader, [old]);
    // Assess
    const [row] = await sql<{ r: boolean }>(portOf(old), 'SELECT pg_is_in_recovery() AS r');
    assert.equal(row?.r, true);
    await sql(portOf(leader), 'INSERT INTO acked VALUES (52)');
    await waitFor('write replayed on the rejoined node', async () => {
      const rows = await sql<{ n: string }>(portOf(old), 'SELECT count(*)::text AS n FROM acked').catch(() => []);
      return rows[0]?.n === '52' ? true : undefined;
    });
    assert.match(c.logs(), new RegExp(`${old}: follow: .*|${old}: pg_rewind`));
  });

  test('switchover to a named replica hands over with no lost acknowledged write, the endpoint going from one to the other once', async () => {
    // Prepare: a writer through the endpoint, recording which server acknowledged each id (ids grow with time)
    const old = await waitFor('a confirmed leader', leaderActive);
    const candidate = (await streamingStandbys(portOf(old)))[0] as string;
    await waitFor('the candidate reports itself a running replica', (s) => {
      const m = s.members.find((x) => x.name === candidate);
      return m?.state === 'running' && m.role === 'replica' && m.timeline === s.leader?.timeline ? true : undefined;
    });
    await sql(portOf(old), 'CREATE TABLE IF NOT EXISTS acked (id int PRIMARY KEY)');
    const acked: { id: number; by: string }[] = [];
    let writing = true;
    const writer = (async () => {
      for (let id = 1000; writing; id++) {
        try {
          const [row] = await sql<{ port: number }>(c.proxyPort, 'INSERT INTO acked VALUES ($1) RETURNING inet_server_port() AS port', [id], WRITE_TIMEOUT_MS);
          acked.push({ id, by: c.specs.find((s) => s.pgPort === row?.port)?.name ?? `port ${row?.port}` });
        } catch {
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    })();
    await waitFor('writes acknowledged by the old primary', () => (acked.filter((a) => a.by === old).length >= 5 ? true : undefined));
    const snap = await c.read();

    // Act
    const set = await c.store.setFailover(c.cluster, { kind: 'switchover', from: old, to: candidate, requestedAt: Date.now(), requestedBy: 'test' }, snap.failover?.version ?? null);
    assert.equal(set.ok, true);
    await waitFor('the candidate leads', (s) => (s.leader?.phase === 'active' && s.leader.holder === candidate ? true : undefined));
    await waitFor('endpoint moved', (s) => (s.endpoint?.member === candidate ? true : undefined));
    await waitFor('a write acknowledged by the candidate through the endpoint', () => (acked.some((a) => a.by === candidate) ? true : undefined));
    writing = false;
    await writer;

    // Assess: nothing acknowledged is lost, and the acknowledgements come from the old primary, then from the candidate only
    const rows = await sql<{ id: number }>(portOf(candidate), 'SELECT id FROM acked WHERE id >= 1000');
    const present = new Set(rows.map((r) => r.id));
    assert.deepEqual(acked.filter((a) => !present.has(a.id)), []);
    const writers = acked.map((a) => a.by).filter((n, i, all) => i === 0 || all[i - 1] !== n);
    assert.deepEqual(writers, [old, candidate]);
    const history = await c.store.listHistory(c.cluster);
    assert.equal(history.at(-1)?.kind, 'switchover');
    await waitFor('the old leader follows', async () => ((await streamingStandbys(portOf(candidate))).includes(old) ? true : undefined));
  });
});
