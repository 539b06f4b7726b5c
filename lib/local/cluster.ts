// A real pgfloat cluster on this machine: DynamoDB Local, N PostgreSQL nodes
// each with its agent process, the arbiter, and a local endpoint proxy.
// Used by `npm start` and by the end-to-end tests.
//
// Invariant: every process it starts is stopped by stop(), and a later
// start() on the same base directory first kills what a crashed run left.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
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
  readonly bootstrap: Partial<Pick<ClusterConfig, 'ttl' | 'loopWait' | 'retryTimeout' | 'synchronousMode' | 'maximumLagOnFailover'>> & {
    readonly proxyPort: number;
  };
  /** PostgreSQL settings for every node (tests turn fsync off). */
  readonly parameters?: Record<string, string | number | boolean>;
  /** Nodes of an earlier run: keep their ports, so their data and the endpoint stay where they were. */
  readonly reuse?: readonly LocalNodeSpec[];
}

const ROOT = join(import.meta.dirname, '..', '..');

/** Allocates ports and writes each node's agent config. */
export async function planLocalNodes(o: LocalClusterOptions): Promise<LocalNodeSpec[]> {
  mkdirSync(o.baseDir, { recursive: true });
  chmodSync(o.baseDir, 0o755);
  const specs: LocalNodeSpec[] = [];
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
      restapi: { listen: `127.0.0.1:${apiPort}`, connect_address: `127.0.0.1:${apiPort}` },
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
          endpoint: { kind: 'local-proxy', host: '127.0.0.1', port: b.proxyPort },
        },
      },
    };
    writeFileSync(spec.configPath, stringify(config));
    specs.push(spec);
  }
  return specs;
}

export interface AgentProcess {
  readonly spec: LocalNodeSpec;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
}

/** Starts one agent process, its output appended to its log file. */
export function startAgent(spec: LocalNodeSpec, env: Record<string, string> = {}, user?: { uid: number; gid: number }): AgentProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'lib/agent/bin.ts'), '--config', spec.configPath], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...env },
    ...(user !== undefined ? { uid: user.uid, gid: user.gid } : {}),
  });
  const log = (chunk: Buffer): void => {
    writeFileSync(spec.logPath, chunk, { flag: 'a' });
  };
  child.stderr?.on('data', log);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  writeFileSync(join(spec.dataDir, '..', 'agent.pid'), String(child.pid));
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

/** Kills whatever a previous run under baseDir left behind: agents, then postmasters. */
export function cleanupLeftovers(baseDir: string, names: readonly string[]): void {
  for (const name of names) {
    const pidFile = join(baseDir, name, 'agent.pid');
    if (existsSync(pidFile)) {
      try {
        process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
      } catch {
        // gone
      }
      rmSync(pidFile, { force: true });
    }
    const pg = postmasterPid({ dataDir: join(baseDir, name, 'data') } as LocalNodeSpec);
    if (pg !== null) {
      try {
        process.kill(pg, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
}
