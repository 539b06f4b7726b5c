// `npm start`'s cluster: DynamoDB Local (persisted under the run directory),
// N PostgreSQL nodes each with its agent process (as the postgres user when
// run as root), the arbiter's Lambda handler invoked on a local schedule as
// EventBridge would and behind a local Lambda Invoke endpoint for the agents'
// wakes (PGFLOAT_ARBITER_ENDPOINT, PGFLOAT_ARBITER_FUNCTION in their
// environment), and the endpoint proxy on a stable loopback port.
//
// Invariants: stop() leaves no process behind; start() on a directory a
// crashed run left first kills that run's processes, then carries on with
// its data (the store is persisted too).
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Context } from 'aws-lambda';
import { LOOP_LEASE_TICKS } from '../arbiter/settings.js';
import { createDynamoDbClient } from '../dcs/client.js';
import { DynamoDbStore } from '../dcs/dynamodb-store.js';
import type { ClusterId } from '../dcs/keys.js';
import { DEFAULT_TABLE_NAME, ensureTable } from '../dcs/table.js';
import { cleanupLeftovers, killNode, planLocalNodes, startAgent, type AgentProcess, type LocalNodeSpec } from './cluster.js';
import { LOCAL_REGION, startDynamoDbLocal, type DynamoDbLocal } from './dynamodb-local.js';
import { localContext, startLocalArbiterEndpoint, LOCAL_ARBITER_FUNCTION, type LocalArbiterEndpoint } from './lambda-endpoint.js';

export interface LocalRunOptions {
  readonly dir: string;
  readonly nodes: number;
  readonly endpointPort: number;
  readonly dynamoPort: number;
  readonly ttl: number;
  readonly loopWait: number;
  readonly retryTimeout: number;
  readonly synchronousMode: boolean;
  /** Tick of the arbiter, ms. */
  readonly tickMs: number;
  /** Period of the local schedule (EventBridge: 60 s). */
  readonly schedulePeriodMs: number;
  readonly cluster?: ClusterId;
  /** fsync off and no initdb sync: for tests and benchmarks only. */
  readonly unsafeFast?: boolean;
  readonly log?: (line: string) => void;
  /** Restart a node's agent this long after it died, as systemd's Restart=on-failure would; 0: never. */
  readonly restartAfterMs?: number;
}

export interface RunState {
  /** The process of the run itself (npm start's script). */
  readonly runPid?: number;
  readonly dynamoEndpoint: string;
  readonly table: string;
  readonly cluster: ClusterId;
  readonly endpointPort: number;
  /** The local Lambda endpoint agents wake the arbiter through. */
  readonly arbiterEndpoint?: string;
  readonly nodes: readonly (LocalNodeSpec & { agentPid: number | null })[];
}

type Handler = (event: unknown, context: Context) => Promise<unknown>;

const ROOT = join(import.meta.dirname, '..', '..');

/** The postgres user's ids when running as root and the checkout is readable by it; else null (agents run as this user). */
function postgresIds(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  try {
    execFileSync('runuser', ['-u', 'postgres', '--', 'test', '-r', join(ROOT, 'lib', 'agent', 'bin.ts')]);
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    return null;
  }
}

function chownTree(path: string, ids: { uid: number; gid: number }): void {
  chownSync(path, ids.uid, ids.gid);
  if (statSync(path).isDirectory()) for (const e of readdirSync(path)) chownTree(join(path, e), ids);
}

export class LocalRun {
  readonly cluster: ClusterId;
  readonly agents = new Map<string, AgentProcess>();
  specs: LocalNodeSpec[] = [];
  store!: DynamoDbStore;
  private engine: DynamoDbLocal | undefined;
  private client: ReturnType<typeof createDynamoDbClient> | undefined;
  private handler: Handler | undefined;
  private closeArbiter: (() => Promise<void>) | undefined;
  private lambda: LocalArbiterEndpoint | undefined;
  private schedule: NodeJS.Timeout | undefined;
  private invocations = new Set<Promise<unknown>>();
  private invocationCount = 0;
  private stopping = false;
  private readonly ids = postgresIds();

  readonly o: LocalRunOptions;

