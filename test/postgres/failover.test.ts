// A failover, step by step, on real nodes: a is the primary, b and c stream
// from it. a is cut off from its replicas, takes a write they never see, and
// crashes; the most advanced replica is promoted, a is rewound at once (while
// the new primary's first checkpoint is still in progress: pg_rewind's
// "no rewind required" trap) and follows it, and the other replica is
// re-pointed to it without a restart. The tests run in order; each asserts
// one step.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { PostgresNode } from '../../lib/postgres/node.js';
import { parseConf } from '../../lib/postgres/conf-text.js';
import { parseConninfo } from '../../lib/postgres/quote.js';
import { freeLoopbackPort, TestCluster, waitFor } from './fixture.js';

async function noteOf(node: PostgresNode, id: number): Promise<string | undefined> {
  const rows = await node.query<{ note: string }>('SELECT note FROM t WHERE id = $1', [id]);
  return rows[0]?.note;
}

async function streamingFrom(primary: PostgresNode, name: string): Promise<boolean> {
  return (await primary.replication()).some((r) => r.applicationName === name && r.state === 'streaming');
}

/**
 * Whether `replica` streams from `primary` on `timeline`. A replica following
 * a new primary first streams the rest of the old timeline from it, so
 * 'streaming' alone does not mean it reached the new timeline.
 */
async function streamsOn(replica: PostgresNode, primary: PostgresNode, timeline: number): Promise<boolean> {
  const receiver = (await replica.status()).walReceiver;
  return receiver?.status === 'streaming' && receiver.senderPort === primary.config.port && receiver.receivedTimeline === timeline;
}

/**
 * Cuts the replicas off their primary: they are re-pointed at a port nobody
 * listens on (so they cannot reconnect), then the primary is left without
 * walsenders.
 */
async function cutOff(primary: PostgresNode, replicas: PostgresNode[]): Promise<void> {
  const nowhere = await freeLoopbackPort();
  await Promise.all(replicas.map((r) => r.follow({ host: '127.0.0.1', port: nowhere, slotName: r.name })));
  await waitFor('the primary to have no walsenders', async () => (await primary.replication()).length === 0);
}

