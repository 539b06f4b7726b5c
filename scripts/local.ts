// npm start: pgfloat's local run. For now it starts DynamoDB Local, creates
// the table, writes a demo cluster through the store and prints the snapshot
// read back from it. `--keep` leaves the engine running until Ctrl-C.
import { parseArgs } from 'node:util';
import { createDynamoDbClient } from '../lib/dcs/client.js';
import { DynamoDbStore } from '../lib/dcs/dynamodb-store.js';
import { DEFAULT_CONFIG } from '../lib/dcs/items.js';
import { clusterPk } from '../lib/dcs/keys.js';
import type { ClusterSnapshot } from '../lib/dcs/store.js';
import { DEFAULT_TABLE_NAME, ensureTable } from '../lib/dcs/table.js';
import { startDynamoDbLocal } from '../lib/local/dynamodb-local.js';

const { values } = parseArgs({
  options: { keep: { type: 'boolean', default: false }, scope: { type: 'string', default: 'demo' } },
});
const cluster = { namespace: 'pgfloat', scope: values.scope };

function render(s: ClusterSnapshot): string {
  const leader = s.leader;
  const lines = [
    `+ Cluster: ${clusterPk(s.cluster)} (system id ${s.initialize?.systemId ?? '-'})${s.config?.config.paused ? ' [paused]' : ''}`,
    `| ${'Member'.padEnd(8)} | ${'Host'.padEnd(18)} | ${'Role'.padEnd(8)} | ${'State'.padEnd(9)} | TL | ${'Lag in MB'.padStart(9)} | version`,
  ];
  for (const m of s.members) {
    const role = leader?.holder === m.name ? 'Leader' : m.role === 'replica' ? 'Replica' : m.role;
    const lag = leader && m.lsn !== null && leader.holder !== m.name ? ((leader.lastLsn - m.lsn) / 1048576).toFixed(1) : '';
    lines.push(`| ${m.name.padEnd(8)} | ${new URL(m.connUrl).host.padEnd(18)} | ${role.padEnd(8)} | ${m.state.padEnd(9)} | ${String(m.timeline).padStart(2)} | ${lag.padStart(9)} | ${m.version}`);
  }
  lines.push(
    `leader: ${leader ? `${leader.holder}, term ${leader.term}, phase ${leader.phase}, version ${leader.version}` : 'none'}`,
    `endpoint: ${s.endpoint ? `${s.endpoint.member} (term ${s.endpoint.term}) -> ${s.endpoint.target}` : 'none'}`,
    `config: ttl ${s.config?.config.ttl}s, loop_wait ${s.config?.config.loopWait}s, retry_timeout ${s.config?.config.retryTimeout}s (version ${s.config?.version})`,
  );
  return lines.join('\n');
}

const engine = await startDynamoDbLocal();
console.log(`DynamoDB Local listening on ${engine.endpoint}`);
const client = createDynamoDbClient({ endpoint: engine.endpoint });
try {
  await ensureTable(client, DEFAULT_TABLE_NAME);
  console.log(`table ${DEFAULT_TABLE_NAME} is ACTIVE`);
  const store = new DynamoDbStore({ client, tableName: DEFAULT_TABLE_NAME });
  await store.initialize(cluster, { systemId: '7312345678901234567', initializedBy: 'node1' });
  await store.putConfig(cluster, DEFAULT_CONFIG, null);
  const names = ['node1', 'node2', 'node3'];
  for (const [i, name] of names.entries()) {
    await store.heartbeat(
      cluster,
      {
        name,
        role: i === 0 ? 'primary' : 'replica',
        state: 'running',
        timeline: 1,
        lsn: 0x3000060 - i * 4096,
        replayLsn: i === 0 ? null : 0x3000060 - i * 4096,
        tags: { nofailover: false, failoverPriority: 1, nosync: false, noloadbalance: false },
        connUrl: `postgres://127.0.0.1:${5433 + i}/postgres`,
        apiUrl: `http://127.0.0.1:${8009 + i}/patroni`,
        systemId: '7312345678901234567',
        heartbeatAt: Date.now(),
      },
      null,
    );
  }
  await store.grantLeader(cluster, { holder: 'node1', expected: null, previous: null, lastLsn: 0x3000060, timeline: 1, reason: 'bootstrap', kind: 'bootstrap', grantedAt: Date.now() });
  await store.confirmLeader(cluster, { holder: 'node1', term: 1, lastLsn: 0x3000060, timeline: 1 });
  await store.recordEndpoint(cluster, { member: 'node1', term: 1, target: '127.0.0.1:5433', movedAt: Date.now() });
  console.log(`\n${render(await store.readCluster(cluster))}`);
  if (values.keep) {
    console.log(`\nDynamoDB Local keeps running on ${engine.endpoint}; Ctrl-C stops it.`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
  }
} finally {
  client.destroy();
  await engine.stop();
  console.log('DynamoDB Local stopped');
}
