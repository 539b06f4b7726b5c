// The fence keeper on a real PostgreSQL: past the deadline of the last arm it
// stops a writable postmaster, and keeps stopping one, whatever its agent
// does; it leaves a standby alone; it keeps its deadline when its agent goes;
// a second agent attaches to the same keeper; once disarmed and alone, it
// exits without touching PostgreSQL.
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FenceKeeper, FENCE_KEEPER_NAME } from '../../lib/agent/fence-keeper.js';
import { processIdentity } from '../../lib/local/cluster.js';
import { removeStandbySignal, writeStandbySignal } from '../../lib/postgres/data-dir.js';
import type { PostgresNode } from '../../lib/postgres/node.js';
import { runAsFor } from '../../lib/postgres/os-user.js';
import { TestCluster, waitFor } from '../postgres/fixture.js';

/** The keepers of dataDir now running, by pid. */
function keepers(dataDir: string): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .filter((pid) => processIdentity(pid)?.cmdline.includes(`${FENCE_KEEPER_NAME} ${dataDir} `) === true);
}

describe('fence keeper', () => {
  let cluster: TestCluster;
  let node: PostgresNode;
  let socketPath: string;
  const opened: FenceKeeper[] = [];
  const keeper = (): FenceKeeper => {
    const k = new FenceKeeper({ dataDir: node.config.dataDir, socketPath });
    opened.push(k);
    return k;
  };

  before(async () => {
    cluster = await TestCluster.create();
    node = await cluster.node('fk');
    await node.initdb({ noSync: true });
    socketPath = join(cluster.dir, 'fk.fence');
  });
  after(async () => {
    for (const k of opened) {
      await k.disarm().catch(() => undefined);
      k.close();
    }
    await waitFor('no keeper left', async () => (keepers(node.config.dataDir).length === 0 ? true : undefined), { timeoutMs: 30_000 }).catch(() => {
      for (const pid of keepers(node.config.dataDir)) process.kill(pid, 'SIGKILL');
    });
    rmSync(socketPath, { force: true });
    await cluster.cleanup();
  });

  test('past its deadline it stops a writable primary, and stops it again when it is started again', async () => {
    // Prepare
    await node.start();
    const k = keeper();
    await k.attach();

    // Act: a deadline already passed, as after a stalled agent's last renew
    await k.arm(performance.now() - 1);

    // Assess
    await waitFor('the primary stopped', async () => (!(await node.isRunning()) ? true : undefined), { timeoutMs: 30_000 });
    await node.start().catch(() => undefined);
    await waitFor('the restarted primary stopped again', async () => (!(await node.isRunning()) ? true : undefined), { timeoutMs: 30_000 });
    await k.disarm();
    k.close();
  });

  test('past its deadline it leaves a standby running', async () => {
    // Prepare
    await writeStandbySignal(node.config.dataDir, await runAsFor(node.config.osUser));
    await node.start();
    const k = keeper();

    // Act
    await k.arm(performance.now() - 1);
    await waitFor('the keeper has seen its deadline pass', async () => ((await k.status()) === 'fired' ? true : undefined), { timeoutMs: 30_000 });

    // Assess
    const [row] = await node.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
    assert.equal(row?.r, true);
    assert.equal(await node.isRunning(), true);
    await k.disarm();
    k.close();
    await node.stop('fast');
    await removeStandbySignal(node.config.dataDir);
  });

  test('it keeps its deadline when its agent goes away, then exits once it has fenced', async () => {
    // Prepare
    await node.start();
    const k = keeper();
    // Far enough ahead that the agent is surely gone before it passes, even on a busy machine.
    await k.arm(performance.now() + 2_000);
    const pids = keepers(node.config.dataDir);
    assert.equal(pids.length, 1);

    // Act: the agent disconnects (it died) before the deadline
    k.close();

    // Assess
    await waitFor('the primary stopped by the orphaned keeper', async () => (!(await node.isRunning()) ? true : undefined), { timeoutMs: 30_000 });
    await waitFor('the keeper gone once it has fenced', async () => (keepers(node.config.dataDir).length === 0 ? true : undefined), { timeoutMs: 30_000 });
  });

  test('a restarted agent attaches to the running keeper; disarmed and alone, the keeper exits and leaves PostgreSQL running', async () => {
    // Prepare
    await node.start();
    const first = keeper();
    await first.arm(performance.now() + 60_000);
    const [pid] = keepers(node.config.dataDir);

    // Act
    const second = keeper();
    await second.arm(performance.now() + 60_000);
    first.close();
    await second.disarm();
    second.close();

    // Assess
    assert.deepEqual(keepers(node.config.dataDir).filter((p) => p !== pid), [], 'no second keeper was started');
    await waitFor('the keeper gone', async () => (keepers(node.config.dataDir).length === 0 ? true : undefined), { timeoutMs: 30_000 });
    assert.equal(await node.isRunning(), true, 'a disarmed keeper never stops PostgreSQL');
    await node.stop('fast');
  });
});
