import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { createDynamoDbClient } from '../../lib/dcs/client.js';
import { DynamoDbStore } from '../../lib/dcs/dynamodb-store.js';
import { StoreUnavailableError } from '../../lib/dcs/errors.js';
import { MemoryStore } from '../../lib/dcs/memory-store.js';
import { ensureTable } from '../../lib/dcs/table.js';
import { startDynamoDbLocal } from '../../lib/local/dynamodb-local.js';

const cluster = { namespace: 'unavailable', scope: 'c1' };

/** The call gives up with StoreUnavailableError naming its operation, after at least one retry. */
async function assertUnavailableAfterRetry(op: Promise<unknown>, operation: string): Promise<void> {
  await assert.rejects(op, (err: unknown) => {
    assert.ok(err instanceof StoreUnavailableError, `StoreUnavailableError, got ${String(err)}`);
    assert.equal(err.operation, operation);
    assert.ok(err.attempts >= 2, `retried before giving up (${err.attempts} attempt(s))`);
    return true;
  });
}

describe('store unreachable', () => {
  test('an engine that was stopped gives StoreUnavailableError after retrying', async () => {
    // Prepare: a store that worked, then its engine stops
    const engine = await startDynamoDbLocal();
    const client = createDynamoDbClient({ endpoint: engine.endpoint });
    after(() => client.destroy());
    await ensureTable(client, 'pgfloat');
    const store = new DynamoDbStore({ client, tableName: 'pgfloat' });
    await store.heartbeat(cluster, { name: 'a', role: 'replica', state: 'running', timeline: 1, lsn: 1, replayLsn: 1, tags: { nofailover: false, failoverPriority: 1, nosync: false, noloadbalance: false }, connUrl: 'postgres://127.0.0.1:1/postgres', apiUrl: 'http://127.0.0.1:1', systemId: null, heartbeatAt: 0 }, null);
    await engine.stop();
    // Act + Assess
    await assertUnavailableAfterRetry(store.readCluster(cluster, { timeoutMs: 3000 }), 'readCluster');
    await assertUnavailableAfterRetry(store.renewLeader(cluster, { holder: 'a', term: 1, lastLsn: 1, timeline: 1 }, { timeoutMs: 3000 }), 'renewLeader');
  });

  test('an endpoint that accepts connections but never answers gives StoreUnavailableError after retrying', async () => {
    // Prepare: a loopback listener that swallows requests
    const sockets = new Set<Socket>();
    const server = createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    after(() => {
      for (const s of sockets) s.destroy();
      server.close();
    });
    const port = (server.address() as { port: number }).port;
    const client = createDynamoDbClient({ endpoint: `http://127.0.0.1:${port}` });
    after(() => client.destroy());
    const store = new DynamoDbStore({ client, tableName: 'pgfloat', retry: { attemptTimeoutMs: 300 } });
    // Act + Assess: each attempt is cut short, so the call still ends
    await assertUnavailableAfterRetry(store.readCluster(cluster, { timeoutMs: 3000 }), 'readCluster');
  });

  test('the in-memory twin set unreachable throws StoreUnavailableError and writes nothing', async () => {
    // Prepare
    const store = new MemoryStore();
    store.setReachable(false);
    // Act
    const write = store.initialize(cluster, { systemId: '1', initializedBy: 'a' });
    // Assess
    await assert.rejects(write, StoreUnavailableError);
    store.setReachable(true);
    assert.equal((await store.readCluster(cluster)).initialize, null);
  });
});
