// The local cluster as its user drives it: `npm start`'s script run as a
// child process, the operator CLI and the drill run as commands, PostgreSQL
// reached through the endpoint port. Every process the run starts is stopped
// by stop() (Ctrl-C, as a user would) or, as a last resort, by forceStop().
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { freeLoopbackPort } from '../../lib/local/dynamodb-local.js';
import type { RunState } from '../../lib/local/run.js';
import { sql } from '../support/pgcluster.js';

export const ROOT = join(import.meta.dirname, '..', '..');

/** How a command ended, with everything it printed. */
export interface Finished {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly ms: number;
}

/** `node <args>` run in the checkout to its end; killed (SIGKILL) after timeoutMs. */
export function runNode(args: readonly string[], timeoutMs: number): Promise<Finished> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (s: string) => void (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => void (stderr += s));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut, ms: Math.round(performance.now() - started) });
    });
  });
}

/** One line of `list --json`'s members. */
export interface MemberJson {
  readonly Cluster: string;
  readonly Member: string;
  readonly Host: string;
  readonly Role: string;
  readonly State: string;
  readonly TL: number;
  readonly 'Lag in MB': number | null;
}

/** `pgfloat list --json`. */
export interface ListJson {
  readonly cluster: string;
  readonly systemId: string | null;
  readonly paused: boolean;
  readonly leader: { readonly name: string; readonly term: number; readonly phase: string } | null;
  readonly members: readonly MemberJson[];
  readonly failover: unknown;
}

/** One row of `pgfloat history --json`. */
export interface HistoryJson {
  readonly term: number;
  readonly kind: string;
  readonly from: string | null;
  readonly to: string;
  readonly reason: string;
  readonly lsn: number;
  readonly timeline: number;
  readonly grantedAt: string;
  readonly promotedAt: string | null;
  readonly endpointMovedAt: string | null;
  readonly promotedAfterSeconds: number | null;
  readonly endpointMovedAfterSeconds: number | null;
}

/** `scripts/drill.ts --json`. */
export interface DrillJson {
  readonly killed: string;
  readonly term: number;
  readonly events: readonly { readonly at: number; readonly what: string }[];
}

export interface LocalRunOptions {
  readonly ttl: number;
  readonly loopWait: number;
  readonly retryTimeout: number;
  readonly tickMs: number;
  readonly scheduleMs: number;
  /** Seconds after which the run restarts a dead agent. */
  readonly restartAfter: number;
  /** Synchronous mode (--sync). */
  readonly sync?: boolean;
}

/** Where a run lives: its directory and its ports. A run started on the place of an earlier one carries on with its data. */
export interface RunPlace {
  readonly dir: string;
  readonly port: number;
  readonly dynamoPort: number;
}

/** A member as `list --json` shows it: a replica that streams and whose lag is known. */
export function streamingReplica(m: MemberJson): boolean {
  return m.Role === 'Replica' && m.State === 'streaming' && typeof m['Lag in MB'] === 'number';
}

/** The PostgreSQL port of a member, from its Host column ("127.0.0.1:5433"). */
export function portOf(list: ListJson, name: string): number {
  const m = list.members.find((x) => x.Member === name);
  const port = Number(m?.Host.split(':')[1]);
  if (!Number.isInteger(port) || port <= 0) throw new Error(`no port for ${name} in the listing: ${JSON.stringify(list.members)}`);
  return port;
}

/**
 * Polls `probe` every intervalMs until it returns a value (not undefined);
 * a probe that throws counts as "not yet". Fails after timeoutMs with what
 * `context` says about the last state.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  o: { readonly timeoutMs: number; readonly intervalMs?: number; readonly context?: () => string },
): Promise<T> {
  const deadline = performance.now() + o.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err;
    }
    if (performance.now() >= deadline) break;
    await delay(o.intervalMs ?? 250);
  }
  const error = lastError === undefined ? '' : `\nlast error: ${lastError instanceof Error ? lastError.message : String(lastError)}`;
  throw new Error(`timed out after ${o.timeoutMs} ms waiting for ${what}${error}\n${o.context?.() ?? ''}`);
}

/** The nodes that accept a write right now, by name. */
export async function writable(nodes: RunState['nodes']): Promise<string[]> {
  const ok: string[] = [];
  for (const n of nodes) {
    const accepted = await sql(n.pgPort, 'CREATE TEMP TABLE probe (x int)', [], 1500).then(
      () => true,
      () => false,
    );
    if (accepted) ok.push(n.name);
  }
  return ok;
}

/** The command line of a live process, or null. */
function commandLine(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return null;
  }
}

function tail(text: string, lines: number): string {
  return text.split('\n').slice(-lines).join('\n');
}

