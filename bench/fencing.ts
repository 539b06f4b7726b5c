// npm run bench:fencing [-- --trials N]
// A primary cut off from the store, on the cluster of
// test/agent/fencing.test.ts (three PostgreSQL nodes under their agents,
// each agent's store traffic through its own loopback proxy, ttl 3 s,
// loop_wait 0.5 s, the arbiter loop ticking every 100 ms). A checker writes
// to every node every 30 ms; each acknowledged write returns the time its
// server executed it (clock_timestamp(), the machine's one clock). Each
// trial cuts the leader's store traffic and prints:
// - cut to the old primary's last acknowledged write (how long it kept
//   serving on its lease),
// - that write to the arbiter's grant (the margin fencing actually left:
//   negative would be two writable primaries),
// - the grant to the new primary's first acknowledged write.
// The test asserts only the order of these events; this prints the gaps.
// The old primary's store traffic is restored after each trial, so it rejoins.
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
  console.log(`npm run bench:fencing [-- options]
  --trials N   store cuts of the primary (5)`);
  process.exit(0);
}
const trials = Number(values.trials);
if (!Number.isInteger(trials) || trials < 1) {
  console.error(`--trials ${values.trials}: a whole number of at least 1`);
  process.exit(2);
}

const BOUND_MS = 120_000;
const PROBE_EVERY_MS = 30;
const PROBE_TIMEOUT_MS = 5_000;

class BenchError extends Error {}

async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = performance.now() + BOUND_MS;
  while (performance.now() < deadline) {
    const value = await Promise.resolve(check()).catch(() => undefined);
    if (value !== undefined) return value;
    await sleep(50);
  }
  throw new BenchError(`${what}: not within ${BOUND_MS / 1000} s`);
}

interface Ack {
  readonly node: string;
  /** ms since the epoch, with µs precision, as the server executed the write. */
  readonly at: number;
}

interface Row {
  readonly from: string;
  readonly to: string;
  readonly servedAfterCutMs: number;
  readonly marginMs: number;
  readonly firstWriteMs: number;
  readonly interleaved: boolean;
}

async function trial(c: TestCluster): Promise<Row> {
  const old = await until('a leader with both replicas streaming', async () => {
    const l = leaderActive(await c.read());
    if (l === undefined) return undefined;
    // By name: a clone's pg_basebackup also streams from the primary.
    const streaming = await streamingStandbys(c.spec(l).pgPort);
    return c.specs.every((s) => s.name === l || streaming.includes(s.name)) ? l : undefined;
  });
  const term = (await c.read()).leader?.term ?? 0;
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
      if (rows[0] !== undefined) acks.push({ node: name, at: Number(rows[0].us) / 1000 });
      await sleep(PROBE_EVERY_MS);
    }
  };
  const checker = Promise.all(c.specs.map((s) => probe(s.name, s.pgPort)));
  let next: string;
  let cutAt: number;
  try {
    await until('a write acknowledged by the primary', () => (acks.some((a) => a.node === old) ? true : undefined));
    const proxy = c.storeProxies.get(old);
    if (proxy === undefined) throw new BenchError(`no store proxy for ${old}`);
    await proxy.clearTarget();
    cutAt = Date.now();
    next = await until('another node leads', async () => {
      const s = await c.read();
      return s.leader?.phase === 'active' && s.leader.holder !== old && s.leader.term > term ? s.leader.holder : undefined;
    });
    const to = next;
    await until(`a write acknowledged by ${to}`, () => (acks.some((a) => a.node === to) ? true : undefined));
  } finally {
    probing = false;
    await checker;
  }
  // Its store back, the old primary rejoins as a replica before the next trial.
  const dynamo = new URL(c.table.endpoint);
  c.storeProxies.get(old)?.setTarget(dynamo.hostname, Number(dynamo.port));
  const grant = (await c.store.listHistory(c.cluster)).find((h) => h.to === next && h.from === old && h.term > term);
  if (grant === undefined) throw new BenchError(`no history of the grant to ${next}`);
  const ordered = [...acks].sort((x, y) => x.at - y.at);
  const writers = ordered.map((a) => a.node).filter((n, i, all) => i === 0 || all[i - 1] !== n);
  const lastOld = Math.max(...acks.filter((a) => a.node === old).map((a) => a.at));
  const firstNew = Math.min(...acks.filter((a) => a.node === next).map((a) => a.at));
  return {
    from: old,
    to: next,
    servedAfterCutMs: lastOld - cutAt,
    marginMs: grant.grantedAt - lastOld,
    firstWriteMs: firstNew - grant.grantedAt,
    interleaved: writers.length !== 2 || writers[0] !== old || writers[1] !== next,
  };
}

console.log(`machine: ${cpus().length} CPUs, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}; ${trials} trial(s); ttl 3 s, loop_wait 0.5 s, arbiter tick 100 ms, a probe per node every ${PROBE_EVERY_MS} ms`);
const c = await TestCluster.create({ nodes: 3, ttl: 3, cuttableStore: true });
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
  await sql(c.spec(first).pgPort, 'CREATE TABLE fence (node text, executed_at_us bigint)');
  for (let i = 1; i <= trials; i++) {
    const r = await trial(c);
    rows.push(r);
    console.log(
      `trial ${i}: ${r.from} -> ${r.to}: old primary served ${r.servedAfterCutMs.toFixed(0)} ms after the cut; its last write ${r.marginMs.toFixed(0)} ms before the grant; ` +
        `the new primary's first ${r.firstWriteMs.toFixed(0)} ms after it${r.interleaved ? '; WRITES INTERLEAVED' : ''}`,
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
  printSpread('store cut of the primary', rows, [
    ["cut to the old primary's last acknowledged write", (r) => r.servedAfterCutMs],
    ['that write to the grant (fencing margin)', (r) => r.marginMs],
    ["grant to the new primary's first write", (r) => r.firstWriteMs],
  ]);
}
// Two writable primaries at once fail the run.
process.exitCode = failed || rows.some((r) => r.interleaved || r.marginMs <= 0) ? 1 : 0;
