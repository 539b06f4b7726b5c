import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { grant, member } from '../dcs/contract.js';
import { HEARTBEAT, label, LEADER_LSN, newCluster, openHarness, racingStore, run, seedCluster, type Harness } from './harness.js';

describe('pgfloat history', () => {
  let h: Harness;
  before(async () => {
    h = await openHarness();
  });
  after(async () => h.table.close());

  test('lists each leadership change with its cause and how long promotion and the endpoint move took', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    await h.store.recordHistoryStep(c, 1, 'promotedAt', HEARTBEAT + 400);
    await h.store.grantLeader(
      c,
      grant('b', { version: 2, term: 1 }, { previous: 'a', kind: 'switchover', lastLsn: LEADER_LSN, reason: 'switchover from a to b', grantedAt: HEARTBEAT + 60_000 }),
    );
    await h.store.recordHistoryStep(c, 2, 'promotedAt', HEARTBEAT + 60_800);
    await h.store.recordHistoryStep(c, 2, 'endpointMovedAt', HEARTBEAT + 61_250);
    // Act
    const r = await run(['history', label(c)], { store: h.store });
    const json = await run(['history', label(c), '--json'], { store: h.store });
    // Assess
    assert.equal(r.code, 0, r.stderr);
    const rows = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('|'))
      .map((l) =>
        l
          .split('|')
          .slice(1, -1)
          .map((x) => x.trim()),
      );
    assert.deepEqual(rows, [
      ['Term', 'Kind', 'From', 'To', 'Reason', 'LSN', 'Granted at', 'Promoted after (s)', 'Endpoint moved after (s)'],
      ['1', 'bootstrap', '', 'a', 'bootstrap: a initialized the cluster', '0/6400000', '2023-11-14T22:13:20.000Z', '0.4', ''],
      ['2', 'switchover', 'a', 'b', 'switchover from a to b', '0/6400000', '2023-11-14T22:14:20.000Z', '0.8', '1.3'],
    ]);
    const docs = JSON.parse(json.stdout) as Record<string, unknown>[];
    assert.deepEqual(docs[1], {
      term: 2,
      kind: 'switchover',
      from: 'a',
      to: 'b',
      reason: 'switchover from a to b',
      lsn: LEADER_LSN,
      lsnText: '0/6400000',
      timeline: 1,
      grantedAt: '2023-11-14T22:14:20.000Z',
      promotedAt: '2023-11-14T22:14:20.800Z',
      endpointMovedAt: '2023-11-14T22:14:21.250Z',
      promotedAfterSeconds: 0.8,
      endpointMovedAfterSeconds: 1.25,
    });
  });
});

describe('pgfloat remove', () => {
  let h: Harness;
  before(async () => {
    h = await openHarness();
  });
  after(async () => h.table.close());

  test('refuses to remove the leader and removes nothing', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    // Act
    const r = await run(['remove', label(c), 'a', '--force'], { store: h.store });
    // Assess
    assert.equal(r.code, 1);
    assert.match(r.stderr, /remove a refused: a is the leader \(term 1\): switch over to another member first; nothing written/);
    assert.deepEqual(
      (await h.store.readCluster(c)).members.map((m) => m.name),
      ['a', 'b', 'c'],
    );
  });

  test('removes a replica after confirmation, warning that its heartbeat is fresh', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    const asked: string[] = [];
    // Act
    const r = await run(['remove', 'c', '--cluster', label(c)], {
      store: h.store,
      confirm: async (q) => {
        asked.push(q);
        return true;
      },
    });
    // Assess
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `Member c removed from ${label(c)}\n`);
    assert.match(asked[0] ?? '', /^Remove member c \(replica, running\) from .*\? Its heartbeat is 1\.0 s old: if its agent still runs, it registers again; stop it first\.$/);
    assert.deepEqual(
      (await h.store.readCluster(c)).members.map((m) => m.name),
      ['a', 'b'],
    );
  });

  test('asks on the terminal when stdin is one, and removes on "y"', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    const stdin = {
      isTTY: true,
      async *[Symbol.asyncIterator]() {
        yield Buffer.from('y\n');
      },
    };
    // Act
    const r = await run(['remove', label(c), 'b'], { store: h.store, stdin });
    // Assess
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^Remove member b \(replica, running\) from .*\? .*\[y\/N\]: $/);
    assert.deepEqual(
      (await h.store.readCluster(c)).members.map((m) => m.name),
      ['a', 'c'],
    );
  });

  test('refuses an unknown member', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    // Act
    const r = await run(['remove', label(c), 'zed', '--force'], { store: h.store });
    // Assess
    assert.equal(r.code, 1);
    assert.match(r.stderr, /remove zed refused: zed is not a member of/);
  });

  test('does not remove a member that heartbeats between the read and the delete', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    const store = racingStore(h.store, async () => {
      await h.store.heartbeat(c, member('c', { lsn: LEADER_LSN }), 1);
    });
    // Act
    const r = await run(['remove', label(c), 'c', '--force'], { store });
    // Assess
    assert.equal(r.code, 1);
    assert.match(r.stderr, /remove c not done: it heartbeated meanwhile \(version 2\): its agent runs; stop its agent and run again/);
    assert.equal((await h.store.readCluster(c)).members.find((m) => m.name === 'c')?.version, 2);
  });

  test('needs the member name: a usage error', async () => {
    // Prepare
    const c = newCluster();
    // Act
    const r = await run(['remove', '--cluster', label(c)], { store: h.store });
    // Assess
    assert.equal(r.code, 2);
    assert.match(r.stderr, /remove needs member/);
  });
});
