// The slot keeper on one real server: a slot a WAL receiver streams through
// cannot be dropped (SlotInUseError) and the keeper keeps it, even when its
// listing said the slot was idle; an idle slot of no member is dropped, a
// slot pgfloat did not name is left alone.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, chown } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SlotKeeper } from '../../lib/agent/slot-keeper.js';
import { SlotInUseError } from '../../lib/postgres/errors.js';
import type { PostgresNode } from '../../lib/postgres/node.js';
import { isRoot, lookupOsUser } from '../../lib/postgres/os-user.js';
import { primary, snapshot } from '../ha/fixtures.js';
import { TestCluster, waitFor } from './fixture.js';

describe('slot keeper on a real primary', () => {
  let cluster: TestCluster;
  let a: PostgresNode;
  let receiver: ChildProcess | undefined;

  before(async () => {
    cluster = await TestCluster.create();
    a = await cluster.node('a');
    await a.initdb({ noSync: true });
    await a.start();
    for (const name of ['pgfloat_streamed', 'pgfloat_idle', 'barman']) await a.createSlot(name);
    // A WAL receiver makes pgfloat_streamed active, as a replica would.
    const dir = join(cluster.dir, 'wal');
    await mkdir(dir);
    const user = isRoot() ? await lookupOsUser(a.config.osUser) : null;
    if (user !== null) await chown(dir, user.uid, user.gid);
    const bin = join(a.config.binDir, 'pg_receivewal');
    const args = ['-h', '127.0.0.1', '-p', String(a.config.port), '-U', 'postgres', '-S', 'pgfloat_streamed', '-D', dir, '--no-loop', '-w'];
    receiver = spawn(bin, args, { stdio: 'ignore', ...(user !== null ? { uid: user.uid, gid: user.gid } : {}) });
    await waitFor('pgfloat_streamed active', async () => (await a.listSlots()).find((s) => s.name === 'pgfloat_streamed')?.active === true);
  });

  after(async () => {
    receiver?.kill('SIGTERM');
    await cluster.cleanup();
  });

  test('dropSlot refuses a slot in use with SlotInUseError', async () => {
    await assert.rejects(a.dropSlot('pgfloat_streamed'), (e: unknown) => e instanceof SlotInUseError && e.slot === 'pgfloat_streamed');
  });

  test('the keeper drops the idle slot of no member, keeps the streamed one it tried to drop and the foreign one', async () => {
    // Prepare: a listing that shows every slot idle, as one taken just before a replica connected
    const warnings: string[] = [];
    const infos: string[] = [];
    const stale = {
      listSlots: async () => (await a.listSlots()).map((s) => ({ ...s, active: false })),
      createSlot: (n: string) => a.createSlot(n),
      dropSlot: (n: string) => a.dropSlot(n),
      advanceSlot: (n: string, lsn: number) => a.advanceSlot(n, lsn),
    };
    const keeper = new SlotKeeper(stale, 'a', { info: (m) => infos.push(m), warn: (m) => warnings.push(m) }, () => ({ ttl: 1, loopWait: 0, slotGracePeriod: 1 }));
    const snap = snapshot({ members: [primary('a')] });
    const o = { snapshot: snap, primary: true, holder: true, membersSeen: {} };

    // Act: the first sync lists the slots, the second comes past the grace period
    await keeper.sync({ ...o, now: 0 });
    const afterFirst = (await a.listSlots()).map((s) => s.name);
    await keeper.sync({ ...o, now: 5_000 });

    // Assess
    assert.deepEqual(afterFirst, ['barman', 'pgfloat_idle', 'pgfloat_streamed'], 'nothing dropped within the grace period');
    const slots = await a.listSlots();
    assert.deepEqual(slots.map((s) => [s.name, s.active]), [['barman', false], ['pgfloat_streamed', true]]);
    assert.ok(warnings.some((w) => /^replication slot pgfloat_streamed kept: replication slot pgfloat_streamed on node a is in use/.test(w)), warnings.join('\n'));
    assert.ok(infos.some((m) => /^dropping replication slot pgfloat_idle \(no-member\): /.test(m)), infos.join('\n'));
    assert.ok(infos.some((m) => /^replication slot barman kept \(foreign\): /.test(m)), infos.join('\n'));
    const retained = keeper.retainedBytes();
    assert.ok(retained !== null && Number.isInteger(retained) && retained >= 0);
  });

  test('the keeper does nothing on a node that does not hold the lease, and reports no retention off a primary', async () => {
    // Prepare
    const calls: string[] = [];
    const spy = {
      listSlots: () => {
        calls.push('list');
        return a.listSlots();
      },
      createSlot: (n: string) => a.createSlot(n),
      dropSlot: (n: string) => a.dropSlot(n),
      advanceSlot: (n: string, lsn: number) => a.advanceSlot(n, lsn),
    };
    const keeper = new SlotKeeper(spy, 'a', { info: () => undefined, warn: () => undefined }, () => ({ ttl: 1, loopWait: 0, slotGracePeriod: 1 }));
    const snap = snapshot({ members: [primary('a')] });

    // Act
    await keeper.sync({ snapshot: snap, primary: true, holder: false, membersSeen: {}, now: 0 });
    await keeper.sync({ snapshot: null, primary: true, holder: true, membersSeen: {}, now: 1 });
    await keeper.sync({ snapshot: snap, primary: true, holder: true, membersSeen: {}, now: 2 });
    const asPrimary = keeper.retainedBytes();
    await keeper.sync({ snapshot: snap, primary: false, holder: true, membersSeen: {}, now: 3 });

    // Assess
    assert.deepEqual(calls, ['list']);
    assert.ok(asPrimary !== null);
    assert.equal(keeper.retainedBytes(), null);
  });
});