describe('failover mechanisms', () => {
  let cluster: TestCluster;
  let a: PostgresNode;
  let b: PostgresNode;
  let c: PostgresNode;
  /** The replica promoted (the one that received most WAL) and the other one. */
  let next: PostgresNode;
  let other: PostgresNode;

  before(async () => {
    cluster = await TestCluster.create();
    a = await cluster.node('a');
    b = await cluster.node('b');
    c = await cluster.node('c');
    await a.initdb({ noSync: true });
    await a.start();
    await a.query('CREATE TABLE t (id int PRIMARY KEY, note text)');
    await a.query("INSERT INTO t VALUES (1, 'before the failover')");
    await b.clone({ ...a.address('b'), createSlot: true }, { noSync: true });
    await c.clone({ ...a.address('c'), createSlot: true }, { noSync: true });
    await Promise.all([b.start(), c.start()]);
    await waitFor('b and c streaming from a', async () => (await streamingFrom(a, 'b')) && (await streamingFrom(a, 'c')));
    // Replayed on the replicas, these rows leave dirty pages there: a promoted
    // replica's first (spread) checkpoint then takes seconds, as in production.
    await a.query("INSERT INTO t SELECT g, 'bulk' FROM generate_series(100, 2099) AS g");
    const end = (await a.status()).currentLsn ?? 0;
    await waitFor('b and c to replay the bulk rows', async () => {
      const replayed = await Promise.all([b, c].map(async (n) => (await n.status()).replayedLsn ?? 0));
      return replayed.every((lsn) => lsn >= end);
    });
  });

  after(async () => {
    await cluster.cleanup();
  });

  test('promotes the most advanced replica: it accepts writes on the next timeline', async () => {
    // Prepare: a loses its replicas, takes a write they never see, and crashes
    await cutOff(a, [b, c]);
    await a.query("INSERT INTO t VALUES (2, 'lost on a')");
    await a.stop('immediate');
    const [sb, sc] = await Promise.all([b.status(), c.status()]);
    [next, other] = (sc.receivedLsn ?? 0) > (sb.receivedLsn ?? 0) ? [c, b] : [b, c];
    const before = await next.status();

    // Act
    const result = await next.promote();
    await next.query("INSERT INTO t VALUES (3, 'first write on the new primary')");

    // Assess
    const after = await next.status();
    assert.equal(result.alreadyPrimary, false);
    assert.equal(before.inRecovery, true);
    assert.equal(before.timeline, 1);
    assert.equal(after.inRecovery, false);
    assert.equal(after.timeline, 2);
    assert.equal(await noteOf(next, 3), 'first write on the new primary');
  });

  test('rewinds the diverged old primary at once, which then follows the new primary with its own settings', async () => {
    // Prepare: slots do not survive promotion; the new primary gets them
    await next.createSlot('a');

    // Act
    const result = await a.rewind(next.address('a'), { noSync: true });
    assert.equal(result.rewound, true, 'pg_rewind found the divergence');
    await a.start();
    await waitFor('a streaming from the new primary on timeline 2', () => streamsOn(a, next, 2));

    // Assess: it streams on timeline 2, lost its own write and sees the new primary's
    await waitFor('the new primary to list a as streaming', () => streamingFrom(next, 'a'));
    const status = await a.status();
    assert.equal(status.inRecovery, true);
    assert.equal(status.timeline, 2);
    assert.equal(status.walReceiver?.slotName, 'a');
    await waitFor('row 3 on a', async () => (await noteOf(a, 3)) === 'first write on the new primary');
    assert.equal(await noteOf(a, 2), undefined);
    await next.query("INSERT INTO t VALUES (4, 'after the rewind')");
    await waitFor('row 4 on a', async () => (await noteOf(a, 4)) === 'after the rewind');

    // Assess: its own port and name survived pg_rewind copying the new primary's configuration files
    const [settings] = await a.query<{ port: string; cluster_name: string }>(
      "SELECT current_setting('port') AS port, current_setting('cluster_name') AS cluster_name",
    );
    assert.equal(settings?.port, String(a.config.port));
    assert.equal(settings?.cluster_name, 'a');
    const auto = parseConf(await readFile(join(a.config.dataDir, 'postgresql.auto.conf'), 'utf8'));
    const conninfo = parseConninfo(auto.get('primary_conninfo') ?? '');
    assert.equal(conninfo.port, String(next.config.port));
    assert.equal(conninfo.application_name, 'a');
    assert.ok((await stat(join(a.config.dataDir, 'standby.signal'))).isFile());
  });

  test('re-points the other running replica to the new primary without a restart', async () => {
    // Prepare
    await next.createSlot(other.name);
    const pid = await other.postmasterPid();

    // Act
    await other.follow(next.address(other.name));
    await waitFor('the other replica streaming from the new primary on timeline 2', () => streamsOn(other, next, 2));

    // Assess
    assert.ok(pid !== null);
    assert.equal(await other.postmasterPid(), pid, 'same postmaster: no restart');
    await waitFor('the new primary to list the other replica as streaming', () => streamingFrom(next, other.name));
    const status = await other.status();
    assert.equal(status.inRecovery, true);
    assert.equal(status.walReceiver?.senderPort, next.config.port);
    assert.equal(status.walReceiver?.slotName, other.name);
    assert.equal(status.timeline, 2);
    await next.query("INSERT INTO t VALUES (5, 'seen by the other replica')");
    await waitFor('row 5 on the other replica', async () => (await noteOf(other, 5)) === 'seen by the other replica');
    assert.equal(await noteOf(other, 2), undefined);
  });

  test('reports the same system identifier on every node after the failover', async () => {
    // Act
    const ids = await Promise.all([a, b, c].map(async (n) => (await n.status()).systemId));
    const control = await a.controldata();

    // Assess
    assert.equal(new Set(ids).size, 1);
    assert.equal(control.systemId, ids[0]);
  });
});
