// A real pgfloat cluster on this machine: DynamoDB Local, N PostgreSQL nodes
// each with its agent process, the arbiter, and a local endpoint proxy.
// Used by `npm start` and by the end-to-end tests.
//
// Invariant: every process it starts is stopped by stop(), and a later
// start() on the same base directory first kills what a crashed run left.
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { ClusterConfig } from '../dcs/items.js';
import type { ClusterId } from '../dcs/keys.js';
import { processExists } from '../postgres/data-dir.js';
import { freeLoopbackPort } from './dynamodb-local.js';

export interface LocalNodeSpec {
  readonly name: string;
  readonly pgPort: number;
  readonly apiPort: number;
  readonly dataDir: string;
  readonly configPath: string;
  readonly logPath: string;
}

export interface LocalClusterOptions {
  readonly baseDir: string;
  readonly cluster: ClusterId;
  readonly nodes: number;
  readonly dynamoEndpoint: string;
  /** A per-node store endpoint (a proxy in front of DynamoDB Local), for tests that cut one node off. */
  readonly dynamoEndpointFor?: (name: string) => string;
  readonly table: string;
  readonly bootstrap: Partial<Pick<ClusterConfig, 'ttl' | 'loopWait' | 'retryTimeout' | 'synchronousMode' | 'maximumLagOnFailover' | 'failsafeMode'>> & {
    readonly proxyPort: number;
  };
  /** PostgreSQL settings for every node (tests turn fsync off). */
  readonly parameters?: Record<string, string | number | boolean>;
  /** Nodes of an earlier run: keep their ports, so their data and the endpoint stay where they were. */
  readonly reuse?: readonly LocalNodeSpec[];
  /** Per node: the callbacks, pre_promote and failover_priority its agent.yml names (absent: none). */
  readonly hooks?: (name: string) => LocalNodeHooks | undefined;
}

/** A node's postgresql.callbacks, postgresql.pre_promote and postgresql.callback_timeout, as agent.yml spells them. */
export interface LocalNodeHooks {
  readonly callbacks?: Readonly<Partial<Record<'on_start' | 'on_stop' | 'on_restart' | 'on_reload' | 'on_role_change', string>>>;
  readonly prePromote?: string;
  /** Seconds. */
  readonly callbackTimeout?: number;
  readonly failoverPriority?: number;
}

/** Writes `hooks` into the agent.yml at `configPath`, keeping everything else. */
export function writeNodeHooks(configPath: string, hooks: LocalNodeHooks): void {
  const config = parse(readFileSync(configPath, 'utf8')) as { postgresql: Record<string, unknown>; tags?: Record<string, unknown> };
  if (hooks.callbacks !== undefined) config.postgresql.callbacks = { ...hooks.callbacks };
  if (hooks.prePromote !== undefined) config.postgresql.pre_promote = hooks.prePromote;
  if (hooks.callbackTimeout !== undefined) config.postgresql.callback_timeout = hooks.callbackTimeout;
  if (hooks.failoverPriority !== undefined) config.tags = { ...config.tags, failover_priority: hooks.failoverPriority };
  writeFileSync(configPath, stringify(config));
}

const ROOT = join(import.meta.dirname, '..', '..');

/** Allocates ports and writes each node's agent config. */
export async function planLocalNodes(o: LocalClusterOptions): Promise<LocalNodeSpec[]> {
  mkdirSync(o.baseDir, { recursive: true });
  chmodSync(o.baseDir, 0o755);
  const specs: LocalNodeSpec[] = [];
  // One credential for the cluster's agent APIs: failsafe calls and switchovers between members use it.
  const apiAuth = { username: 'pgfloat', password: randomBytes(12).toString('hex') };
  for (let i = 1; i <= o.nodes; i++) {
    const name = `node${i}`;
    const earlier = o.reuse?.find((r) => r.name === name);
    const pgPort = earlier?.pgPort ?? (await freeLoopbackPort());
    const apiPort = earlier?.apiPort ?? (await freeLoopbackPort());
    const spec = {
      name,
      pgPort,
      apiPort,
      dataDir: join(o.baseDir, name, 'data'),
      configPath: join(o.baseDir, name, 'agent.yml'),
      logPath: join(o.baseDir, name, 'agent.log'),
    };
    mkdirSync(join(o.baseDir, name), { recursive: true });
    chmodSync(join(o.baseDir, name), 0o755);
    const b = o.bootstrap;
    const config = {
      scope: o.cluster.scope,
      namespace: o.cluster.namespace,
      name,
      dcs: { table: o.table, endpoint: o.dynamoEndpointFor?.(name) ?? o.dynamoEndpoint },
      restapi: { listen: `127.0.0.1:${apiPort}`, connect_address: `127.0.0.1:${apiPort}`, authentication: apiAuth },
      postgresql: {
        data_dir: spec.dataDir,
        listen: `127.0.0.1:${pgPort}`,
        connect_address: `127.0.0.1:${pgPort}`,
        socket_dir: join(o.baseDir, name, 'run'),
        trust_local: true,
        parameters: o.parameters ?? {},
      },
      bootstrap: {
        dcs: {
          ttl: b.ttl,
          loop_wait: b.loopWait,
          retry_timeout: b.retryTimeout,
          synchronous_mode: b.synchronousMode,
          maximum_lag_on_failover: b.maximumLagOnFailover,
          failsafe_mode: b.failsafeMode,
          endpoint: { kind: 'local-proxy', host: '127.0.0.1', port: b.proxyPort },
        },
      },
    };
    writeFileSync(spec.configPath, stringify(config));
    const hooks = o.hooks?.(name);
    if (hooks !== undefined) writeNodeHooks(spec.configPath, hooks);
    specs.push(spec);
  }
  return specs;
}

