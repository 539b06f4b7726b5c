// Crafted or corrupted store items on a real cluster: a ghost member with a
// wrong-typed field, a config and a history row of the wrong shape, and an
// initialize item with no system identifier naming another initializer. Each is reported and set aside; the primary keeps its term
// and keeps renewing, no node is demoted, emptied or granted, and writes go
// on. Only the leader item is the lease itself: it is not crafted here.
import assert from 'node:assert/strict';
import { PutItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { clusterPk } from '../../lib/dcs/keys.js';
import { leaderActive, sql, streamingStandbys, TestCluster } from '../support/pgcluster.js';

let c: TestCluster;
before(async () => {
  c = await TestCluster.create({ nodes: 3, ttl: 3 });
  c.startArbiter();
});
after(async () => c?.stop());

test('malformed member, config, initialize and history items leave the primary renewing and writable; nothing is emptied', async () => {
  // Prepare: a healthy cluster with a table of rows on every node
  c.start('node1');
  const leader = await c.waitFor('node1 leads', leaderActive);
  c.start('node2');
  c.start('node3');
  await c.waitFor('two replicas streaming', async () => ((await streamingStandbys(c.spec(leader).pgPort)).length === 2 ? true : undefined));
  await sql(c.spec(leader).pgPort, 'CREATE TABLE kept (id int PRIMARY KEY); INSERT INTO kept SELECT generate_series(1, 1000)');
  const before = await c.read();
  const term = before.leader?.term;
  const put = (sk: string, item: Record<string, AttributeValue>, pk = clusterPk(c.cluster)) =>
    c.table.client.send(new PutItemCommand({ TableName: c.table.tableName, Item: { pk: { S: pk }, sk: { S: sk }, ...item } }));

  // Act: every node can write its own cluster's partition; these items are what a buggy or hostile one could write
  await put('member#ghost', { name: { S: 'ghost' }, lsn: { S: 'lots' }, version: { N: '1' } });
  await put('config', { config: { M: { ttl: { S: 'ten' } } }, version: { N: String((before.config?.version ?? 1) + 1) } });
  // Well-formed but hostile: no system identifier, another node named as the initializer.
  await put('initialize', { initializedBy: { S: 'node3' }, version: { N: '9' } });
  await put('history#000000000999', { term: { S: 'x' } }, `${clusterPk(c.cluster)}#history`);
  const version = (await c.read()).leader?.version ?? 0;

  // Assess: the lease is renewed past the crafted items, by the same holder in the same term
  const after = await c.waitFor('three renews after the crafted items', (s) => (s.leader !== null && s.leader.version >= version + 3 ? s : undefined), 60_000);
  assert.equal(after.leader?.holder, leader);
  assert.equal(after.leader?.term, term);
  assert.equal(after.leader?.phase, 'active');
  assert.deepEqual(after.malformed.map((m) => m.key).sort(), ['config', 'member#ghost']);
  await sql(c.spec(leader).pgPort, 'INSERT INTO kept VALUES (1001)');
  for (const s of c.specs) {
    await c.waitFor(`${s.name} still has every row`, async () => {
      const rows = await sql<{ n: string }>(s.pgPort, 'SELECT count(*) AS n FROM kept').catch(() => []);
      return Number(rows[0]?.n) === 1001 ? true : undefined;
    }, 30_000);
  }
  const history = await c.store.listHistory(c.cluster);
  assert.deepEqual(history.map((h) => h.term), [1], 'no new grant');
  const log = readFileSync(c.spec(leader).logPath, 'utf8');
  assert.match(log, /store item member#ghost \(field role\) is malformed and set aside: .*lsn: Invalid input/);
  assert.doesNotMatch(log, /fencing|demote/);
});
