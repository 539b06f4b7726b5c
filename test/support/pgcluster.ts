// A real cluster for agent tests: PostgreSQL 15 nodes run by agent
// processes, DynamoDB Local, the arbiter loop in this process, and the local
// endpoint proxy. Everything it starts, stop() stops.
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { runLoop } from '../../lib/arbiter/loop.js';
import { moverCache } from '../../lib/arbiter/movers.js';
import { systemClock } from '../../lib/arbiter/tick.js';
import { DynamoDbStore } from '../../lib/dcs/dynamodb-store.js';
import type { ClusterId } from '../../lib/dcs/keys.js';
import type { ClusterSnapshot } from '../../lib/dcs/store.js';
import { LocalProxy } from '../../lib/endpoint/local-proxy.js';
import { cleanupLeftovers, killNode, planLocalNodes, startAgent, type AgentProcess, type LocalNodeSpec } from '../../lib/local/cluster.js';
import { freeLoopbackPort } from '../../lib/local/dynamodb-local.js';
import { freshTable, type TestTable } from './dynamodb.js';
import { createDynamoDbClient } from '../../lib/dcs/client.js';
import { startStoreProxy, type StoreProxy } from './store-proxy.js';

export interface TestClusterOptions {
  readonly nodes?: number;
  readonly synchronousMode?: boolean;
  readonly ttl?: number;
  /** loop_wait and retry_timeout, s (defaults 0.5 and 1, for ttl 3). */
  readonly loopWait?: number;
  readonly retryTimeout?: number;
  /** Route each agent's store traffic through its own loopback proxy, so a test can cut one off. */
  readonly cuttableStore?: boolean;
  /** Route every agent's and the arbiter's store traffic through one proxy, so a test can stall the whole store. */
  readonly stallableStore?: boolean;
  readonly failsafeMode?: boolean;
}

export class TestCluster {
  readonly agents = new Map<string, AgentProcess>();
  readonly storeProxies = new Map<string, LocalProxy>();
  /** With stallableStore: the proxy in front of the store for the agents and the arbiter (not for `store`, the test's own view). */
  storeProxy: StoreProxy | null = null;
  private arbiterStore: DynamoDbStore | null = null;
  private arbiterClient: ReturnType<typeof createDynamoDbClient> | null = null;
  private readonly arbiterStop = new AbortController();
  private arbiterDone: Promise<unknown> | undefined;
  private readonly movers = moverCache();

  private constructor(
    readonly table: TestTable,
    readonly store: DynamoDbStore,
    readonly cluster: ClusterId,
    readonly specs: readonly LocalNodeSpec[],
    readonly baseDir: string,
    readonly proxyPort: number,
  ) {}

  static async create(o: TestClusterOptions = {}): Promise<TestCluster> {
    const table = await freshTable();
    const store = new DynamoDbStore({ client: table.client, tableName: table.tableName });
    const baseDir = mkdtempSync('/tmp/pgf-');
    const proxyPort = await freeLoopbackPort();
    const cluster = { namespace: 'test', scope: `pg${process.pid}` };
    const ttl = o.ttl ?? 3;
    const names = Array.from({ length: o.nodes ?? 3 }, (_, i) => `node${i + 1}`);
    const storeProxies = new Map<string, LocalProxy>();
    let dynamoFor: ((name: string) => string) | undefined;
    const stallable = o.stallableStore === true ? await startStoreProxy(table.endpoint) : null;
    if (stallable !== null) dynamoFor = () => stallable.endpoint;
    if (o.cuttableStore) {
      const dynamo = new URL(table.endpoint);
      for (const name of names) {
        const proxy = new LocalProxy({ host: '127.0.0.1', port: 0 });
        const port = await proxy.listen();
        proxy.setTarget(dynamo.hostname, Number(dynamo.port));
        storeProxies.set(name, proxy);
        void port;
      }
      dynamoFor = (name) => `http://127.0.0.1:${(storeProxies.get(name) as LocalProxy).port}`;
    }
    const specs = await planLocalNodes({
      baseDir,
      cluster,
      nodes: names.length,
      dynamoEndpoint: table.endpoint,
      dynamoEndpointFor: dynamoFor,
      table: table.tableName,
      bootstrap: { ttl, loopWait: o.loopWait ?? 0.5, retryTimeout: o.retryTimeout ?? 1, synchronousMode: o.synchronousMode ?? false, failsafeMode: o.failsafeMode ?? false, proxyPort },
      parameters: { fsync: 'off', wal_keep_size: '64MB' },
    });
    const c = new TestCluster(table, store, cluster, specs, baseDir, proxyPort);
    for (const [k, v] of storeProxies) c.storeProxies.set(k, v);
    if (stallable !== null) {
      c.storeProxy = stallable;
      c.arbiterClient = createDynamoDbClient({ endpoint: stallable.endpoint });
      c.arbiterStore = new DynamoDbStore({ client: c.arbiterClient, tableName: table.tableName });
    }
    return c;
  }

