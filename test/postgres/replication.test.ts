// A primary and two replicas cloned with pg_basebackup through slots:
// streaming, visibility of writes, slots, synchronous standbys, status.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PostgresNode } from '../../lib/postgres/node.js';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { SlotInUseError, SystemIdMismatchError } from '../../lib/postgres/errors.js';
import { TestCluster, waitFor } from './fixture.js';

async function streamingReplicas(primary: PostgresNode): Promise<string[]> {
  return (await primary.replication()).filter((r) => r.state === 'streaming').map((r) => r.applicationName);
}

describe('streaming replication', () => {
  let cluster: TestCluster;
  let a: PostgresNode;
  let b: PostgresNode;
  let c: PostgresNode;

  before(async () => {
    cluster = await TestCluster.create();
    a = await cluster.node('a');
    b = await cluster.node('b');
    c = await cluster.node('c');
    await a.initdb({ noSync: true });
    await a.start();
    await a.query('CREATE TABLE t (id int PRIMARY KEY, note text)');
  });

  after(async () => {
    await cluster.cleanup();
  });

  test('clones replicas with pg_basebackup through new slots, and they stream', async (t) => {
    // Prepare: settings in the primary's postgresql.auto.conf, one per-node (not applied: it needs a restart), one cluster-wide
    await a.query('ALTER SYSTEM SET port = 1');
    await a.query("ALTER SYSTEM SET work_mem = '7MB'");
    t.after(() => a.query('ALTER SYSTEM RESET port'));

    // Act
    await b.clone({ ...a.address('b'), createSlot: true }, { noSync: true });
    await c.clone({ ...a.address('c'), createSlot: true }, { noSync: true });
    await Promise.all([b.start(), c.start()]);

    // Assess
    const streaming = await waitFor('b and c streaming from a', async () => {
      const names = await streamingReplicas(a);
      return names.length === 2 ? names : undefined;
    });
    assert.deepEqual(streaming, ['b', 'c']);
    const slots = await a.listSlots();
    assert.deepEqual(slots.map((s) => [s.name, s.type, s.active]), [['b', 'physical', true], ['c', 'physical', true]]);
    const status = await b.status();
    assert.equal(status.inRecovery, true);
    assert.equal(status.timeline, 1);
    assert.equal(status.systemId, (await a.status()).systemId);
    assert.equal(status.walReceiver?.status, 'streaming');
    assert.equal(status.walReceiver?.slotName, 'b');
    assert.equal(status.walReceiver?.senderPort, a.config.port);
  });

  test('keeps each replica\'s own port and name after the copy, and the cluster-wide settings', async () => {
    // Act
    const [row] = await b.query<{ port: string; cluster_name: string; work_mem: string }>(
      "SELECT current_setting('port') AS port, current_setting('cluster_name') AS cluster_name, current_setting('work_mem') AS work_mem",
    );

    // Assess
    assert.equal(row?.port, String(b.config.port));
    assert.notEqual(b.config.port, a.config.port);
    assert.equal(row?.cluster_name, 'b');
    assert.equal(row?.work_mem, '7MB');
  });

  test('shows a write on the primary on both replicas within a bounded wait', async () => {
    // Prepare
    const note = `written at ${Date.now()}`;

    // Act
    await a.query('INSERT INTO t VALUES (1, $1)', [note]);
    await Promise.all(
      [b, c].map((replica) =>
        waitFor(`row 1 on ${replica.name}`, async () => {
          const rows = await replica.query<{ note: string }>('SELECT note FROM t WHERE id = 1');
          return rows[0]?.note === note;
        }),
      ),
    );

    // Assess
    const primary = await a.status();
    const replica = await waitFor('b to replay up to the primary', async () => {
      const s = await b.status();
      return s.replayedLsn !== null && primary.currentLsn !== null && s.replayedLsn >= primary.currentLsn ? s : undefined;
    });
    assert.ok(replica.receivedLsn !== null && replica.replayedLsn !== null && replica.receivedLsn >= replica.replayedLsn);
  });

  test('creates and drops physical slots idempotently, refusing to drop one in use', async () => {
    // Act
    const created = await a.createSlot('spare');
    const createdAgain = await a.createSlot('spare');
    const listed = (await a.listSlots()).find((s) => s.name === 'spare');
    const dropped = await a.dropSlot('spare');
    const droppedAgain = await a.dropSlot('spare');

    // Assess
    assert.equal(created, true);
    assert.equal(createdAgain, false);
    assert.equal(listed?.active, false);
    assert.ok(listed?.restartLsn !== null, 'the new slot reserves WAL at once');
    assert.equal(dropped, true);
    assert.equal(droppedAgain, false);
    await assert.rejects(a.dropSlot('b'), (e: unknown) => e instanceof SlotInUseError && e.slot === 'b');
  });

  test('makes the first listed standby synchronous with FIRST 1 and reads the setting back', async (t) => {
    t.after(() => a.setSynchronousStandbys(null));

    // Act
    const text = await a.setSynchronousStandbys({ method: 'first', count: 1, names: ['b', 'c'] });
    const readBack = await a.getSynchronousStandbys();

    // Assess
    assert.equal(text, 'FIRST 1 ("b", "c")');
    assert.deepEqual(readBack, { text, spec: { method: 'first', count: 1, names: ['b', 'c'] } });
    const states = await waitFor('b sync and c potential', async () => {
      const rows = Object.fromEntries((await a.replication()).map((r) => [r.applicationName, r.syncState]));
      return rows.b === 'sync' && rows.c === 'potential' ? rows : undefined;
    });
    assert.deepEqual(states, { b: 'sync', c: 'potential' });
    await a.query('INSERT INTO t VALUES (2, $1)', ['committed with a synchronous standby']);
  });

  test('makes both standbys quorum members with ANY 1', async (t) => {
    t.after(() => a.setSynchronousStandbys(null));

    // Act
    const text = await a.setSynchronousStandbys({ method: 'any', count: 1, names: ['b', 'c'] });

    // Assess
    assert.equal(text, 'ANY 1 ("b", "c")');
    assert.deepEqual((await a.getSynchronousStandbys()).spec, { method: 'any', count: 1, names: ['b', 'c'] });
    const states = await waitFor('b and c quorum', async () => {
      const rows = Object.fromEntries((await a.replication()).map((r) => [r.applicationName, r.syncState]));
      return rows.b === 'quorum' && rows.c === 'quorum' ? rows : undefined;
    });
    assert.deepEqual(states, { b: 'quorum', c: 'quorum' });
  });

  test('returns to asynchronous replication when the names are cleared', async () => {
    // Prepare
    await a.setSynchronousStandbys({ method: 'any', count: 1, names: ['b', 'c'] });

    // Act
    const text = await a.setSynchronousStandbys(null);

    // Assess
    assert.equal(text, '');
    assert.deepEqual(await a.getSynchronousStandbys(), { text: '', spec: null });
    await waitFor('both async', async () => (await a.replication()).every((r) => r.syncState === 'async'));
  });

  test('makes a stopped node a follower, refusing a data directory of another cluster', async () => {
    // Prepare: c stopped, and without standby.signal it would start as a second primary
    const systemId = (await a.status()).systemId;
    await c.stop('fast');
    await rm(join(c.config.dataDir, 'standby.signal'));

    // Act
    const refused = c.follow(a.address('c'), { expectedSystemId: '42' });
    await assert.rejects(refused, (e: unknown) => e instanceof SystemIdMismatchError && e.expected === '42' && e.actual === systemId);
    await c.follow(a.address('c'), { expectedSystemId: systemId });
    await c.start();

    // Assess
    assert.ok((await stat(join(c.config.dataDir, 'standby.signal'))).isFile());
    await waitFor('c streaming from a again', async () => (await streamingReplicas(a)).includes('c'));
    const status = await c.status();
    assert.equal(status.inRecovery, true);
    assert.equal(status.walReceiver?.slotName, 'c');
  });
});
