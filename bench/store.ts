// npm run bench:store [-- --iterations N]
// Latency (median, p99) of each store operation on DynamoDB Local and on the
// in-memory twin, and what each costs in DynamoDB requests and capacity units
// (a strongly consistent read: 1 unit per 4 KB; a write: 1 unit per 1 KB;
// transactions twice that), measured from the requests the store sends.
import { parseArgs } from 'node:util';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDynamoDbClient } from '../lib/dcs/client.js';
import { DynamoDbStore } from '../lib/dcs/dynamodb-store.js';
import { DEFAULT_CONFIG } from '../lib/dcs/items.js';
import type { ClusterId } from '../lib/dcs/keys.js';
import { MemoryStore } from '../lib/dcs/memory-store.js';
import type { Store } from '../lib/dcs/store.js';
import { ensureTable } from '../lib/dcs/table.js';
import { startDynamoDbLocal } from '../lib/local/dynamodb-local.js';
import { grant, member } from '../test/dcs/contract.js';
import { quantile } from './stats.js';

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '300' } } });
const N = Number(values.iterations);
if (!Number.isInteger(N) || N < 10) throw new Error('--iterations: a whole number of at least 10');

interface Cost {
  requests: Map<string, number>;
  readUnits: number;
  writeUnits: number;
}
const newCost = (): Cost => ({ requests: new Map(), readUnits: 0, writeUnits: 0 });
let cost = newCost();

function byteSize(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value ?? {}));
}

/** Counts every request the client sends and the capacity units it consumes. */
function meter(client: DynamoDBClient): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = String(context.commandName).replace(/Command$/, '');
      cost.requests.set(name, (cost.requests.get(name) ?? 0) + 1);
      const input = args.input as Record<string, unknown>;
      let out: Awaited<ReturnType<typeof next>>;
      try {
        out = await next(args);
      } catch (err) {
        // A failed condition still consumes the write.
        if ((err as { name?: string }).name === 'ConditionalCheckFailedException') cost.writeUnits += 1;
        throw err;
      }
      const output = out.output as unknown as Record<string, unknown>;
      if (name === 'Query') cost.readUnits += Math.max(1, Math.ceil(byteSize(output.Items) / 4096));
      else if (name === 'GetItem') cost.readUnits += Math.max(1, Math.ceil(byteSize(output.Item) / 4096));
      else if (name === 'PutItem') cost.writeUnits += Math.max(1, Math.ceil(byteSize(input.Item) / 1024));
      else if (name === 'UpdateItem') cost.writeUnits += Math.max(1, Math.ceil(byteSize(output.Attributes) / 1024));
      else if (name === 'TransactWriteItems') {
        for (const t of input.TransactItems as { Put?: { Item: unknown } }[]) cost.writeUnits += 2 * Math.max(1, Math.ceil(byteSize(t.Put?.Item) / 1024));
      }
      return out;
    },
    { step: 'initialize', name: 'pgfloatMeter' },
  );
}

type Op = { name: string; setup?: (c: ClusterId) => Promise<void>; run: (c: ClusterId, i: number) => Promise<unknown> };

function ops(store: Store): Op[] {
  const held = async (c: ClusterId): Promise<void> => {
    await store.grantLeader(c, grant('a', null));
    await store.confirmLeader(c, { holder: 'a', term: 1, lastLsn: 1, timeline: 1 });
  };
  const populated = async (c: ClusterId): Promise<void> => {
    await store.initialize(c, { systemId: '7300000000000000001', initializedBy: 'a' });
    await store.putConfig(c, DEFAULT_CONFIG, null);
    for (const m of ['a', 'b', 'c']) await store.heartbeat(c, member(m), null);
    await held(c);
    await store.putArbiter(c, { owner: 'arb', leaseExpiresAt: 0, leader: null, members: {} }, null);
  };
  return [
    { name: 'readCluster (3 members)', setup: populated, run: (c) => store.readCluster(c) },
    { name: 'heartbeat', setup: async (c) => void (await store.heartbeat(c, member('a'), null)), run: (c, i) => store.heartbeat(c, member('a', { lsn: i }), i + 1) },
    { name: 'renewLeader', setup: held, run: (c, i) => store.renewLeader(c, { holder: 'a', term: 1, lastLsn: i, timeline: 1 }) },
    { name: 'renewLeader, lost race', setup: held, run: (c) => store.renewLeader(c, { holder: 'a', term: 7, lastLsn: 1, timeline: 1 }) },
    {
      name: 'grantLeader',
      run: async (c, i) => store.grantLeader(c, grant(`m${i % 3}`, i === 0 ? null : { version: i, term: i })),
    },
    { name: 'putArbiter (observation)', run: (c, i) => store.putArbiter(c, { owner: 'arb', leaseExpiresAt: i, leader: { term: 1, version: i + 1, seenAt: i }, members: { a: { version: i + 1, seenAt: i } } }, i === 0 ? null : i) },
    { name: 'recordEndpoint', run: (c, i) => store.recordEndpoint(c, { member: 'a', term: i + 1, target: 'eni-1', movedAt: i }) },
    { name: 'putConfig', run: (c, i) => store.putConfig(c, DEFAULT_CONFIG, i === 0 ? null : i) },
  ];
}


async function measure(label: string, store: Store, metered: boolean): Promise<void> {
  console.log(`\n${label}: ${N} calls per operation`);
  console.log(`${'operation'.padEnd(28)} ${'median ms'.padStart(10)} ${'p99 ms'.padStart(8)}${metered ? `  ${'requests per call'.padEnd(26)} ${'RCU'.padStart(5)} ${'WCU'.padStart(5)}` : ''}`);
  let n = 0;
  for (const op of ops(store)) {
    n += 1;
    const c = { namespace: 'bench', scope: `${label.replace(/\W/g, '')}-${n}` };
    await op.setup?.(c);
    for (let i = 0; i < 5; i++) await op.run({ ...c, scope: `${c.scope}-warm${i}` }, 0).catch(() => undefined);
    cost = newCost();
    const times: number[] = [];
    for (let i = 0; i < N; i++) {
      const t0 = performance.now();
      await op.run(c, i);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const row = `${op.name.padEnd(28)} ${quantile(times, 0.5).toFixed(3).padStart(10)} ${quantile(times, 0.99).toFixed(3).padStart(8)}`;
    if (!metered) {
      console.log(row);
      continue;
    }
    const requests = [...cost.requests].map(([k, v]) => `${(v / N).toFixed(2)} ${k}`).join(', ');
    console.log(`${row}  ${requests.padEnd(26)} ${(cost.readUnits / N).toFixed(2).padStart(5)} ${(cost.writeUnits / N).toFixed(2).padStart(5)}`);
  }
}

const engine = await startDynamoDbLocal();
try {
  const client = createDynamoDbClient({ endpoint: engine.endpoint });
  await ensureTable(client, 'pgfloat-bench');
  meter(client);
  await measure('DynamoDB Local', new DynamoDbStore({ client, tableName: 'pgfloat-bench' }), true);
  await measure('in-memory twin', new MemoryStore(), false);
  client.destroy();
} finally {
  await engine.stop();
}
