// Synchronous mode: only a standby PostgreSQL waits for is ever eligible, so
// a failover loses no acknowledged write; the new primary enforces a
// synchronous standby again. How soon it does is a figure, not a property:
// npm run bench:sync measures it.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { leaderActive, sql, streamingStandbys, TestCluster } from '../support/pgcluster.js';

/** Writes acknowledged by the old primary before it is killed: the kill lands mid-stream. */
const ACKED_BEFORE_KILL = 20;
/**
 * Caps every wait: bootstrap and clones take seconds on an idle machine, the
 * lease runs out after ttl 3 s and the sync standby is back within a second
 * of the promotion (npm run bench:sync). The cap only stops a hung test.
 */
const BOUND_MS = 120_000;
/** Per write: a slow acknowledgement on a busy machine is still an acknowledgement. */
const WRITE_TIMEOUT_MS = 10_000;

let c: TestCluster;
before(async () => {
  c = await TestCluster.create({ nodes: 3, ttl: 3, synchronousMode: true });
  c.startArbiter();
});
after(async () => c?.stop());

/** Polls the store like c.waitFor, capped at BOUND_MS unless told otherwise. */
const waitFor: TestCluster['waitFor'] = (what, check, timeoutMs = BOUND_MS) => c.waitFor(what, check, timeoutMs);

async function syncStandby(port: number): Promise<string | undefined> {
  const rows = await sql<{ name: string }>(port, "SELECT application_name AS name FROM pg_stat_replication WHERE sync_state = 'sync'", [], 5_000).catch(() => []);
  return rows[0]?.name;
}

async function inRecovery(port: number): Promise<boolean | undefined> {
  const rows = await sql<{ r: boolean }>(port, 'SELECT pg_is_in_recovery() AS r', [], 5_000).catch(() => []);
  return rows[0]?.r;
}

test('after a kill -9 failover every acknowledged write is on the new primary, which enforces a synchronous standby again', async () => {
  // Prepare: node1 leads, the others stream, one of them is the synchronous standby in PostgreSQL and in the store
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
  const standby = await waitFor('a synchronous standby in PostgreSQL and in the store', async (s) => {
    const inPg = await syncStandby(c.spec(old).pgPort);
    return inPg !== undefined && s.sync?.leader === old && s.sync.standbys.includes(inPg) ? inPg : undefined;
  });
  await sql(c.spec(old).pgPort, 'CREATE TABLE acked (id int PRIMARY KEY)');
  const acked: number[] = [];
  let writing = true;
  const writer = (async () => {
    for (let id = 1; writing; id++) {
      try {
        await sql(c.spec(old).pgPort, 'INSERT INTO acked VALUES ($1)', [id], WRITE_TIMEOUT_MS);
        acked.push(id);
      } catch {
        await sleep(20);
      }
    }
  })();
  await waitFor(`${ACKED_BEFORE_KILL} writes acknowledged`, () => (acked.length >= ACKED_BEFORE_KILL ? true : undefined));

  // Act: kill the primary mid-stream of writes; the write in flight ends acknowledged or not
  c.kill(old);
  writing = false;
  await writer;
  const promoted = await waitFor(
    'a promoted node that the store names leader',
    async (s) => {
      for (const n of replicas) if ((await inRecovery(c.spec(n).pgPort)) === false && leaderActive(s) === n) return n;
      return undefined;
    },
  );

  // Assess: only the synchronous standby was eligible, and it has every write the old primary acknowledged
  assert.equal(promoted, standby, 'only the synchronous standby was eligible');
  const rows = await sql<{ id: number }>(c.spec(promoted).pgPort, 'SELECT id FROM acked');
  const present = new Set(rows.map((r) => r.id));
  assert.ok(acked.length >= ACKED_BEFORE_KILL);
  assert.deepEqual(acked.filter((id) => !present.has(id)), [], 'acknowledged writes missing on the new primary');

  // Assess: the new primary waits for a standby again, and the store names that standby for this leader and term
  const again = await waitFor(
    'a synchronous standby of the new primary, in PostgreSQL and in the store',
    async (s) => {
      const inPg = await syncStandby(c.spec(promoted).pgPort);
      return inPg !== undefined && s.leader?.holder === promoted && s.sync?.leader === promoted && s.sync.term === s.leader.term && s.sync.standbys.includes(inPg) ? inPg : undefined;
    },
  );
  assert.equal(again, replicas.find((n) => n !== promoted), 'the one replica left is the synchronous standby');
  const [setting] = await sql<{ names: string }>(c.spec(promoted).pgPort, "SELECT current_setting('synchronous_standby_names') AS names");
  assert.match(setting?.names ?? '', new RegExp(`"${again}"`), 'PostgreSQL waits for the standby the store names');
});
