// Crafted or corrupted store items on a real cluster, with a checker writing
// to every node's own port throughout:
// - a ghost member with a wrong-typed field, a config and a history row of
//   the wrong shape, and an initialize item with no system identifier naming
//   another initializer: each is reported and set aside; the primary keeps its
//   term and keeps renewing, and writes go on through them;
// - a malformed leader item (the lease itself): the holder cannot renew what
//   it cannot read, so it fences itself by its own deadline; no one else is
//   granted or promoted while it stays malformed; once repaired, one primary;
// - a crafted initialize item naming a running replica while the leader item
//   is gone: the store's word alone neither promotes nor empties the replica.
// Under all of them: never two nodes acknowledging writes at once, no
// acknowledged write lost (synchronous mode where the primary may move), no
// data directory emptied.
import assert from 'node:assert/strict';
import { DeleteItemCommand, GetItemCommand, PutItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { clusterPk } from '../../lib/dcs/keys.js';
import { overlaps, startChecker, type Ack, type Checker } from '../support/checker.js';
import { leaderActive, sql, streamingStandbys, TestCluster } from '../support/pgcluster.js';

type Item = Record<string, AttributeValue>;

const KEPT_ROWS = 1000;
/** Short, as in the other agent tests, to keep the run short. */
const TTL = 3;

/** The raw item as DynamoDB holds it, strongly consistent: what a repair puts back byte for byte. */
async function rawGet(c: TestCluster, sk: string): Promise<Item | undefined> {
  const r = await c.table.client.send(new GetItemCommand({ TableName: c.table.tableName, Key: { pk: { S: clusterPk(c.cluster) }, sk: { S: sk } }, ConsistentRead: true }));
  return r.Item;
}

async function rawPut(c: TestCluster, item: Item): Promise<void> {
  await c.table.client.send(new PutItemCommand({ TableName: c.table.tableName, Item: item }));
}

/** Sends a write conditioned on the stored item's `version`; false when it moved on. */
async function atVersion(send: () => Promise<unknown>): Promise<boolean> {
  return send().then(
    () => true,
    (err: unknown) => {
      if ((err as { name?: string }).name === 'ConditionalCheckFailedException') return false;
      throw err;
    },
  );
}

const versionIs = (version: string) => ({ ConditionExpression: '#v = :v', ExpressionAttributeNames: { '#v': 'version' }, ExpressionAttributeValues: { ':v': { N: version } } });

/** Puts `item` only while the stored item still has `version`; false when it moved on. */
async function rawPutAtVersion(c: TestCluster, item: Item, version: string): Promise<boolean> {
  return atVersion(() => c.table.client.send(new PutItemCommand({ TableName: c.table.tableName, Item: item, ...versionIs(version) })));
}

/** Deletes the item only while it still has `version`; false when it moved on. */
async function rawDeleteAtVersion(c: TestCluster, sk: string, version: string): Promise<boolean> {
  return atVersion(() => c.table.client.send(new DeleteItemCommand({ TableName: c.table.tableName, Key: { pk: { S: clusterPk(c.cluster) }, sk: { S: sk } }, ...versionIs(version) })));
}

/** 'primary' when the server takes writes, 'standby' when in recovery, 'down' when it does not answer. */
async function role(c: TestCluster, name: string): Promise<'primary' | 'standby' | 'down'> {
  const rows = await sql<{ r: boolean }>(c.spec(name).pgPort, 'SELECT pg_is_in_recovery() AS r', [], 1000).catch(() => null);
  if (rows === null || rows[0] === undefined) return 'down';
  return rows[0].r ? 'standby' : 'primary';
}

async function keptRows(c: TestCluster, name: string): Promise<number | null> {
  const rows = await sql<{ n: string }>(c.spec(name).pgPort, 'SELECT count(*) AS n FROM kept', [], 1000).catch(() => null);
  return rows === null ? null : Number(rows[0]?.n);
}

function agentLog(c: TestCluster, name: string): string {
  return readFileSync(c.spec(name).logPath, 'utf8');
}

/** How many lines of a node's agent log match `re`: compared before and after an act, so earlier lines do not count. */
function logLines(c: TestCluster, name: string, re: RegExp): number {
  return agentLog(c, name)
    .split('\n')
    .filter((l) => re.test(l)).length;
}

/** node1 leads, node2 and node3 stream from it (and one is the synchronous standby in synchronous mode); `kept` and `checked` exist. */
async function healthyCluster(c: TestCluster, synchronousMode: boolean): Promise<{ leader: string; replicas: string[] }> {
  c.startArbiter();
  c.start('node1');
  const leader = await c.waitFor('node1 leads', leaderActive);
  c.start('node2');
  c.start('node3');
  // By name: a clone's pg_basebackup also streams from the primary.
  const replicas = c.specs.map((s) => s.name).filter((n) => n !== leader);
  await c.waitFor('both replicas streaming', async () => {
    const streaming = await streamingStandbys(c.spec(leader).pgPort);
    return replicas.every((r) => streaming.includes(r)) ? true : undefined;
  });
  if (synchronousMode) await c.waitFor('a synchronous standby in the store', (s) => (s.sync?.leader === leader && s.sync.standbys.length > 0 ? true : undefined));
  await sql(c.spec(leader).pgPort, `CREATE TABLE kept (id int PRIMARY KEY); INSERT INTO kept SELECT generate_series(1, ${KEPT_ROWS}); CREATE TABLE checked (id int PRIMARY KEY, node text)`);
  for (const r of replicas) await c.waitFor(`${r} has every kept row`, async () => ((await keptRows(c, r)) === KEPT_ROWS ? true : undefined));
  return { leader, replicas };
}

/**
 * Waits until the cluster has exactly one writable primary, the holder of an
 * active lease, with a write accepted there and every other node a streaming
 * standby of it; returns its name.
 */
async function onePrimary(c: TestCluster, timeoutMs = 120_000): Promise<string> {
  let probe = 10_000_000;
  return c.waitFor(
    'exactly one writable primary, the active holder, with every other node streaming from it',
    async (s) => {
      const holder = leaderActive(s);
      if (holder === undefined) return undefined;
      const roles = await Promise.all(c.specs.map(async (x) => [x.name, await role(c, x.name)] as const));
      const primaries = roles.filter(([, r]) => r === 'primary').map(([n]) => n);
      if (primaries.length !== 1 || primaries[0] !== holder) return undefined;
      const wrote = await sql(c.spec(holder).pgPort, 'INSERT INTO checked VALUES ($1, $2)', [++probe, `probe-${holder}`], 2000).then(
        () => true,
        () => false,
      );
      if (!wrote) return undefined;
      const streaming = await streamingStandbys(c.spec(holder).pgPort);
      return c.specs.every((x) => x.name === holder || streaming.includes(x.name)) ? holder : undefined;
    },
    timeoutMs,
  );
}

/** Waits until the checker's rows acknowledged by `name` grow by a few: writes flow through it. */
async function checkerWritesThrough(c: TestCluster, name: string): Promise<void> {
  const count = async (): Promise<number | null> => {
    const rows = await sql<{ n: string }>(c.spec(name).pgPort, 'SELECT count(*) AS n FROM checked WHERE node = $1', [name], 1000).catch(() => null);
    return rows === null ? null : Number(rows[0]?.n);
  };
  let start: number | null = null;
  for (let i = 0; i < 100 && start === null; i++) {
    start = await count();
    if (start === null) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(start !== null, `${name} answers`);
  const from = start;
  await c.waitFor(`the checker writing through ${name}`, async () => ((await count()) ?? 0) >= from + 3 ? true : undefined, 60_000);
}

/**
 * After a repair: an active holder takes the checker's writes; no node but
 * `old` took a write before the repair and no acknowledged write overlaps
 * another node's; then exactly one writable primary with every other node
 * streaming from it, every acknowledged write on it, and every kept row on
 * every node. Stops the checker.
 */
async function assessRepair(c: TestCluster, check: Checker, old: string, repairedAt: number): Promise<void> {
  const holder = await c.waitFor(
    'an active holder taking writes after the repair',
    async (s) => {
      const h = leaderActive(s);
      return h !== undefined && (await role(c, h)) === 'primary' ? h : undefined;
    },
    120_000,
  );
  await checkerWritesThrough(c, holder);
  const acks = await check.stop();
  assert.deepEqual(
    acks.filter((a) => a.node !== old && a.endedAt <= repairedAt).map((a) => `${a.node}#${a.id}`),
    [],
    `no node other than ${old} took a write before the repair`,
  );
  assert.deepEqual(overlaps(acks).map((a) => `${a.node}#${a.id}`), [], 'acknowledged writes overlapping another node');
  const primary = await onePrimary(c);
  await assertNoLoss(c, primary, acks);
  await assertKeptEverywhere(c);
}

/** Every acknowledged write is in `checked` on `primary`: none was lost. */
async function assertNoLoss(c: TestCluster, primary: string, acks: readonly Ack[]): Promise<void> {
  const rows = await sql<{ id: number }>(c.spec(primary).pgPort, 'SELECT id FROM checked');
  const present = new Set(rows.map((r) => r.id));
  assert.deepEqual(acks.filter((a) => !present.has(a.id)).map((a) => `${a.node}#${a.id}`), [], `acknowledged writes missing on the final primary ${primary}`);
}

/** Every node still has every kept row: nothing was emptied, re-initialized or rewound away. */
async function assertKeptEverywhere(c: TestCluster): Promise<void> {
  for (const s of c.specs) {
    await c.waitFor(`${s.name} still has every kept row`, async () => ((await keptRows(c, s.name)) === KEPT_ROWS ? true : undefined), 60_000);
  }
}

describe('hostile member, config, initialize and history items', () => {
  let c: TestCluster | undefined;
  before(async () => {
    c = await TestCluster.create({ nodes: 3, ttl: TTL });
    c.startArbiter();
  });
  after(async () => c?.stop());

  test('malformed member, config, initialize and history items leave the primary renewing and writable; nothing is emptied; no write overlaps or is lost', { timeout: 600_000 }, async () => {
    assert.ok(c !== undefined);
    const cl = c;
    // Prepare: a healthy cluster with a table of rows on every node, and a checker writing to every node directly
    cl.start('node1');
    const leader = await cl.waitFor('node1 leads', leaderActive);
    cl.start('node2');
    cl.start('node3');
    await cl.waitFor('two replicas streaming', async () => ((await streamingStandbys(cl.spec(leader).pgPort)).length === 2 ? true : undefined));
    await sql(cl.spec(leader).pgPort, 'CREATE TABLE kept (id int PRIMARY KEY); INSERT INTO kept SELECT generate_series(1, 1000); CREATE TABLE checked (id int PRIMARY KEY, node text)');
    const check = startChecker(cl.specs);
    let acks: Ack[] | undefined;
    try {
      await cl.waitFor('the checker has written through the primary', async () => ((await sql(cl.spec(leader).pgPort, 'SELECT 1 FROM checked LIMIT 1')).length > 0 ? true : undefined));
      const before = await cl.read();
      const term = before.leader?.term;
      const put = (sk: string, item: Record<string, AttributeValue>, pk = clusterPk(cl.cluster)) =>
        cl.table.client.send(new PutItemCommand({ TableName: cl.table.tableName, Item: { pk: { S: pk }, sk: { S: sk }, ...item } }));

      // Act: every node can write its own cluster's partition; these items are what a buggy or hostile one could write
      await put('member#ghost', { name: { S: 'ghost' }, lsn: { S: 'lots' }, version: { N: '1' } });
      await put('config', { config: { M: { ttl: { S: 'ten' } } }, version: { N: String((before.config?.version ?? 1) + 1) } });
      // Well-formed but hostile: no system identifier, another node named as the initializer.
      await put('initialize', { initializedBy: { S: 'node3' }, version: { N: '9' } });
      await put('history#000000000999', { term: { S: 'x' } }, `${clusterPk(cl.cluster)}#history`);
      const version = (await cl.read()).leader?.version ?? 0;
      const checkedAtCrafting = Number((await sql<{ n: string }>(cl.spec(leader).pgPort, 'SELECT count(*) AS n FROM checked'))[0]?.n);

      // Assess: the lease is renewed past the crafted items, by the same holder in the same term
      const after = await cl.waitFor('three renews after the crafted items', (s) => (s.leader !== null && s.leader.version >= version + 3 ? s : undefined), 60_000);
      assert.equal(after.leader?.holder, leader);
      assert.equal(after.leader?.term, term);
      assert.equal(after.leader?.phase, 'active');
      assert.deepEqual(after.malformed.map((m) => m.key).sort(), ['config', 'member#ghost']);
      // Writes keep flowing through the crafted items: the checker's rows on the primary keep growing.
      await cl.waitFor('the checker keeps writing through the primary after the crafted items', async () => {
        const rows = await sql<{ n: string }>(cl.spec(leader).pgPort, 'SELECT count(*) AS n FROM checked').catch(() => []);
        return Number(rows[0]?.n) >= checkedAtCrafting + 30 ? true : undefined;
      });
      acks = await check.stop();
    } finally {
      if (acks === undefined) await check.stop();
    }
    assert.deepEqual(overlaps(acks).map((a) => `${a.node}#${a.id}`), [], 'acknowledged writes overlapping another node');
    assert.deepEqual([...new Set(acks.map((a) => a.node))], [leader], 'only the primary took writes');
    // The primary never changed: every write it acknowledged is there.
    await assertNoLoss(cl, leader, acks);
    await sql(cl.spec(leader).pgPort, 'INSERT INTO kept VALUES (1001)');
    for (const s of cl.specs) {
      await cl.waitFor(`${s.name} still has every row`, async () => {
        const rows = await sql<{ n: string }>(s.pgPort, 'SELECT count(*) AS n FROM kept').catch(() => []);
        return Number(rows[0]?.n) === 1001 ? true : undefined;
      }, 30_000);
    }
    const history = await cl.store.listHistory(cl.cluster);
    assert.deepEqual(history.map((h) => h.term), [1], 'no new grant');
    const log = agentLog(cl, leader);
    assert.match(log, /store item member#ghost \(field role\) is malformed and set aside: .*lsn: Invalid input/);
    assert.doesNotMatch(log, /fencing|demote/);
  });
});

describe('a malformed leader item (synchronous mode)', () => {
  let c: TestCluster | undefined;
  after(async () => c?.stop());

  test('the holder fences itself by its own deadline, nobody is granted or promoted while the lease is unreadable, nothing is emptied; once repaired, one primary and no write overlapping or lost', { timeout: 600_000 }, async () => {
    // Prepare: node1 leads in synchronous mode, node2 and node3 stream; a checker writes to every node directly
    c = await TestCluster.create({ nodes: 3, ttl: TTL, synchronousMode: true });
    const cl = c;
    const { leader: old, replicas } = await healthyCluster(cl, true);
    const check = startChecker(cl.specs);
    try {
      await cl.waitFor('the checker has written through the primary', async () => ((await sql(cl.spec(old).pgPort, 'SELECT 1 FROM checked LIMIT 1')).length > 0 ? true : undefined));

      const initdbBefore = new Map(cl.specs.map((x) => [x.name, logLines(cl, x.name, /"code":"initdb"/)]));

      // Act: the current leader item with its term a string, same version (put only while the version is the one read)
      let original: Item | undefined;
      let corrupted: Item | undefined;
      for (let i = 0; i < 50 && corrupted === undefined; i++) {
        const read = await rawGet(cl, 'leader');
        assert.ok(read?.version?.N !== undefined, 'a leader item with a version');
        const candidate = { ...read, term: { S: 'one' } };
        if (await rawPutAtVersion(cl, candidate, read.version.N)) {
          original = read;
          corrupted = candidate;
        }
      }
      assert.ok(original !== undefined && corrupted !== undefined, 'the leader item was corrupted at the version read');
      const corruptedItem = corrupted;

      // Assess (while malformed): the holder stops taking writes on its own, with the item still as corrupted
      await cl.waitFor(`${old} stops taking writes`, async () => ((await role(cl, old)) !== 'primary' ? true : undefined), 60_000);
      assert.deepEqual(await rawGet(cl, 'leader'), corruptedItem, 'the malformed leader item is left as it is: no write lands on it');
      assert.match(agentLog(cl, old), /fencing: no successful renew|FENCE lease deadline passed/, `${old} fenced itself`);
      // The arbiter's own clock runs past two ttl after the fence, every node reporting, the item still malformed:
      // long enough for any grant a lease judgement could make.
      const atFence = await cl.read();
      assert.ok(atFence.arbiter !== null, 'the arbiter keeps observing');
      const fenceSeen = atFence.arbiter.leaseExpiresAt;
      const beats = new Map(atFence.members.map((m) => [m.name, m.version]));
      const during = await cl.waitFor(
        'the arbiter past two ttl of its own time since the fence, every member heartbeating',
        (s) =>
          s.arbiter !== null &&
          s.arbiter.leaseExpiresAt >= fenceSeen + 2 * TTL * 1000 &&
          cl.specs.every((x) => (s.members.find((m) => m.name === x.name)?.version ?? 0) > (beats.get(x.name) ?? Infinity))
            ? s
            : undefined,
        90_000,
      );
      assert.deepEqual(during.malformed.map((m) => `${m.key}:${m.field}`), ['leader:term'], 'the leader item is reported malformed');
      assert.equal(during.leader, null, 'the malformed leader item is set aside, not read');
      assert.deepEqual(await rawGet(cl, 'leader'), corruptedItem, 'nobody granted, renewed or released over the malformed item');
      assert.deepEqual((await cl.store.listHistory(cl.cluster)).map((h) => h.term), [1], 'no grant while the leader item is malformed');
      for (const r of replicas) {
        assert.equal(await role(cl, r), 'standby', `${r} is not promoted while the leader item is malformed`);
        assert.equal(await keptRows(cl, r), KEPT_ROWS, `${r} keeps every row`);
      }
      assert.notEqual(await role(cl, old), 'primary', `${old} stays fenced while it cannot read its lease`);
      for (const x of cl.specs) assert.match(agentLog(cl, x.name), /store item leader \(field term\) is malformed and set aside/, `${x.name} reports the malformed leader item`);
      assert.match(readFileSync(join(cl.baseDir, 'arbiter.log'), 'utf8'), /malformed item leader, field term, set aside/, 'the arbiter reports it');

      // Act: repair, putting back the exact item read before the corruption
      const repairedAt = performance.now();
      await rawPut(cl, original);

      // Assess: one holder takes writes again with no write overlapping, then one primary with nothing lost or emptied
      await assessRepair(cl, check, old, repairedAt);
      for (const x of cl.specs) assert.equal(logLines(cl, x.name, /"code":"initdb"/), initdbBefore.get(x.name), `${x.name} never re-initialized`);
    } finally {
      await check.stop();
    }
  });
});

for (const withSystemId of [true, false]) {
  describe(`a crafted initialize item naming a running replica, ${withSystemId ? 'with the real system identifier' : 'without a system identifier'}, with the leader item gone (synchronous mode)`, () => {
    let c: TestCluster | undefined;
    after(async () => c?.stop());

    test('the replica is neither promoted nor emptied on the store\'s word alone; once repaired, one primary and no write overlapping or lost', { timeout: 600_000 }, async () => {
      // Prepare: node1 leads in synchronous mode, node2 and node3 stream; a checker writes to every node directly
      c = await TestCluster.create({ nodes: 3, ttl: TTL, synchronousMode: true });
      const cl = c;
      const { leader: old, replicas } = await healthyCluster(cl, true);
      // The synchronous standby when there is one: the replica whose promotion would look most legitimate.
      const sync = (await cl.read()).sync?.standbys ?? [];
      const target = replicas.find((r) => sync.includes(r)) ?? (replicas[0] as string);
      const check = startChecker(cl.specs);
      try {
        await cl.waitFor('the checker has written through the primary', async () => ((await sql(cl.spec(old).pgPort, 'SELECT 1 FROM checked LIMIT 1')).length > 0 ? true : undefined));
        const initialize = await rawGet(cl, 'initialize');
        assert.ok(initialize?.systemId?.S !== undefined && initialize.initializedBy?.S === old, `the initialize item names ${old} with a system identifier`);
        const systemId = initialize.systemId.S;
        const initdbBefore = logLines(cl, target, /"code":"initdb"/);
        const promotedBefore = logLines(cl, target, /promoted in/);

        // Act: an initialize item naming the replica as the initializer, then the leader item deleted
        const { systemId: _dropped, ...withoutSystemId } = initialize;
        void _dropped;
        await rawPut(cl, { ...(withSystemId ? initialize : withoutSystemId), initializedBy: { S: target } });
        let leaderItem: Item | undefined;
        for (let i = 0; i < 50 && leaderItem === undefined; i++) {
          const read = await rawGet(cl, 'leader');
          assert.ok(read?.version?.N !== undefined, 'a leader item with a version');
          if (await rawDeleteAtVersion(cl, 'leader', read.version.N)) leaderItem = read;
        }
        assert.ok(leaderItem !== undefined, 'the leader item was deleted at the version read');

        // Assess (while crafted): the old primary, without a lease, stops taking writes; the replica decides many
        // times on the crafted items and stays a standby with every row
        await cl.waitFor(`${old} stops taking writes`, async () => ((await role(cl, old)) !== 'primary' ? true : undefined), 60_000);
        const atDemote = await cl.read();
        const beatAtDemote = atDemote.members.find((m) => m.name === target)?.version ?? Infinity;
        await cl.waitFor(`${target} has decided ten more times on the crafted items`, async (s) => {
          assert.notEqual(await role(cl, target), 'primary', `${target} promoted itself on the store's word alone`);
          return (s.members.find((m) => m.name === target)?.version ?? 0) >= beatAtDemote + 10 ? true : undefined;
        }, 60_000);
        const during = await cl.read();
        assert.equal(during.leader, null, 'nobody created a leader item');
        assert.equal(during.initialize?.initializedBy, target, 'the crafted initialize item is in place');
        assert.equal(during.initialize?.systemId, withSystemId ? systemId : undefined);
        assert.deepEqual((await cl.store.listHistory(cl.cluster)).map((h) => h.term), [1], 'no grant: term 1 is taken');
        assert.equal(await role(cl, target), 'standby', `${target} is not promoted`);
        assert.equal(await keptRows(cl, target), KEPT_ROWS, `${target} keeps every row`);
        assert.equal(logLines(cl, target, /"code":"initdb"/), initdbBefore, `${target} never re-initialized`);
        assert.equal(logLines(cl, target, /promoted in/), promotedBefore, `${target} never promoted`);
        if (!withSystemId) assert.match(agentLog(cl, target), /no bootstrap marker\): leaving them untouched/, `${target} refuses to empty a data directory it did not initdb`);

        // Act: repair, putting back the initialize and leader items as read before
        const repairedAt = performance.now();
        await rawPut(cl, initialize);
        await rawPut(cl, leaderItem);

        // Assess: one holder takes writes again with no write overlapping, then one primary with nothing lost or emptied
        await assessRepair(cl, check, old, repairedAt);
        assert.equal(logLines(cl, target, /"code":"initdb"/), initdbBefore, `${target} never re-initialized`);
      } finally {
        await check.stop();
      }
    });
  });
}
