// npm run bench:sync [-- --trials N]
// Synchronous mode after a kill -9 of the primary, on the cluster of
// test/agent/sync.test.ts (three PostgreSQL nodes under their agents, ttl
// 3 s, loop_wait 0.5 s, the arbiter loop ticking every 100 ms, DynamoDB
// Local). Each trial writes to the primary until 20 writes are acknowledged,
// kills it, and measures, polling every 10 ms:
// - kill to promotion (a replica leaves recovery),
// - promotion to a synchronous standby again in PostgreSQL
//   (pg_stat_replication.sync_state = 'sync' on the new primary),
// - promotion to the store's sync item naming that standby for the new term,
// and counts acknowledged writes missing on the new primary (must be 0).
// The killed node is then restarted and rejoins before the next trial.
// The test asserts only that the standby comes back; this prints how soon.
import { cpus, loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { leaderActive, sql, streamingStandbys, TestCluster } from '../test/support/pgcluster.js';
import { printSpread } from './stats.js';

const { values } = parseArgs({
  options: {
    trials: { type: 'string', default: '5' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(`npm run bench:sync [-- options]
  --trials N   kill -9 failovers of the primary (5)`);
  process.exit(0);
}
const trials = Number(values.trials);
if (!Number.isInteger(trials) || trials < 1) {
  console.error(`--trials ${values.trials}: a whole number of at least 1`);
  process.exit(2);
}

const POLL_MS = 10;
const BOUND_MS = 120_000;
const ACKED_BEFORE_KILL = 20;

class BenchError extends Error {}

/** Polls `check` every POLL_MS until it returns a value; the time is taken when it does. */
async function until<T>(what: string, check: () => Promise<T | undefined>): Promise<{ value: T; at: number }> {
  const deadline = performance.now() + BOUND_MS;
  while (performance.now() < deadline) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return { value, at: performance.now() };
    await sleep(POLL_MS);
  }
  throw new BenchError(`${what}: not within ${BOUND_MS / 1000} s`);
}

async function syncStandby(port: number): Promise<string | undefined> {
  const rows = await sql<{ name: string }>(port, "SELECT application_name AS name FROM pg_stat_replication WHERE sync_state = 'sync'", [], 5_000);
  return rows[0]?.name;
}

interface Row {
  readonly from: string;
  readonly to: string;
  readonly promoteMs: number;
  readonly syncPgMs: number;
  readonly syncStoreMs: number;
  readonly acked: number;
  readonly missing: number;
}

async function healthy(c: TestCluster): Promise<{ leader: string; standby: string }> {
  const r = await until('a leader with both replicas streaming and a synchronous standby in PostgreSQL and the store', async () => {
    const s = await c.read();
    const leader = leaderActive(s);
    if (leader === undefined) return undefined;
    const port = c.spec(leader).pgPort;
    // By name: a clone's pg_basebackup also streams from the primary.
    const streaming = await streamingStandbys(port);
    if (!c.specs.every((x) => x.name === leader || streaming.includes(x.name))) return undefined;
    const standby = await syncStandby(port);
    return standby !== undefined && s.sync?.leader === leader && s.sync.term === s.leader?.term && s.sync.standbys.includes(standby) ? { leader, standby } : undefined;
  });
  return r.value;
}

async function trial(c: TestCluster, n: number): Promise<Row> {
  const { leader: old } = await healthy(c);
  const term = (await c.read()).leader?.term ?? 0;
  const base = n * 1_000_000;
  const acked: number[] = [];
  let writing = true;
  const writer = (async () => {
    for (let id = base; writing; id++) {
      try {
        await sql(c.spec(old).pgPort, 'INSERT INTO acked VALUES ($1)', [id], 10_000);
        acked.push(id);
      } catch {
        await sleep(20);
      }
    }
  })();
  await until(`${ACKED_BEFORE_KILL} writes acknowledged`, async () => (acked.length >= ACKED_BEFORE_KILL ? true : undefined));
  const killedAt = performance.now();
  c.kill(old);
  writing = false;
  await writer;
  const others = c.specs.map((s) => s.name).filter((x) => x !== old);
  const promoted = await until('a promoted node', async () => {
    for (const name of others) {
      const rows = await sql<{ r: boolean }>(c.spec(name).pgPort, 'SELECT pg_is_in_recovery() AS r', [], 5_000).catch(() => []);
      if (rows[0]?.r === false) return name;
    }
    return undefined;
  });
  const to = promoted.value;
  const port = c.spec(to).pgPort;
  const inPg = await until('a synchronous standby of the new primary in PostgreSQL', () => syncStandby(port));
  const inStore = await until('the sync item naming it for the new term', async () => {
    const s = await c.read();
    return s.leader?.holder === to && s.leader.term > term && s.sync?.leader === to && s.sync.term === s.leader.term && s.sync.standbys.includes(inPg.value) ? true : undefined;
  });
  const rows = await sql<{ id: number }>(port, 'SELECT id FROM acked WHERE id >= $1', [base], 10_000);
  const present = new Set(rows.map((r) => r.id));
  // The killed node comes back, as systemd would restart it, and must rejoin before the next trial.
  c.start(old);
  return {
    from: old,
    to,
    promoteMs: promoted.at - killedAt,
    syncPgMs: inPg.at - promoted.at,
    syncStoreMs: inStore.at - promoted.at,
    acked: acked.length,
    missing: acked.filter((id) => !present.has(id)).length,
  };
}

console.log(`machine: ${cpus().length} CPUs, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}; ${trials} trial(s); ttl 3 s, loop_wait 0.5 s, arbiter tick 100 ms, polling every ${POLL_MS} ms`);
const c = await TestCluster.create({ nodes: 3, ttl: 3, synchronousMode: true });
const onSignal = (): void => {
  void c.stop().finally(() => process.exit(130));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
const rows: Row[] = [];
let failed = false;
try {
  c.startArbiter();
  c.start('node1');
  const first = await until('node1 leads', async () => leaderActive(await c.read()));
  c.start('node2');
  c.start('node3');
  await sql(c.spec(first.value).pgPort, 'CREATE TABLE acked (id int PRIMARY KEY)');
  for (let i = 1; i <= trials; i++) {
    const r = await trial(c, i);
    rows.push(r);
    console.log(
      `trial ${i}: ${r.from} -> ${r.to}: promoted ${r.promoteMs.toFixed(0)} ms after the kill; sync standby again ${r.syncPgMs.toFixed(0)} ms (PostgreSQL), ` +
        `${r.syncStoreMs.toFixed(0)} ms (store) after the promotion; ${r.acked} acknowledged, ${r.missing} missing`,
    );
  }
} catch (err) {
  failed = true;
  console.error(err instanceof BenchError ? err.message : err);
  console.error(c.logs());
} finally {
  await c.stop();
}
if (rows.length > 0) {
  printSpread('after a kill -9 of the primary', rows, [
    ['kill to promotion', (r) => r.promoteMs],
    ['promotion to a sync standby in PostgreSQL', (r) => r.syncPgMs],
    ['promotion to the sync item naming it', (r) => r.syncStoreMs],
  ]);
  console.log(`acknowledged writes missing on the new primary: ${rows.reduce((n, r) => n + r.missing, 0)} of ${rows.reduce((n, r) => n + r.acked, 0)}`);
}
// Synchronous mode promises no acknowledged write is lost: a loss fails the run.
process.exitCode = failed || rows.some((r) => r.missing > 0) ? 1 : 0;
