// One real node: initdb, start, stop, queries, controldata, and the errors
// of operations asked at the wrong time. Each test leaves the node running.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PostgresNode } from '../../lib/postgres/node.js';
import {
  ConnectionError,
  DataDirNotEmptyError,
  NotInRecoveryError,
  NotRunningError,
  QueryError,
  ServerStartError,
  StillRunningError,
  SystemIdMismatchError,
} from '../../lib/postgres/errors.js';
import { freeLoopbackPort, TestCluster, waitFor } from './fixture.js';

describe('a single PostgreSQL node', () => {
  let cluster: TestCluster;
  let node: PostgresNode;

  before(async () => {
    cluster = await TestCluster.create();
    node = await cluster.node('solo');
    await node.initdb({ noSync: true });
    await node.start();
  });

  after(async () => {
    await cluster.cleanup();
  });

  test('initializes with data checksums, starts, answers a query, and stops fast', async () => {
    // Prepare: a second data directory, for the whole cycle on its own
    const other = await cluster.node('cycle');

    // Act
    await other.initdb({ noSync: true });
    const stoppedBefore = await other.isRunning();
    await other.start();
    const runningAfterStart = await other.isRunning();
    const [checksums] = await other.query<{ data_checksums: string }>('SHOW data_checksums');
    const [sum] = await other.query<{ sum: number }>('SELECT 1 + 1 AS sum');
    await other.stop('fast');

    // Assess
    assert.equal(stoppedBefore, false);
    assert.equal(runningAfterStart, true);
    assert.equal(checksums?.data_checksums, 'on');
    assert.equal(sum?.sum, 2);
    assert.equal(await other.isRunning(), false);
    assert.equal((await other.controldata()).clusterState, 'shut down', 'a clean shutdown, not a crash');
  });

  test('writes the replication settings and node identity into postgresql.conf', async () => {
    // Act
    const rows = await node.query<{ name: string; setting: string; sourcefile: string | null }>(
      `SELECT name, setting, sourcefile FROM pg_settings
       WHERE name IN ('wal_level', 'wal_log_hints', 'hot_standby', 'max_wal_senders', 'port', 'cluster_name', 'listen_addresses', 'unix_socket_directories')`,
    );
    const byName = Object.fromEntries(rows.map((r) => [r.name, r]));

    // Assess
    assert.equal(byName.wal_level?.setting, 'replica');
    assert.equal(byName.wal_log_hints?.setting, 'on');
    assert.equal(byName.wal_log_hints?.sourcefile, join(node.config.dataDir, 'postgresql.conf'));
    assert.equal(byName.hot_standby?.setting, 'on');
    assert.equal(byName.port?.setting, String(node.config.port));
    assert.equal(byName.cluster_name?.setting, 'solo');
    assert.equal(byName.listen_addresses?.setting, '127.0.0.1');
    assert.equal(byName.unix_socket_directories?.setting, node.config.socketDir);
  });

  test('reads the same system identifier from pg_controldata as from pg_control_system()', async () => {
    // Act
    const control = await node.controldata();
    const [row] = await node.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()');
    const status = await node.status();

    // Assess
    assert.match(control.systemId, /^\d+$/);
    assert.equal(control.systemId, row?.id);
    assert.equal(status.systemId, control.systemId);
    assert.equal(control.clusterState, 'in production');
    assert.equal(control.dataChecksumVersion, 1);
  });

  test('reports a primary: not in recovery, timeline 1, a current LSN, no receiver', async () => {
    // Act
    const status = await node.status();

    // Assess
    assert.equal(status.inRecovery, false);
    assert.equal(status.timeline, 1);
    assert.ok(status.currentLsn !== null && status.currentLsn > 0);
    assert.ok(status.flushLsn !== null && status.flushLsn <= status.currentLsn);
    assert.equal(status.receivedLsn, null);
    assert.equal(status.replayedLsn, null);
    assert.equal(status.walReceiver, null);
  });

  test('treats start of a running node and stop of a stopped node as done', async () => {
    // Prepare
    const pid = await node.postmasterPid();

    // Act
    await node.start();
    const pidAfterStart = await node.postmasterPid();
    await node.stop('immediate');
    await node.stop('fast');
    const stopped = await node.isRunning();
    await node.start();

    // Assess
    assert.ok(pid !== null);
    assert.equal(pidAfterStart, pid);
    assert.equal(stopped, false);
    assert.equal(await node.isRunning(), true);
    assert.notEqual(await node.postmasterPid(), pid);
  });

  test('restarts with a new postmaster', async () => {
    // Prepare
    const before = await node.postmasterPid();

    // Act
    await node.restart('fast');

    // Assess
    const after = await node.postmasterPid();
    assert.ok(after !== null && after !== before);
    const [row] = await node.query<{ ok: number }>('SELECT 1 AS ok');
    assert.equal(row?.ok, 1);
  });

  test('fails to start with the server log in the error when the port is taken', async (t) => {
    // Prepare: the same data directory configured for a port someone else holds
    const port = await freeLoopbackPort();
    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
    t.after(() => squatter.close());
    const clash = new PostgresNode({ ...node.config, port });
    await node.stop('fast');
    await clash.writeSettings();
    t.after(async () => {
      await node.writeSettings();
      await node.start();
    });

    // Act
    const start = clash.start();

    // Assess
    await assert.rejects(start, (error: unknown) => {
      assert.ok(error instanceof ServerStartError);
      assert.match(error.message, /did not start/);
      assert.match(error.logTail, /could not bind IPv4 address "127\.0\.0\.1": Address already in use/);
      return true;
    });
    assert.equal(await node.isRunning(), false);
  });

  test('creates the replication role idempotently', async () => {
    // Prepare
    const withRole = new PostgresNode({ ...node.config, auth: { ...node.config.auth, replicationUser: 'streamer', replicationPassword: "pa'ss" } });

    // Act
    await withRole.ensureReplicationRole();
    await withRole.ensureReplicationRole();

    // Assess
    const rows = await node.query<{ rolreplication: boolean; rolcanlogin: boolean }>(
      "SELECT rolreplication, rolcanlogin FROM pg_roles WHERE rolname = 'streamer'",
    );
    assert.deepEqual(rows, [{ rolreplication: true, rolcanlogin: true }]);
  });

  test('reports SQL failures with their SQLSTATE and enforces statement_timeout', async () => {
    // Prepare
    const impatient = new PostgresNode({ ...node.config, timeouts: { ...node.config.timeouts, statementMs: 200 } });

    // Act
    const division = node.query('SELECT 1/0');
    const slow = impatient.query('SELECT pg_sleep(5)');

    // Assess: the server, not the client's own timer, cancelled the 5 s sleep
    await assert.rejects(division, (error: unknown) => error instanceof QueryError && error.code === '22012');
    await assert.rejects(slow, (error: unknown) => error instanceof QueryError && error.code === '57014' && /canceling statement due to statement timeout/.test(error.message));
  });

  test('refuses operations asked at the wrong time, naming the node and the fix', async () => {
    // Prepare
    const stopped = await cluster.node('never-started');

    // Act + Assess
    await assert.rejects(node.initdb(), DataDirNotEmptyError);
    await assert.rejects(node.clone(stopped.address()), StillRunningError);
    await assert.rejects(node.rewind(stopped.address()), (e: unknown) => e instanceof StillRunningError && /stop it first/.test(e.message));
    await assert.rejects(node.follow(stopped.address()), (e: unknown) => e instanceof NotInRecoveryError && /solo/.test(e.message));
    await assert.rejects(stopped.promote(), (e: unknown) => e instanceof NotRunningError && /never-started/.test(e.message));
    await assert.rejects(stopped.query('SELECT 1'), ConnectionError);
    assert.deepEqual((await node.promote()).alreadyPrimary, true);
  });

  test('logs beside the data directory, not inside it', async () => {
    // Act
    const log = await readFile(node.config.logFile, 'utf8');

    // Assess
    assert.equal(node.config.logFile, `${node.config.dataDir}.log`);
    assert.match(log, /database system is ready to accept connections/);
  });

  test('applies a changed setting on reload, without a restart', async (t) => {
    // Prepare
    const pid = await node.postmasterPid();
    const tuned = new PostgresNode({ ...node.config, parameters: { ...node.config.parameters, work_mem: '5MB' } });
    await tuned.writeSettings();
    t.after(() => node.writeSettings().then(() => node.reload()));

    // Act
    await node.reload();

    // Assess
    await waitFor('work_mem 5MB', async () => (await node.query<{ work_mem: string }>('SHOW work_mem'))[0]?.work_mem === '5MB');
    assert.equal(await node.postmasterPid(), pid);
  });

  test('refuses to rewind onto a server of another cluster', async () => {
    // Prepare: a separately initialized data directory has its own system identifier
    const stranger = await cluster.node('stranger');
    await stranger.initdb({ noSync: true });

    // Act
    const rewind = stranger.rewind(node.address());

    // Assess
    await assert.rejects(rewind, (e: unknown) => e instanceof SystemIdMismatchError && /rewind source/.test(e.message));
  });
});
