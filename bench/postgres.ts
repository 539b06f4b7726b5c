// npm run bench:postgres [-- --trials N]
// How long lib/postgres's steps take on this machine, on real PostgreSQL 15
// nodes (fsync off, as in the tests). Each trial builds a fresh primary a
// and two replicas b and c, then fails over the way test/postgres does:
// a loses its replicas, takes a write they never see and crashes; the most
// advanced replica is promoted; a is rewound and follows it; the other
// replica is re-pointed without a restart. These figures used to be printed
// (and one of them asserted) by the tests; the tests now assert only what
// happened, and the numbers live here.
import { cpus, loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { PostgresNode } from '../lib/postgres/node.js';
import { freeLoopbackPort, TestCluster, waitFor } from '../test/postgres/fixture.js';
import { printSpread } from './stats.js';

const { values } = parseArgs({
  options: {
    trials: { type: 'string', default: '5' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(`npm run bench:postgres [-- options]
  --trials N   fresh three-node clusters to build and fail over (5)`);
  process.exit(0);
}
const trials = Number(values.trials);
if (!Number.isInteger(trials) || trials < 1) {
  console.error(`--trials ${values.trials}: a whole number of at least 1`);
  process.exit(2);
}

const STEPS = [
  ['initdb', 'initdb (no sync)'],
  ['start', 'pg_ctl start -w'],
  ['stop', 'pg_ctl stop -m fast'],
  ['cycle', 'initdb + start + query + stop'],
  ['clone', 'pg_basebackup clone of a replica'],
  ['visible', 'primary write visible on both replicas'],
  ['promote', 'promote to first accepted INSERT'],
  ['rewind', 'pg_rewind of the old primary'],
  ['rejoin', 'rewind + start + streaming on the new timeline'],
  ['repoint', 're-point a running replica to streaming'],
] as const;
type Step = (typeof STEPS)[number][0];

const ms = async (f: () => Promise<unknown>): Promise<number> => {
  const started = performance.now();
  await f();
  return performance.now() - started;
};

/** Whether `replica` streams from `primary` on `timeline`. */
async function streamsOn(replica: PostgresNode, primary: PostgresNode, timeline: number): Promise<boolean> {
  const receiver = (await replica.status()).walReceiver;
  return receiver?.status === 'streaming' && receiver.senderPort === primary.config.port && receiver.receivedTimeline === timeline;
}

async function streamingFrom(primary: PostgresNode, name: string): Promise<boolean> {
  return (await primary.replication()).some((r) => r.applicationName === name && r.state === 'streaming');
}

async function session(node: PostgresNode): Promise<pg.Client> {
  const client = new pg.Client({ host: '127.0.0.1', port: node.config.port, user: 'postgres', database: 'postgres' });
  await client.connect();
  return client;
}

async function trial(): Promise<Record<Step, number>> {
  const cluster = await TestCluster.create();
  try {
    const a = await cluster.node('a');
    const b = await cluster.node('b');
    const c = await cluster.node('c');
    const r = {} as Record<Step, number>;

    // initdb, start, a query, stop: the cycle of test/postgres/lifecycle
    r.initdb = await ms(() => a.initdb({ noSync: true }));
    r.start = await ms(() => a.start());
    const query = await ms(() => a.query('SELECT 1'));
    r.stop = await ms(() => a.stop('fast'));
    r.cycle = r.initdb + r.start + query + r.stop;
    await a.start();
    await a.query('CREATE TABLE t (id int PRIMARY KEY, note text)');

    // Two replicas through slots
    r.clone = await ms(() => b.clone({ ...a.address('b'), createSlot: true }, { noSync: true }));
    await c.clone({ ...a.address('c'), createSlot: true }, { noSync: true });
    await Promise.all([b.start(), c.start()]);
    await waitFor('b and c streaming from a', async () => (await streamingFrom(a, 'b')) && (await streamingFrom(a, 'c')));
    // Open sessions, so the figure is replication's and not the cost of new connections
    const sessions = await Promise.all([a, b, c].map(session));
    try {
      const [onA, ...onReplicas] = sessions as [pg.Client, pg.Client, pg.Client];
      r.visible = await ms(async () => {
        await onA.query("INSERT INTO t VALUES (1, 'seen by both')");
        await Promise.all(
          onReplicas.map(async (s) => {
            while ((await s.query('SELECT 1 FROM t WHERE id = 1')).rowCount === 0) await sleep(1);
          }),
        );
      });
    } finally {
      await Promise.all(sessions.map((s) => s.end()));
    }

    // a diverges and crashes; the most advanced replica is promoted
    const nowhere = await freeLoopbackPort();
    await Promise.all([b, c].map((n) => n.follow({ host: '127.0.0.1', port: nowhere, slotName: n.name })));
    await waitFor('a to have no walsenders', async () => (await a.replication()).length === 0);
    await a.query("INSERT INTO t VALUES (2, 'lost on a')");
    await a.stop('immediate');
    const [sb, sc] = await Promise.all([b.status(), c.status()]);
    const [next, other] = (sc.receivedLsn ?? 0) > (sb.receivedLsn ?? 0) ? [c, b] : [b, c];
    r.promote = await ms(async () => {
      await next.promote();
      await next.query("INSERT INTO t VALUES (3, 'first write on the new primary')");
    });

    // The old primary back as a replica
    await next.createSlot('a');
    r.rejoin = await ms(async () => {
      r.rewind = (await a.rewind(next.address('a'), { noSync: true })).durationMs;
      await a.start();
      await waitFor('a streaming from the new primary on timeline 2', () => streamsOn(a, next, 2), { intervalMs: 5 });
    });

    // The other replica re-pointed, no restart
    await next.createSlot(other.name);
    r.repoint = await ms(async () => {
      await other.follow(next.address(other.name));
      await waitFor('the other replica streaming from the new primary on timeline 2', () => streamsOn(other, next, 2), { intervalMs: 5 });
    });
    return r;
  } finally {
    await cluster.cleanup();
  }
}

console.log(`machine: ${cpus().length} CPUs, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}; ${trials} trial(s), fsync off`);
const rows: Record<Step, number>[] = [];
for (let i = 1; i <= trials; i++) {
  const r = await trial();
  rows.push(r);
  console.log(`trial ${i}: ${STEPS.map(([k]) => `${k} ${r[k].toFixed(0)}`).join(', ')} ms`);
}
printSpread('step', rows, STEPS.map(([k, label]) => [label, (r: Record<Step, number>) => r[k]] as const), { width: 48, digits: 1 });