  constructor(options: LocalRunOptions) {
    // DynamoDB Local and the agents run from other working directories: every path they get is absolute.
    this.o = { ...options, dir: resolve(options.dir) };
    this.cluster = options.cluster ?? { namespace: 'pgfloat', scope: 'local' };
  }

  private say(line: string): void {
    this.o.log?.(line);
  }

  get statePath(): string {
    return join(this.o.dir, 'state.json');
  }

  async start(): Promise<void> {
    mkdirSync(this.o.dir, { recursive: true });
    const previous = this.readState();
    if (previous !== null) {
      this.say('cleaning up what a previous run left behind');
      cleanupLeftovers(this.o.dir, previous.nodes.map((n) => n.name));
    }
    const dbPath = join(this.o.dir, 'dynamodb');
    mkdirSync(dbPath, { recursive: true });
    this.engine = await startDynamoDbLocal({ port: this.o.dynamoPort, dbPath });
    this.say(`DynamoDB Local on ${this.engine.endpoint} (data in ${dbPath})`);
    this.client = createDynamoDbClient({ endpoint: this.engine.endpoint });
    await ensureTable(this.client, DEFAULT_TABLE_NAME);
    this.store = new DynamoDbStore({ client: this.client, tableName: DEFAULT_TABLE_NAME });

    this.specs = await planLocalNodes({
      baseDir: this.o.dir,
      cluster: this.cluster,
      nodes: this.o.nodes,
      dynamoEndpoint: this.engine.endpoint,
      table: DEFAULT_TABLE_NAME,
      bootstrap: {
        ttl: this.o.ttl,
        loopWait: this.o.loopWait,
        retryTimeout: this.o.retryTimeout,
        synchronousMode: this.o.synchronousMode,
        proxyPort: this.o.endpointPort,
      },
      parameters: this.o.unsafeFast ? { fsync: 'off' } : {},
      reuse: previous?.nodes,
    });
    if (this.ids !== null) for (const s of this.specs) chownTree(join(s.dataDir, '..'), this.ids);
    this.say(this.ids !== null ? 'agents run as the postgres user' : 'agents run as this user (PostgreSQL itself as postgres when root)');

    Object.assign(process.env, {
      PGFLOAT_TABLE: DEFAULT_TABLE_NAME,
      PGFLOAT_DYNAMODB_ENDPOINT: this.engine.endpoint,
      PGFLOAT_TICK_MS: String(this.o.tickMs),
      PGFLOAT_SCHEDULE_PERIOD_MS: String(this.o.schedulePeriodMs),
      PGFLOAT_CLUSTER_LEASE_MS: String(Math.max(3000, this.o.ttl * 1000)),
      // Three ticks, as on AWS, but not so short that a loaded machine loses it between ticks.
      PGFLOAT_LOOP_LEASE_MS: String(Math.max(1500, LOOP_LEASE_TICKS * this.o.tickMs)),
      PGFLOAT_METRICS_EVERY_MS: '60000',
      POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
      POWERTOOLS_METRICS_DISABLED: 'true',
    });
    const mod = (await import('../../functions/arbiter/handler.js')) as unknown as { handler: Handler; closeArbiter: () => Promise<void> };
    this.handler = mod.handler;
    this.closeArbiter = mod.closeArbiter;
    this.lambda = await startLocalArbiterEndpoint({
      handler: mod.handler,
      timeoutMs: this.arbiterTimeoutMs,
      functionName: LOCAL_ARBITER_FUNCTION,
      region: LOCAL_REGION,
      onAsyncError: (_name, _event, err) => this.say(`arbiter invocation (a wake) failed: ${err instanceof Error ? err.message : String(err)}`),
    });
    this.say(`arbiter ${this.lambda.functionName} invocable on ${this.lambda.url} (Lambda Invoke API)`);

    for (const s of this.specs) this.startNode(s.name);
    this.writeState();
    this.invokeScheduled();
    this.schedule = setInterval(() => this.invokeScheduled(), this.o.schedulePeriodMs);
  }

