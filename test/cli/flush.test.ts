import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { FailoverRequest } from '../../lib/dcs/items.js';
import { clusterPk, SK } from '../../lib/dcs/keys.js';
import { label, newCluster, NOW, openHarness, racingStore, run, seedCluster, type Harness } from './harness.js';

const SCHEDULED: FailoverRequest = {
  kind: 'switchover',
  from: 'a',
  to: 'b',
  scheduledAt: Date.parse('2023-11-15T00:00:00Z'),
  requestedAt: NOW - 60_000,
  requestedBy: 'bob@ops',
};

describe('pgfloat flush switchover', () => {
  let h: Harness;
  before(async () => {
    h = await openHarness();
  });
  after(async () => h.table.close());

  test('cancels a scheduled switchover after confirmation, with CAS on the version read', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    await h.store.setFailover(c, SCHEDULED, null);
    const asked: string[] = [];
    // Act
    const r = await run(['flush', label(c), 'switchover'], {
      store: h.store,
      confirm: async (q) => {
        asked.push(q);
        return true;
      },
    });
    // Assess
    assert.equal(r.code, 0, r.stderr);
    const request = 'switchover from a to b scheduled at 2023-11-15T00:00:00.000Z requested by bob@ops at 2023-11-14T22:12:21.000Z';
    assert.deepEqual(asked, [`Cancel ${request} of ${label(c)}?`]);
    assert.equal(r.stdout, `Success: cancelled ${request} of ${label(c)}\n`);
    assert.equal((await h.store.readCluster(c)).failover, null);
  });

  test('--force cancels a pending failover without asking; --json says what was flushed', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    await h.store.setFailover(c, { kind: 'failover', to: 'b', requestedAt: NOW, requestedBy: 'bob@ops' }, null);
    // Act
    const r = await run(['flush', label(c), 'switchover', '--force', '--json'], {
      store: h.store,
      confirm: async () => assert.fail('--force must not ask'),
    });
    // Assess
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { flushed: true, version: 1 });
    assert.equal((await h.store.readCluster(c)).failover, null);
  });

  test('with nothing pending it says so, exits 0 and writes nothing', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    const before = await h.store.readCluster(c);
    // Act
    const r = await run(['flush', label(c), 'switchover'], { store: h.store, confirm: async () => assert.fail('nothing to confirm') });
    const json = await run(['flush', label(c), 'switchover', '--json'], { store: h.store });
    // Assess
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `No switchover or failover pending for ${label(c)}\n`);
    assert.deepEqual(JSON.parse(json.stdout), { flushed: false });
    assert.deepEqual(await h.store.readCluster(c), before);
  });

  test('a request replaced while the operator decided is not cancelled: exit 1, the new request stays', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    await h.store.setFailover(c, SCHEDULED, null);
    const replacement: FailoverRequest = { ...SCHEDULED, to: 'c', requestedBy: 'carol@ops' };
    const store = racingStore(h.store, async () => {
      await h.store.setFailover(c, replacement, 1);
    });
    // Act
    const r = await run(['flush', label(c), 'switchover', '--force'], { store });
    // Assess
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^pgfloat: flush switchover not done: the request item changed while you decided \(now: switchover from a to c .* requested by carol@ops .*, version 2\); run again\n$/);
    assert.deepEqual((await h.store.readCluster(c)).failover, { request: replacement, version: 2 });
  });

  test('declining the confirmation writes nothing: exit 1', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    await h.store.setFailover(c, SCHEDULED, null);
    // Act
    const r = await run(['flush', label(c), 'switchover'], { store: h.store, confirm: async () => false });
    // Assess
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'pgfloat: Aborted: nothing written\n');
    assert.deepEqual((await h.store.readCluster(c)).failover, { request: SCHEDULED, version: 1 });
  });

  test('warns that a handover under way finishes even when its request is cancelled', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    const { scheduledAt: _, ...now } = SCHEDULED;
    await h.store.setFailover(c, now, null);
    const begun = await h.store.beginHandover(c, { expected: { version: 2, term: 1 }, candidate: 'b' });
    assert.ok(begun.ok);
    const asked: string[] = [];
    // Act
    const r = await run(['flush', label(c), 'switchover'], {
      store: h.store,
      confirm: async (q) => {
        asked.push(q);
        return true;
      },
    });
    // Assess
    assert.equal(r.code, 0, r.stderr);
    assert.match(asked[0] ?? '', / A handover from a to b is under way \(phase handover\): it finishes whatever the request\.$/);
  });

  test('a malformed request item is deleted by the version it carries', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    const item = { pk: clusterPk(c), sk: SK.failover, request: { kind: 'teleport', requestedAt: NOW }, version: 4 };
    await h.table.client.send(new PutItemCommand({ TableName: h.table.tableName, Item: marshall(item) }));
    // Act
    const r = await run(['flush', label(c), 'switchover', '--force'], { store: h.store });
    // Assess
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Success: cancelled a malformed request \(field request\.kind: .*\) of /);
    const after = await h.store.readCluster(c);
    assert.equal(after.failover, null);
    assert.deepEqual(after.malformed, []);
  });

  test('a target other than switchover or restart is a usage error listing them: exit 2, nothing written', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    await h.store.setFailover(c, SCHEDULED, null);
    // Act
    const restart = await run(['flush', label(c), 'everything', '--force'], { store: h.store });
    const none = await run(['flush', label(c), '--force'], { store: h.store, env: { PGFLOAT_CLUSTER: label(c) } });
    // Assess
    assert.equal(restart.code, 2);
    assert.match(restart.stderr, /^pgfloat: flush everything: the targets are switchover and restart, e.g. pgfloat flush pgfloat\/orders switchover\n\nUsage: pgfloat flush/);
    assert.equal(none.code, 2);
    assert.match(none.stderr, new RegExp(`^pgfloat: flush ${label(c)}: the targets are switchover and restart`));
    assert.deepEqual((await h.store.readCluster(c)).failover, { request: SCHEDULED, version: 1 });
  });
});
