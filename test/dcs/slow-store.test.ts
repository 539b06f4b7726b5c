// A slow store is not a dead one: with every answer 2 s late, calls within
// the caller's deadline (retry_timeout) still succeed, reads and writes alike.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createDynamoDbClient } from '../../lib/dcs/client.js';
import { DynamoDbStore } from '../../lib/dcs/dynamodb-store.js';
import { member, newCluster } from './contract.js';
import { freshTable, type TestTable } from '../support/dynamodb.js';
import { startStoreProxy, type StoreProxy } from '../support/store-proxy.js';

let table: TestTable;
let proxy: StoreProxy;
let client: DynamoDBClient;
let store: DynamoDbStore;
before(async () => {
  table = await freshTable();
  proxy = await startStoreProxy(table.endpoint);
  client = createDynamoDbClient({ endpoint: proxy.endpoint });
  store = new DynamoDbStore({ client, tableName: table.tableName });
});
after(async () => {
  client?.destroy();
  await proxy?.close();
  await table?.close();
});

test('with every answer 2 s late, a read and a conditional write within a 4 s deadline both succeed', async () => {
  // Prepare: a member item written while the store is quick
  const c = newCluster();
  const first = await store.heartbeat(c, member('a'), null);
  assert.equal(first.ok, true);
  proxy.setDelay(2000);
  // Act
  const read = await store.readCluster(c, { timeoutMs: 4000 });
  const again = await store.heartbeat(c, member('a', { lsn: 2000 }), 1, { timeoutMs: 4000 });
  // Assess
  assert.deepEqual(read.members.map((m) => m.name), ['a']);
  assert.equal(again.ok, true);
  assert.equal(again.ok && again.item.version, 2);
});

test('with every answer 2 s late, a call within a 4 s deadline is heard on its first attempt, on the connection it had', async () => {
  // Prepare: one connection open and idle, then a slow store
  const c = newCluster();
  await store.heartbeat(c, member('b'), null);
  proxy.setDelay(2000);
  const connections = proxy.accepted;
  // Act: three calls in a row
  await store.readCluster(c, { timeoutMs: 4000 });
  await store.heartbeat(c, member('b', { lsn: 3000 }), 1, { timeoutMs: 4000 });
  await store.readCluster(c, { timeoutMs: 4000 });
  // Assess: an attempt cut short would have dropped its connection and opened another
  proxy.setDelay(0);
  assert.equal(proxy.accepted, connections, 'no attempt was abandoned');
});
