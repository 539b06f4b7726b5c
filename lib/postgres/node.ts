// One local PostgreSQL 15 node: the mechanisms an agent needs (initdb, start,
// stop, promote, follow, clone, rewind, slots, synchronous standbys, status),
// and no decisions about when to use them.
// Invariants:
// - every external command has a deadline and runs as the PostgreSQL OS user
//   when this process is root; every file written belongs to that user;
// - after initdb, clone and rewind, the node's own settings (port, addresses,
//   socket directory, cluster_name, replication settings, parameters) and
//   pg_hba.conf are this node's, whatever the copied files said;
// - a follower always has standby.signal before it can start.
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { withSession, type Session, type SessionOptions } from './client.js';
import { binary, resolveNodeConfig, type PgNodeConfig, type PgNodeOptions } from './config.js';
import { readControlData, type ControlData } from './controldata.js';
import {
  dropCopiedAutoConf,
  editAutoConf,
  emptyDir,
  fileTail,
  isEmptyDir,
  processExists,
  readPostmasterPid,
  writeNodeFiles,
  writeStandbySignal,
} from './data-dir.js';
import {
  CommandFailedError,
  DataDirNotEmptyError,
  NotInRecoveryError,
  NotRunningError,
  PostgresError,
  PromoteError,
  ServerStartError,
  StillRunningError,
  SystemIdMismatchError,
} from './errors.js';
import { runCommand, type RunResult } from './exec.js';
import { targetEndsAtFork } from './rewind-output.js';
import { ensureDir, ensureOwnedDir, ensureOwnedFile, runAsFor, writeOwnedFile, type OsUser } from './os-user.js';
import { buildConninfo, quoteIdent, quoteLiteral } from './quote.js';
import { advanceSlot, assertSlotName, createPhysicalSlot, dropSlot, listSlots, type SlotInfo } from './slots.js';
import { formatLsn } from './lsn.js';
import { queryReplication, queryStatus, type NodeStatus, type ReplicationRow } from './status.js';
import { formatSyncStandbys, parseSyncStandbys, type SyncStandbys } from './sync-standbys.js';
import type { ClusterParameters } from './settings.js';

/** A server to stream from, clone from or rewind against. */
export interface Upstream {
  readonly host: string;
  readonly port: number;
  /** Slot on the upstream this node streams through; null or absent for none. */
  readonly slotName?: string | null;
}

export type StopMode = 'smart' | 'fast' | 'immediate';

export interface PromoteResult {
  /** The server was not in recovery: nothing was done. */
  readonly alreadyPrimary: boolean;
  /** From the request to the server leaving recovery (accepting writes). */
  readonly durationMs: number;
}

export interface RewindResult {
  /** False when pg_rewind found nothing to do (same timeline, no divergence). */
  readonly rewound: boolean;
  readonly durationMs: number;
}

export interface CopyOptions {
  /** Skip fsync of the copied files (tests only: a crash may leave them corrupt). */
  readonly noSync?: boolean;
}

/** How often promote() and setting changes look for their effect. */
const POLL_MS = 10;

export class PostgresNode {
  readonly config: PgNodeConfig;
  #runAs: Promise<OsUser | null> | undefined;
  /** Cluster-wide parameters (already checked) written into every rewrite of the managed block. */
  #cluster: ClusterParameters = {};

  constructor(options: PgNodeOptions) {
    this.config = resolveNodeConfig(options);
  }

  get name(): string {
    return this.config.name;
  }

  /** How others reach this node. */
  address(slotName: string | null = null): Upstream {
    return { host: this.config.connectHost, port: this.config.port, slotName };
  }

  /** primary_conninfo for streaming from `upstream` as this node (application_name = node name). */
  primaryConninfo(upstream: Upstream): string {
    const { auth, timeouts, name } = this.config;
    return buildConninfo({
      host: upstream.host,
      port: upstream.port,
      user: auth.replicationUser,
      password: auth.replicationPassword,
      application_name: name,
      connect_timeout: Math.max(2, Math.ceil(timeouts.connectMs / 1000)),
    });
  }

  // ---- processes -------------------------------------------------------

