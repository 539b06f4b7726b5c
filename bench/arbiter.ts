// npm run bench:arbiter [-- --seconds S --clusters N]
// 1. Decisions per second of the pure rules (lib/ha) for 3-member clusters:
//    a healthy cluster, and one whose leader's lease expired (a failover).
// 2. Arbiter ticks per second over N clusters on DynamoDB Local (every
//    cluster read, decided and its actions applied each tick), with the
//    requests each tick costs.
import { parseArgs } from 'node:util';
import { runLoop } from '../lib/arbiter/loop.js';
import { moverCache } from '../lib/arbiter/movers.js';
import { createDynamoDbClient } from '../lib/dcs/client.js';
import { DynamoDbStore } from '../lib/dcs/dynamodb-store.js';
import { DEFAULT_CONFIG } from '../lib/dcs/items.js';
import { ensureTable } from '../lib/dcs/table.js';
import { decide } from '../lib/ha/arbiter.js';
import { startDynamoDbLocal } from '../lib/local/dynamodb-local.js';
import { grant, member as memberStatus } from '../test/dcs/contract.js';
import { config, input, leader, member, NOW, observed, primary, TTL_MS } from '../test/ha/fixtures.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, clusters: { type: 'string', default: '100' } } });
const seconds = Number(values.seconds);
const clusterCount = Number(values.clusters);
if (!(seconds > 0) || !Number.isInteger(clusterCount) || clusterCount < 1) throw new Error('--seconds > 0 and --clusters >= 1');

function rate(label: string, run: () => unknown): void {
  for (let i = 0; i < 2000; i++) run();
  const until = performance.now() + seconds * 1000;
  let n = 0;
  const t0 = performance.now();
  while (performance.now() < until) {
    for (let i = 0; i < 1000; i++) run();
    n += 1000;
  }
  const perSecond = n / ((performance.now() - t0) / 1000);
  console.log(`${label.padEnd(48)} ${Math.round(perSecond).toLocaleString('en-US').padStart(12)} decisions/s  ${(1e6 / perSecond).toFixed(1).padStart(6)} µs each`);
}

console.log(`pure rules (lib/ha), 3-member clusters, ${seconds} s each`);
const members = [primary('a', { lsn: 9000 }), member('b', { lsn: 8000 }), member('c', { lsn: 8500 })];
const healthy = input(observed({ config: config(), leader: leader('a', { phase: 'active' }), members }));
const expired = input(observed({ config: config(), leader: leader('a', { phase: 'active' }), members }, { leaderSeenAt: NOW - TTL_MS - 1 }));
rate('healthy leader (no action)', () => decide(healthy));
rate('leader lease expired (grant)', () => decide(expired));

const engine = await startDynamoDbLocal();
const client = createDynamoDbClient({ endpoint: engine.endpoint });
let requests = 0;
client.middlewareStack.add((next) => async (args) => {
  requests += 1;
  return next(args);
}, { step: 'initialize', name: 'countRequests' });
try {
  await ensureTable(client, 'pgfloat-bench');
  const store = new DynamoDbStore({ client, tableName: 'pgfloat-bench' });
  process.stdout.write(`\npreparing ${clusterCount} clusters of 3 members on DynamoDB Local...`);
  for (let i = 0; i < clusterCount; i++) {
    const c = { namespace: 'bench', scope: `c${i}` };
    await store.initialize(c, { systemId: '7300000000000000001', initializedBy: 'a' });
    await store.putConfig(c, { ...DEFAULT_CONFIG, ttl: 3600 }, null);
    for (const m of ['a', 'b', 'c']) await store.heartbeat(c, memberStatus(m, { role: m === 'a' ? 'primary' : 'replica' }), null);
    await store.grantLeader(c, grant('a', null));
    await store.confirmLeader(c, { holder: 'a', term: 1, lastLsn: 5000, timeline: 1 });
  }
  console.log(' done');
  const log = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: (m: string) => console.error(m) };
  const deps = {
    store,
    movers: moverCache(),
    clock: { now: () => Date.now(), sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)) },
    log,
    metrics: { cluster: () => undefined, clusterError: () => undefined },
    arbiterId: 'bench',
    invocationId: 'bench-1',
    leaseMs: 10_000,
    loopLeaseMs: 10_000,
    stepTimeoutMs: 5000,
  };
  // Warm-up: the first tick takes the per-cluster leases and records endpoints.
  await runLoop(deps, { runUntil: Date.now() + 60_000, tickMs: 1, clusters: 'all', waitForLease: false, maxTicks: 2 });
  requests = 0;
  const t0 = Date.now();
  const s = await runLoop(deps, { runUntil: Date.now() + seconds * 1000, tickMs: 1, clusters: 'all', waitForLease: false });
  const elapsed = (Date.now() - t0) / 1000;
  console.log(`arbiter loop over ${clusterCount} clusters, ${elapsed.toFixed(1)} s, 16 clusters at a time`);
  console.log(`  ticks/s (each tick visits every cluster)     ${(s.ticks / elapsed).toFixed(2)}`);
  console.log(`  cluster ticks/s                              ${(s.clusterTicks / elapsed).toFixed(0)}`);
  console.log(`  mean time of one tick over all clusters      ${((elapsed * 1000) / s.ticks).toFixed(0)} ms`);
  console.log(`  DynamoDB requests per cluster tick           ${(requests / s.clusterTicks).toFixed(2)}  (errors: ${s.errors})`);
} finally {
  client.destroy();
  await engine.stop();
}