  spec(name: string): LocalNodeSpec {
    const s = this.specs.find((x) => x.name === name);
    if (s === undefined) throw new Error(`no node ${name}`);
    return s;
  }

  start(name: string): AgentProcess {
    const a = startAgent(this.spec(name), { PGFLOAT_UNSAFE_NOSYNC: '1' });
    this.agents.set(name, a);
    return a;
  }

  kill(name: string): void {
    const a = this.agents.get(name);
    if (a !== undefined) killNode(a);
  }

  /** The arbiter loop, in this process, ticking every 100 ms; `stepTimeoutMs` bounds each of its store calls (1.5 s unless given). */
  startArbiter(o: { readonly stepTimeoutMs?: number } = {}): void {
    const file = join(this.baseDir, 'arbiter.log');
    const write = (level: string) => (m: string) => appendFileSync(file, `${new Date().toISOString()} ${level} ${m}\n`);
    const silent = { debug: write('DEBUG'), info: write('INFO'), warn: write('WARN'), error: write('ERROR') };
    this.arbiterDone = runLoop(
      {
        store: this.arbiterStore ?? this.store,
        movers: this.movers,
        clock: systemClock,
        log: silent,
        metrics: { cluster: () => undefined, clusterError: () => undefined },
        arbiterId: 'shard-test',
        invocationId: `test-${process.pid}`,
        leaseMs: 5000,
        loopLeaseMs: 5000,
        stepTimeoutMs: o.stepTimeoutMs ?? 1500,
      },
      { runUntil: Date.now() + 30 * 60_000, tickMs: 100, clusters: [this.cluster], waitForLease: false, signal: this.arbiterStop.signal },
    );
  }

  /**
   * The arbiter, node1 first (it bootstraps and leads), then every other
   * node, until all of them stream from node1: the leader's name.
   */
  async startStreaming(): Promise<string> {
    this.startArbiter();
    this.start('node1');
    const primary = await this.waitFor('node1 leads', leaderActive, 120_000);
    for (const s of this.specs) if (s.name !== 'node1') this.start(s.name);
    const others = this.specs.length - 1;
    await this.waitFor(`${others} replicas streaming`, async () => ((await streamingStandbys(this.spec(primary).pgPort)).filter((n) => n.startsWith('node')).length === others ? true : undefined), 120_000);
    return primary;
  }

  /** The arbiter loop, while it runs: it settles only when the loop ends. */
  get arbiterRunning(): Promise<unknown> | undefined {
    return this.arbiterDone;
  }

  read(): Promise<ClusterSnapshot> {
    return this.store.readCluster(this.cluster);
  }

  /** Polls until `check` returns a value (not undefined), or fails after timeoutMs with the last snapshot. */
  async waitFor<T>(what: string, check: (s: ClusterSnapshot) => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: ClusterSnapshot | undefined;
    while (Date.now() < deadline) {
      last = await this.read();
      const v = await check(last);
      if (v !== undefined) return v;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; cluster: ${JSON.stringify(last)}\n${this.logs()}`);
  }

  logs(): string {
    return this.specs
      .map((s) => {
        let text = '';
        try {
          text = readFileSync(s.logPath, 'utf8').split('\n').slice(-25).join('\n');
        } catch {
          text = '(no log)';
        }
        return `--- ${s.name} ---\n${text}`;
      })
      .join('\n');
  }

  async stop(): Promise<void> {
    this.arbiterStop.abort();
    await this.arbiterDone;
    for (const a of this.agents.values()) a.child.kill('SIGTERM');
    await Promise.race([Promise.all([...this.agents.values()].map((a) => a.exited)), new Promise((r) => setTimeout(r, 15_000))]);
    cleanupLeftovers(this.baseDir, this.specs.map((s) => s.name));
    await this.movers.close();
    for (const p of this.storeProxies.values()) await p.close();
    this.arbiterClient?.destroy();
    await this.storeProxy?.close();
    await this.table.close();
    if (process.env.PGFLOAT_TEST_KEEP === undefined) rmSync(this.baseDir, { recursive: true, force: true });
  }
}

/** One statement on a node, as the postgres superuser over TCP; throws when refused. */
export async function sql<R extends pg.QueryResultRow = pg.QueryResultRow>(port: number, text: string, params: unknown[] = [], timeoutMs = 2000): Promise<R[]> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: timeoutMs, statement_timeout: timeoutMs, query_timeout: timeoutMs });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query<R>(text, params)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export function leaderActive(s: ClusterSnapshot): string | undefined {
  return s.leader?.phase === 'active' ? s.leader.holder : undefined;
}

/** The primary's streaming standbys by application_name. */
export async function streamingStandbys(port: number): Promise<string[]> {
  const rows = await sql<{ application_name: string }>(port, "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming' ORDER BY 1").catch(() => []);
  return rows.map((r) => r.application_name);
}