  /** Creates the data directory with data checksums, then writes the node's settings and pg_hba.conf. */
  async initdb(options: CopyOptions = {}): Promise<void> {
    const { config } = this;
    if (!(await isEmptyDir(config.dataDir))) throw new DataDirNotEmptyError(config.dataDir);
    const owner = await this.runAs();
    await ensureOwnedDir(config.dataDir, owner, 0o700);
    const args = [
      '-D', config.dataDir,
      '-U', config.auth.superuser,
      '--data-checksums',
      `--encoding=${config.encoding}`,
      `--locale=${config.locale}`,
      `--auth-local=${config.auth.localAuthMethod}`,
      `--auth-host=${config.auth.hostAuthMethod}`,
    ];
    if (options.noSync) args.push('--no-sync');
    let pwfile: string | null = null;
    if (config.auth.superuserPassword !== null) {
      pwfile = `${config.dataDir.replace(/\/+$/, '')}.pwfile`;
      await writeOwnedFile(pwfile, `${config.auth.superuserPassword}\n`, owner);
      args.push(`--pwfile=${pwfile}`);
    }
    try {
      await this.run('initdb', args, config.timeouts.initdbMs);
    } finally {
      if (pwfile) await rm(pwfile, { force: true });
    }
    await writeNodeFiles(config, owner, this.#cluster);
  }

  /** Rewrites the node's block of postgresql.conf and pg_hba.conf (effective at the next start or reload). */
  async writeSettings(): Promise<void> {
    await writeNodeFiles(this.config, await this.runAs(), this.#cluster);
  }

  /**
   * Makes `cluster` the cluster-wide parameters of this node: rewrites the
   * managed block and, when it changed and the server runs, reloads. A
   * postmaster-context change then shows in status().pendingRestart until a
   * restart applies it. True when the block changed.
   */
  async applyClusterParameters(cluster: ClusterParameters): Promise<boolean> {
    this.#cluster = { ...cluster };
    // Only a complete data directory is written to; initdb, clone and rewind write the block themselves.
    if (!existsSync(join(this.config.dataDir, 'PG_VERSION')) || !existsSync(join(this.config.dataDir, 'postgresql.conf'))) return false;
    const changed = await writeNodeFiles(this.config, await this.runAs(), this.#cluster);
    if (changed && (await this.isRunning())) await this.query('SELECT pg_reload_conf()');
    return changed;
  }

  /** Whether a postmaster runs on this data directory. */
  async isRunning(): Promise<boolean> {
    const pid = await readPostmasterPid(this.config.dataDir);
    return pid !== null && processExists(pid);
  }

  /** The running postmaster's process id, or null. */
  async postmasterPid(): Promise<number | null> {
    const pid = await readPostmasterPid(this.config.dataDir);
    return pid !== null && processExists(pid) ? pid : null;
  }

  /** Starts the server and waits until it accepts connections; does nothing if it runs. */
  async start(): Promise<void> {
    const { config } = this;
    if (await this.isRunning()) return;
    const owner = await this.runAs();
    await ensureDir(config.socketDir, owner, 0o755);
    await ensureOwnedFile(config.logFile, owner);
    const seconds = Math.max(1, Math.ceil(config.timeouts.startMs / 1000));
    try {
      await this.run('pg_ctl', ['start', '-D', config.dataDir, '-l', config.logFile, '-w', '-t', String(seconds)], config.timeouts.startMs + 5_000);
    } catch (error) {
      throw new ServerStartError(config.name, config.logFile, await fileTail(config.logFile, 3_000), error);
    }
  }

  /** Stops the server and waits until it is gone; does nothing if it is stopped. */
  async stop(mode: StopMode = 'fast'): Promise<void> {
    const { config } = this;
    if (!(await this.isRunning())) return;
    const seconds = Math.max(1, Math.ceil(config.timeouts.stopMs / 1000));
    try {
      await this.run('pg_ctl', ['stop', '-D', config.dataDir, '-m', mode, '-w', '-t', String(seconds)], config.timeouts.stopMs + 5_000);
    } catch (error) {
      if (await this.isRunning()) throw error;
    }
  }

  async restart(mode: StopMode = 'fast'): Promise<void> {
    await this.stop(mode);
    await this.start();
  }

  /** Re-reads the configuration files (pg_reload_conf()). */
  async reload(): Promise<void> {
    await this.requireRunning('reload');
    await this.query('SELECT pg_reload_conf()');
  }

  /** Ends recovery and waits until the server accepts writes; does nothing on a primary. */
  async promote(): Promise<PromoteResult> {
    await this.requireRunning('promote');
    const started = performance.now();
    const deadline = started + this.config.timeouts.promoteMs;
    return this.withSession(async (session) => {
      if (!(await inRecovery(session))) return { alreadyPrimary: true, durationMs: performance.now() - started };
      // pg_promote(true) polls every 100 ms; asking without waiting and polling here is faster.
      await session.query('SELECT pg_promote(false)');
      while (await inRecovery(session)) {
        if (performance.now() > deadline) {
          throw new PromoteError(`node ${this.name} was asked to promote but is still in recovery after ${this.config.timeouts.promoteMs} ms (fix: read ${this.config.logFile})`);
        }
        await sleep(POLL_MS);
      }
      return { alreadyPrimary: false, durationMs: performance.now() - started };
    });
  }

  async checkpoint(): Promise<void> {
    await this.query('CHECKPOINT');
  }

  // ---- replication -----------------------------------------------------

  /**
   * Makes this node follow `upstream`. Running (it must be a replica): ALTER
   * SYSTEM + pg_reload_conf(), which PostgreSQL 15 applies without a
   * restart; returns once new sessions see the new primary_conninfo.
   * Stopped: writes postgresql.auto.conf and standby.signal.
   */
  async follow(upstream: Upstream, options: { expectedSystemId?: string } = {}): Promise<void> {
    const slot = upstream.slotName ?? null;
    if (slot !== null) assertSlotName(slot);
    const conninfo = this.primaryConninfo(upstream);
    if (await this.isRunning()) {
      await this.withSession(async (session) => {
        const [row] = await session.query<{ in_recovery: boolean; system_id: string }>(
          'SELECT pg_is_in_recovery() AS in_recovery, (SELECT system_identifier::text FROM pg_control_system()) AS system_id',
        );
        if (options.expectedSystemId !== undefined && row?.system_id !== options.expectedSystemId) {
          throw new SystemIdMismatchError(`node ${this.name}`, options.expectedSystemId, row?.system_id ?? '(none)');
        }
        if (!row?.in_recovery) throw new NotInRecoveryError(this.name, `follow ${upstream.host}:${upstream.port}`);
        await this.alterSystem(session, { primary_conninfo: conninfo, primary_slot_name: slot ?? '' });
      });
      return;
    }
    if (options.expectedSystemId !== undefined) await this.checkSystemId(options.expectedSystemId);
    await this.writeFollowFiles(conninfo, slot);
  }

  /**
   * Fills the (empty) data directory with a base backup of `source`
   * (pg_basebackup -X stream, fast checkpoint) and makes it a follower of
   * `source`. With createSlot, the slot is first created on the source if
   * missing, so a retried clone does not fail on an existing slot.
   */
  async clone(source: Upstream & { readonly createSlot?: boolean }, options: CopyOptions & { expectedSystemId?: string } = {}): Promise<void> {
    const { config } = this;
    if (await this.isRunning()) throw new StillRunningError(config.name, 'clone');
    if (!(await isEmptyDir(config.dataDir))) throw new DataDirNotEmptyError(config.dataDir);
    const slot = source.slotName ?? null;
    if (slot !== null) assertSlotName(slot);
    if (slot !== null && source.createSlot) {
      await withSession(this.sessionOptions(source), (session) => createPhysicalSlot(session, slot));
    }
    const owner = await this.runAs();
    await ensureOwnedDir(config.dataDir, owner, 0o700);
    const args = [
      '-D', config.dataDir,
      '-h', source.host,
      '-p', String(source.port),
      '-U', config.auth.replicationUser,
      '--no-password',
      '--wal-method=stream',
      '--checkpoint=fast',
    ];
    if (slot !== null) args.push(`--slot=${slot}`);
    if (options.noSync) args.push('--no-sync');
    await this.run('pg_basebackup', args, config.timeouts.basebackupMs, this.passwordEnv(config.auth.replicationPassword));
    await writeNodeFiles(config, owner, this.#cluster);
    await dropCopiedAutoConf(config, owner, this.#cluster);
    await this.writeFollowFiles(this.primaryConninfo(source), slot);
    if (options.expectedSystemId !== undefined) await this.checkSystemId(options.expectedSystemId);
  }

  /**
   * Rewinds this stopped node onto `source`'s timeline (pg_rewind
   * --source-server) and makes it a follower of `source`. Runs CHECKPOINT on
   * the source first: right after a promotion its control file still shows
   * the old timeline, and pg_rewind would wrongly answer "no rewind required".
   */
  async rewind(source: Upstream, options: CopyOptions = {}): Promise<RewindResult> {
    const { config } = this;
    const started = performance.now();
    if (await this.isRunning()) throw new StillRunningError(config.name, 'rewind');
    const slot = source.slotName ?? null;
    if (slot !== null) assertSlotName(slot);
    const own = await this.controldata();
    const sourceOptions = { ...this.sessionOptions(source), statementTimeoutMs: config.timeouts.rewindMs };
    const sourceSystemId = await withSession(sourceOptions, async (session) => {
      await session.query('CHECKPOINT');
      const [row] = await session.query<{ system_id: string }>('SELECT system_identifier::text AS system_id FROM pg_control_system()');
      return row?.system_id ?? '(none)';
    });
    if (sourceSystemId !== own.systemId) {
      throw new SystemIdMismatchError(`rewind source ${source.host}:${source.port}`, own.systemId, sourceSystemId);
    }
    const sourceServer = buildConninfo({
      host: source.host,
      port: source.port,
      user: config.auth.superuser,
      dbname: 'postgres',
      connect_timeout: Math.max(2, Math.ceil(config.timeouts.connectMs / 1000)),
    });
    const args = ['-D', config.dataDir, `--source-server=${sourceServer}`];
    if (options.noSync) args.push('--no-sync');
    let output: string;
    try {
      const result = await this.run('pg_rewind', args, config.timeouts.rewindMs, this.passwordEnv(config.auth.superuserPassword));
      output = `${result.stdout}\n${result.stderr}`;
    } catch (err) {
      if (!(err instanceof CommandFailedError && targetEndsAtFork(`${err.stdout}\n${err.stderr}`))) throw err;
      output = 'no rewind required: the target WAL ends at the fork point';
    }
    const owner = await this.runAs();
    await writeNodeFiles(config, owner, this.#cluster);
    await dropCopiedAutoConf(config, owner, this.#cluster);
    await this.writeFollowFiles(this.primaryConninfo(source), slot);
    const rewound = !/no rewind required/.test(output);
    return { rewound, durationMs: performance.now() - started };
  }

  /**
   * Re-creates this node from `source`: only once `source` answers and is of
   * `expectedSystemId` (and of this data directory's own system, when it has
   * one) does it stop the server and empty the data directory; then it clones
   * (clone()) and starts a standby. A source that cannot be checked leaves
   * everything as it was.
   */
  async reinit(source: Upstream & { readonly createSlot?: boolean }, options: CopyOptions & { expectedSystemId?: string } = {}): Promise<void> {
    const { config } = this;
    const sourceSystemId = await withSession(this.sessionOptions(source), async (session) => {
      const [row] = await session.query<{ system_id: string }>('SELECT system_identifier::text AS system_id FROM pg_control_system()');
      return row?.system_id ?? '(none)';
    });
    if (options.expectedSystemId !== undefined && sourceSystemId !== options.expectedSystemId) {
      throw new SystemIdMismatchError(`reinit source ${source.host}:${source.port}`, options.expectedSystemId, sourceSystemId);
    }
    if (existsSync(join(config.dataDir, 'global', 'pg_control'))) {
      const own = await this.controldata();
      if (own.systemId !== sourceSystemId) throw new SystemIdMismatchError(`reinit source ${source.host}:${source.port}`, own.systemId, sourceSystemId);
    }
    await this.stop('fast');
    if (await this.isRunning()) throw new StillRunningError(config.name, 'reinit');
    await emptyDir(config.dataDir);
    await this.clone(source, options);
    await writeStandbySignal(config.dataDir, await this.runAs());
    await this.start();
  }

  /** Creates a physical slot on this node (reserving WAL now); false when it existed. */
  async createSlot(name: string): Promise<boolean> {
    return this.withSession((session) => createPhysicalSlot(session, name));
  }

  /** Drops a slot; false when there was none; SlotInUseError while a replica streams through it. */
  async dropSlot(name: string): Promise<boolean> {
    return this.withSession((session) => dropSlot(session, this.name, name));
  }

  /** Advances a slot to `lsn` (a byte position); a standby may do this to its own copies. */
  async advanceSlot(name: string, lsn: number): Promise<void> {
    await this.withSession((session) => advanceSlot(session, name, formatLsn(lsn)));
  }

  async listSlots(): Promise<SlotInfo[]> {
    return this.withSession(listSlots);
  }

  /** Creates or updates the replication role (LOGIN REPLICATION, password when configured). */
  async ensureReplicationRole(): Promise<void> {
    const { replicationUser, replicationPassword, superuser } = this.config.auth;
    if (replicationUser === superuser) return;
    await this.withSession(async (session) => {
      const existing = await session.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [replicationUser]);
      const verb = existing.length === 0 ? 'CREATE' : 'ALTER';
      const password = replicationPassword === null ? '' : ` PASSWORD ${quoteLiteral(replicationPassword)}`;
      await session.query(`${verb} ROLE ${quoteIdent(replicationUser)} WITH LOGIN REPLICATION${password}`);
    });
  }

  async getSynchronousStandbys(): Promise<{ text: string; spec: SyncStandbys | null }> {
    const [row] = await this.query<{ value: string }>("SELECT current_setting('synchronous_standby_names') AS value");
    const text = row?.value ?? '';
    return { text, spec: parseSyncStandbys(text) };
  }

  /** Sets synchronous_standby_names (null: asynchronous); returns once new sessions see it. */
  async setSynchronousStandbys(spec: SyncStandbys | null): Promise<string> {
    const text = formatSyncStandbys(spec);
    await this.withSession((session) => this.alterSystem(session, { synchronous_standby_names: text }));
    return text;
  }

  // ---- status ----------------------------------------------------------

  async status(): Promise<NodeStatus> {
    return this.withSession(queryStatus);
  }

  /** pg_stat_replication: the replicas streaming from this node. */
  async replication(): Promise<ReplicationRow[]> {
    return this.withSession(queryReplication);
  }

  /** pg_controldata of the data directory (works while stopped). */
  async controldata(): Promise<ControlData> {
    return readControlData(this.config.binDir, this.config.dataDir, await this.runAs(), this.config.timeouts.commandMs);
  }

  // ---- sessions ----------------------------------------------------------

  /** Runs one statement as the superuser on this node. */
  async query<R extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]> {
    return this.withSession((session) => session.query<R>(sql, params));
  }

  /** Runs `work` in a superuser session on this node, closed afterwards. */
  async withSession<T>(work: (session: Session) => Promise<T>): Promise<T> {
    return withSession(this.sessionOptions(this.address()), work);
  }

  // ---- internals ---------------------------------------------------------

  private sessionOptions(target: Upstream): SessionOptions {
    const { auth, timeouts } = this.config;
    return {
      host: target.host,
      port: target.port,
      user: auth.superuser,
      password: auth.superuserPassword,
      connectTimeoutMs: timeouts.connectMs,
      statementTimeoutMs: timeouts.statementMs,
      applicationName: `pgfloat-${this.name}`,
    };
  }

  private runAs(): Promise<OsUser | null> {
    this.#runAs ??= runAsFor(this.config.osUser);
    return this.#runAs;
  }

  private async run(name: string, args: string[], timeoutMs: number, env?: Record<string, string>): Promise<RunResult> {
    return runCommand(binary(this.config, name), args, { timeoutMs, runAs: await this.runAs(), ...(env ? { env } : {}) });
  }

  private passwordEnv(password: string | null): Record<string, string> | undefined {
    return password === null ? undefined : { PGPASSWORD: password };
  }

  private async requireRunning(operation: string): Promise<void> {
    if (!(await this.isRunning())) throw new NotRunningError(this.name, operation);
  }

  private async checkSystemId(expected: string): Promise<void> {
    const { systemId } = await this.controldata();
    if (systemId !== expected) throw new SystemIdMismatchError(`data directory ${this.config.dataDir}`, expected, systemId);
  }

  private async writeFollowFiles(conninfo: string, slot: string | null): Promise<void> {
    const owner = await this.runAs();
    await editAutoConf(this.config.dataDir, { primary_conninfo: conninfo, primary_slot_name: slot }, owner);
    await writeStandbySignal(this.config.dataDir, owner);
  }

  /**
   * ALTER SYSTEM SET each setting, pg_reload_conf(), then wait until this
   * session sees every value: the postmaster signals sessions only after it
   * re-read the files, so new sessions see them too.
   */
  private async alterSystem(session: Session, settings: Readonly<Record<string, string>>): Promise<void> {
    for (const [name, value] of Object.entries(settings)) {
      await session.query(`ALTER SYSTEM SET ${name} = ${quoteLiteral(value)}`);
    }
    await session.query('SELECT pg_reload_conf()');
    const deadline = performance.now() + this.config.timeouts.reloadMs;
    for (;;) {
      const pending: string[] = [];
      for (const [name, value] of Object.entries(settings)) {
        const [row] = await session.query<{ value: string }>('SELECT current_setting($1) AS value', [name]);
        if (row?.value !== value) pending.push(name);
      }
      if (pending.length === 0) return;
      if (performance.now() > deadline) {
        throw new PostgresError(
          `node ${this.name}: ${pending.join(', ')} not in effect ${this.config.timeouts.reloadMs} ms after pg_reload_conf() (fix: read ${this.config.logFile} for a rejected value)`,
        );
      }
      await sleep(POLL_MS);
    }
  }
}

async function inRecovery(session: Session): Promise<boolean> {
  const [row] = await session.query<{ in_recovery: boolean }>('SELECT pg_is_in_recovery() AS in_recovery');
  return row?.in_recovery === true;
}
