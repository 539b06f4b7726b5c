// Real PostgreSQL nodes for tests: each test file makes a scratch directory
// under /tmp (owned by the PostgreSQL user when the tests run as root),
// creates nodes on free loopback ports, and removes everything in `after`.
// Should the file end without `after` running, an exit hook still stops the
// servers it started (immediate mode).
import { spawnSync } from 'node:child_process';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type PgNodeOptions } from '../../lib/postgres/config.js';
import { PostgresNode } from '../../lib/postgres/node.js';
import { isRoot, lookupOsUser } from '../../lib/postgres/os-user.js';

import { freeLoopbackPort } from '../../lib/local/dynamodb-local.js';

export { freeLoopbackPort };

/**
 * Polls `probe` until it returns a value other than undefined/false. The bound
 * only stops a hung wait: it is far above anything measured here (replication
 * in milliseconds, a restart in a fraction of a second), so a busy machine
 * cannot hit it.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  { timeoutMs = 60_000, intervalMs = 20 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (performance.now() > deadline) {
      const why = last instanceof Error ? last.message : String(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${why})`);
    }
    await sleep(intervalMs);
  }
}

/** Timeouts short enough that a hung step fails the test quickly. */
const TEST_TIMEOUTS = {
  initdbMs: 30_000,
  startMs: 15_000,
  stopMs: 15_000,
  promoteMs: 10_000,
  basebackupMs: 30_000,
  rewindMs: 30_000,
  commandMs: 10_000,
  connectMs: 3_000,
  statementMs: 10_000,
  reloadMs: 5_000,
};

/** A scratch directory of nodes; `cleanup` stops them all and removes the directory. */
export class TestCluster {
  readonly nodes: PostgresNode[] = [];
  private readonly exitHook = (): void => this.stopAllNow();

  private constructor(readonly dir: string) {
    process.once('exit', this.exitHook);
  }

  static async create(): Promise<TestCluster> {
    // Short: socket paths must stay under 107 bytes.
    const dir = await mkdtemp('/tmp/pgf-');
    if (isRoot()) {
      const user = await lookupOsUser('postgres');
      await chown(dir, user.uid, user.gid);
    }
    return new TestCluster(dir);
  }

  /** A node (not yet initialized) named `name`, trusting loopback connections. */
  async node(name: string, overrides: Partial<PgNodeOptions> = {}): Promise<PostgresNode> {
    const taken = new Set(this.nodes.map((n) => n.config.port));
    let port = await freeLoopbackPort();
    for (let i = 0; i < 10 && taken.has(port); i++) port = await freeLoopbackPort();
    const node = new PostgresNode({
      name,
      dataDir: join(this.dir, name),
      socketDir: join(this.dir, `s-${name}`),
      port,
      auth: { hostAuthMethod: 'trust', localAuthMethod: 'trust', replicationUser: 'postgres' },
      // Small and quick: these servers hold a few rows.
      parameters: { shared_buffers: '16MB', max_connections: 30, fsync: false, wal_keep_size: '64MB' },
      timeouts: TEST_TIMEOUTS,
      ...overrides,
    });
    this.nodes.push(node);
    return node;
  }

  async cleanup(): Promise<void> {
    process.removeListener('exit', this.exitHook);
    await Promise.all(this.nodes.map((n) => n.stop('immediate').catch(() => undefined)));
    await rm(this.dir, { recursive: true, force: true });
  }

  /** Synchronous last resort: stops every node still running. */
  private stopAllNow(): void {
    for (const node of this.nodes) {
      const pg = join(node.config.binDir, 'pg_ctl');
      const user = isRoot() ? ['runuser', '-u', node.config.osUser, '--'] : [];
      const [command, ...args] = [...user, pg, 'stop', '-D', node.config.dataDir, '-m', 'immediate', '-w', '-t', '10'];
      if (command) spawnSync(command, args, { stdio: 'ignore', timeout: 15_000 });
    }
  }
}