  /** The function's timeout, as serverless.yml sets it: two schedule periods and a margin, so a loop outlasts a late successor. */
  get arbiterTimeoutMs(): number {
    return 2 * this.o.schedulePeriodMs + 10_000;
  }

  /** The agents' environment for waking the arbiter (PGFLOAT_ARBITER_ENDPOINT, PGFLOAT_ARBITER_FUNCTION). */
  get arbiterEnv(): Readonly<Record<string, string>> {
    return this.lambda?.env ?? {};
  }

  /** One scheduled invocation of the arbiter handler, as EventBridge and Lambda would make it. */
  private invokeScheduled(): void {
    if (this.handler === undefined) return;
    const n = ++this.invocationCount;
    const context = localContext(LOCAL_ARBITER_FUNCTION, `local-${process.pid}-${n}`, this.arbiterTimeoutMs, { region: LOCAL_REGION });
    const event = { source: 'aws.events', 'detail-type': 'Scheduled Event', id: `local-${n}`, time: new Date().toISOString(), resources: [], detail: {} };
    const p = this.handler(event, context).catch((err: Error) => this.say(`arbiter invocation failed: ${err.message}`));
    this.invocations.add(p);
    void p.finally(() => this.invocations.delete(p));
  }

  spec(name: string): LocalNodeSpec {
    const s = this.specs.find((x) => x.name === name);
    if (s === undefined) throw new Error(`no node named ${name}: the nodes are ${this.specs.map((x) => x.name).join(', ')}`);
    return s;
  }

  startNode(name: string): AgentProcess {
    const a = startAgent(this.spec(name), { ...this.arbiterEnv, ...(this.o.unsafeFast ? { PGFLOAT_UNSAFE_NOSYNC: '1' } : {}) }, this.ids ?? undefined);
    this.agents.set(name, a);
    this.writeState();
    const restartAfterMs = this.o.restartAfterMs ?? 0;
    void a.exited.then((code) => {
      if (this.stopping || restartAfterMs <= 0 || this.agents.get(name) !== a) return;
      this.say(`${name}'s agent exited (${code ?? 'killed'}); restarting it in ${restartAfterMs / 1000} s`);
      const t = setTimeout(() => {
        if (!this.stopping && this.agents.get(name) === a) this.startNode(name);
      }, restartAfterMs);
      t.unref();
    });
    return a;
  }

  /** kill -9 of a node's agent and PostgreSQL. */
  killNode(name: string): void {
    const a = this.agents.get(name);
    if (a !== undefined) killNode(a);
  }

  private readState(): RunState | null {
    if (!existsSync(this.statePath)) return null;
    try {
      return JSON.parse(readFileSync(this.statePath, 'utf8')) as RunState;
    } catch {
      return null;
    }
  }

  private writeState(): void {
    if (this.engine === undefined) return;
    const state: RunState = {
      runPid: process.pid,
      dynamoEndpoint: this.engine.endpoint,
      table: DEFAULT_TABLE_NAME,
      cluster: this.cluster,
      endpointPort: this.o.endpointPort,
      ...(this.lambda !== undefined ? { arbiterEndpoint: this.lambda.url } : {}),
      nodes: this.specs.map((s) => ({ ...s, agentPid: this.agents.get(s.name)?.child.pid ?? null })),
    };
    writeFileSync(this.statePath, JSON.stringify(state, null, 2));
  }

  /** Stops everything: the schedule, the agents (clean shutdown), the arbiter, DynamoDB Local. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.schedule !== undefined) clearInterval(this.schedule);
    this.schedule = undefined;
    for (const a of this.agents.values()) a.child.kill('SIGTERM');
    await Promise.race([Promise.all([...this.agents.values()].map((a) => a.exited)), new Promise((r) => setTimeout(r, 20_000))]);
    cleanupLeftovers(this.o.dir, this.specs.map((s) => s.name));
    // No more wakes; the running invocations end with the arbiter's loops below.
    await this.lambda?.close(0);
    this.lambda = undefined;
    await this.closeArbiter?.();
    await Promise.race([Promise.all(this.invocations), new Promise((r) => setTimeout(r, 5000))]);
    this.client?.destroy();
    await this.engine?.stop();
    this.engine = undefined;
  }
}