export interface AgentProcess {
  readonly spec: LocalNodeSpec;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
}

/** A process as the run recorded it: what `cleanupLeftovers` may kill, and nothing else. */
export interface ProcessIdentity {
  readonly pid: number;
  /** Clock ticks since boot at which it started (/proc/<pid>/stat, field 22). */
  readonly startTicks: number;
  readonly cmdline: string;
}

/** The identity of a live process, or null when there is none (or it is a zombie). */
export function processIdentity(pid: number): ProcessIdentity | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z') return null;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    return { pid, startTicks: Number(fields[19]), cmdline };
  } catch {
    return null;
  }
}

/** True only when pid is still the very process recorded: same start time, same command line. */
export function sameProcess(recorded: ProcessIdentity): boolean {
  const now = processIdentity(recorded.pid);
  return now !== null && now.startTicks === recorded.startTicks && now.cmdline === recorded.cmdline;
}

/**
 * Starts one agent process. Its stderr goes straight to its log file, and
 * its stdin is a pipe from this process: when this process dies, however it
 * dies, the agent sees the pipe close and shuts down cleanly (a primary stops
 * writes and releases its lease).
 */
export function startAgent(spec: LocalNodeSpec, env: Record<string, string> = {}, user?: { uid: number; gid: number }): AgentProcess {
  const logFd = openSync(spec.logPath, 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'lib/agent/bin.ts'), '--config', spec.configPath], {
    cwd: ROOT,
    stdio: ['pipe', 'ignore', logFd],
    env: { ...process.env, ...env, PGFLOAT_EXIT_WITH_PARENT: '1' },
    ...(user !== undefined ? { uid: user.uid, gid: user.gid } : {}),
  });
  closeSync(logFd);
  child.stdin?.on('error', () => undefined);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const identity = child.pid === undefined ? null : processIdentity(child.pid);
  writeFileSync(join(spec.dataDir, '..', 'agent.pid'), JSON.stringify(identity));
  return { spec, child, exited };
}

/** The postmaster pid of a node's data directory, if one runs. */
export function postmasterPid(spec: LocalNodeSpec): number | null {
  const file = join(spec.dataDir, 'postmaster.pid');
  if (!existsSync(file)) return null;
  const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 && processExists(pid) ? pid : null;
}

/** kill -9 of a node: its agent and its postmaster (and so all its backends). */
export function killNode(agent: AgentProcess): void {
  const pg = postmasterPid(agent.spec);
  agent.child.kill('SIGKILL');
  if (pg !== null) {
    try {
      process.kill(pg, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * Kills what a previous run under baseDir left behind: each agent whose pid
 * file still names the very process it recorded (pid, start time and command
 * line), then each postmaster whose command line names that node's data
 * directory. A pid that now belongs to another process is left alone.
 */
export function cleanupLeftovers(baseDir: string, names: readonly string[]): void {
  for (const name of names) {
    const pidFile = join(baseDir, name, 'agent.pid');
    if (existsSync(pidFile)) {
      const recorded = readRecorded(pidFile);
      if (recorded !== null && sameProcess(recorded)) signal(recorded.pid, 'SIGKILL');
      rmSync(pidFile, { force: true });
    }
    const dataDir = join(baseDir, name, 'data');
    const pg = postmasterPid({ dataDir } as LocalNodeSpec);
    if (pg !== null && isPostmasterOf(pg, dataDir)) signal(pg, 'SIGKILL');
  }
}

function readRecorded(pidFile: string): ProcessIdentity | null {
  try {
    const v = JSON.parse(readFileSync(pidFile, 'utf8')) as Partial<ProcessIdentity> | null;
    return v !== null && typeof v.pid === 'number' && typeof v.startTicks === 'number' && typeof v.cmdline === 'string' ? (v as ProcessIdentity) : null;
  } catch {
    return null;
  }
}

/** The postmaster of dataDir: its command line is `postgres -D <dataDir> ...`. */
export function isPostmasterOf(pid: number, dataDir: string): boolean {
  const args = processIdentity(pid)?.cmdline.split(' ') ?? [];
  const d = args.indexOf('-D');
  return d >= 0 && args[d + 1] === dataDir && /(^|\/)postgres$/.test(args[0] ?? '');
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone meanwhile
  }
}