/** `npm start`'s script on a fresh directory and free loopback ports. */
export class LocalRun {
  private output = '';
  private status: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last `list --json` any command here read, for failure messages. */
  lastList: ListJson | null = null;

  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly dynamoPort: number,
    private readonly child: ChildProcess,
  ) {
    child.stdout?.setEncoding('utf8').on('data', (s: string) => this.append(s));
    child.stderr?.setEncoding('utf8').on('data', (s: string) => this.append(s));
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.status = { code, signal };
        resolve(this.status);
      }),
    );
  }

  /** On a fresh directory and free ports, or on `place`: the directory and ports an earlier run left. */
  static async start(o: LocalRunOptions, place?: RunPlace): Promise<LocalRun> {
    const { dir, port, dynamoPort } = place ?? (await LocalRun.freshPlace());
    const args = [
      '--import', 'tsx', 'scripts/local.ts',
      '--dir', dir,
      '--port', String(port),
      '--dynamo-port', String(dynamoPort),
      '--ttl', String(o.ttl),
      '--loop-wait', String(o.loopWait),
      '--retry-timeout', String(o.retryTimeout),
      '--tick-ms', String(o.tickMs),
      '--schedule-ms', String(o.scheduleMs),
      '--restart-after', String(o.restartAfter),
      '--unsafe-fast',
      '--no-live',
      ...(o.sync === true ? ['--sync'] : []),
    ];
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    return new LocalRun(dir, port, dynamoPort, child);
  }

  private static async freshPlace(): Promise<RunPlace> {
    const dir = mkdtempSync('/tmp/pgfloat-e2e-');
    chmodSync(dir, 0o755);
    const port = await freeLoopbackPort();
    let dynamoPort = await freeLoopbackPort();
    while (dynamoPort === port) dynamoPort = await freeLoopbackPort();
    return { dir, port, dynamoPort };
  }

  /** This run's directory and ports, for a later run on the same place. */
  get place(): RunPlace {
    return { dir: this.dir, port: this.port, dynamoPort: this.dynamoPort };
  }

  private append(s: string): void {
    this.output = (this.output + s).slice(-400_000);
  }

  /** Everything the run printed so far. */
  printed(): string {
    return this.output;
  }

  get running(): boolean {
    return this.status === null;
  }

  /** Resolves once the run printed its "ready:" line; fails if it exits first or after timeoutMs. */
  async ready(timeoutMs: number): Promise<void> {
    await waitFor(
      'the "ready:" line of the local run',
      async () => {
        if (/^ready:/m.test(this.output)) return true;
        if (this.status !== null) throw new Error(`the local run exited (${JSON.stringify(this.status)}) before it was ready`);
        return undefined;
      },
      { timeoutMs, intervalMs: 100, context: () => this.diagnostics() },
    );
  }

  /** `pgfloat <args> --cluster pgfloat/local --endpoint <DynamoDB Local> --table pgfloat --json`. */
  pgfloat(args: readonly string[], timeoutMs = 30_000): Promise<Finished> {
    const target = ['--cluster', 'pgfloat/local', '--endpoint', `http://127.0.0.1:${this.dynamoPort}`, '--table', 'pgfloat', '--json'];
    return runNode([join(ROOT, 'bin', 'pgfloat.mjs'), ...args, ...target], timeoutMs);
  }

  /** The JSON document of a CLI command that must exit 0. */
  async json<T>(args: readonly string[], timeoutMs = 30_000): Promise<T> {
    const r = await this.pgfloat(args, timeoutMs);
    if (r.code !== 0) {
      throw new Error(`pgfloat ${args.join(' ')} exited ${r.code ?? r.signal}${r.timedOut ? ' (timed out)' : ''}: ${r.stderr}${r.stdout}`);
    }
    return JSON.parse(r.stdout) as T;
  }

  async list(): Promise<ListJson> {
    const l = await this.json<ListJson>(['list']);
    this.lastList = l;
    return l;
  }

  history(): Promise<HistoryJson[]> {
    return this.json<HistoryJson[]>(['history']);
  }

  /** `node --import tsx scripts/drill.ts --dir D --json --timeout S`. */
  drill(timeoutS: number): Promise<Finished> {
    return runNode(['--import', 'tsx', 'scripts/drill.ts', '--dir', this.dir, '--json', '--timeout', String(timeoutS)], (timeoutS + 30) * 1000);
  }

  /** What the run wrote to D/state.json. */
  state(): RunState {
    return JSON.parse(readFileSync(join(this.dir, 'state.json'), 'utf8')) as RunState;
  }

  /**
   * kill -9 of a node: its agent (pid from D/state.json), then its postmaster
   * (pid from D/<node>/data/postmaster.pid). Each pid is checked to be that
   * node's process first.
   */
  kill9(name: string): { agentPid: number; postmasterPid: number | null } {
    const node = this.state().nodes.find((n) => n.name === name);
    if (node === undefined) throw new Error(`no node ${name} in ${join(this.dir, 'state.json')}`);
    const agentPid = node.agentPid;
    if (agentPid === null || !(commandLine(agentPid) ?? '').includes(`--config ${node.configPath}`)) {
      throw new Error(`the agent of ${name} (pid ${agentPid}) is not running: ${commandLine(agentPid ?? 0) ?? 'no such process'}`);
    }
    let postmasterPid: number | null = null;
    const pidFile = join(node.dataDir, 'postmaster.pid');
    if (existsSync(pidFile)) {
      const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
      if ((commandLine(pid) ?? '').includes(`-D ${node.dataDir}`)) postmasterPid = pid;
    }
    process.kill(agentPid, 'SIGKILL');
    if (postmasterPid !== null) process.kill(postmasterPid, 'SIGKILL');
    return { agentPid, postmasterPid };
  }

  /**
   * kill -9 of the whole run: every agent it started that still runs (pids
   * from D/state.json, each checked to be that node's agent), then the run
   * itself, so that no agent sees its supervisor go before it is killed.
   * PostgreSQL and the fence keepers are left as a crash leaves them.
   * Resolves once the run's process is gone.
   */
  async kill9Run(): Promise<{ runPid: number; agentPids: number[] }> {
    const runPid = this.child.pid;
    if (runPid === undefined || this.status !== null) throw new Error(`the local run is not running: ${JSON.stringify(this.status)}`);
    const agentPids: number[] = [];
    for (const node of this.state().nodes) {
      const pid = node.agentPid;
      if (pid !== null && (commandLine(pid) ?? '').includes(`--config ${node.configPath}`)) agentPids.push(pid);
    }
    for (const pid of agentPids) process.kill(pid, 'SIGKILL');
    this.child.kill('SIGKILL');
    await this.exited;
    return { runPid, agentPids };
  }

  /** Processes of this run still alive: PostgreSQL, agents, DynamoDB Local on its port. */
  leftovers(): string[] {
    const ps = execFileSync('ps', ['-eww', '-o', 'pid=,args='], { encoding: 'utf8' });
    return ps
      .split('\n')
      .map((l) => l.trim())
      .filter(
        (l) =>
          l.includes(`postgres -D ${this.dir}/`) ||
          l.includes(`lib/agent/bin.ts --config ${this.dir}/`) ||
          (l.includes('DynamoDBLocal.jar') && l.includes(`-port ${this.dynamoPort} `)),
      );
  }

  /** The run's exit status, or null when it is still running after timeoutMs. */
  private async exit(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null } | null> {
    const timer = new AbortController();
    try {
      return await Promise.race([this.exited, delay(timeoutMs, null, { signal: timer.signal })]);
    } finally {
      timer.abort();
    }
  }

  /** Ctrl-C: SIGINT, then the run's exit (bounded) and all it printed. */
  async stop(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
    if (this.status === null) this.child.kill('SIGINT');
    const status = await this.exit(timeoutMs);
    if (status === null) throw new Error(`the local run did not exit within ${timeoutMs} ms of SIGINT\n${this.diagnostics()}`);
    return { ...status, output: this.output };
  }

  /** Last resort: stops the run however it can, then kills by pid what it left. */
  async forceStop(): Promise<void> {
    if (this.status === null) {
      this.child.kill('SIGINT');
      const done = await this.exit(60_000);
      if (done === null) {
        this.child.kill('SIGKILL');
        await this.exited;
      }
    }
    for (const line of this.leftovers()) {
      const pid = Number(line.split(/\s+/)[0]);
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** The tail of the run's output and of each agent's log, for failure messages. */
  diagnostics(): string {
    const logs = ['node1', 'node2', 'node3']
      .map((n) => {
        const file = join(this.dir, n, 'agent.log');
        if (!existsSync(file)) return `--- ${file} ---\n(none)`;
        const text = readFileSync(file, 'utf8');
        const warnings = text.split('\n').filter((l) => / (WARN|ERROR) /.test(l)).slice(-5).map((l) => l.slice(0, 300));
        return `--- ${file}: last warnings ---\n${warnings.join('\n')}\n--- ${file}: last lines ---\n${tail(text, 12)}`;
      })
      .join('\n');
    const list = this.lastList === null ? '' : `--- last list --json ---\n${JSON.stringify(this.lastList)}\n`;
    return `${list}--- local run output ---\n${tail(this.output, 30)}\n${logs}`;
  }
}
