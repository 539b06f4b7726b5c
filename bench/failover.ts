// npm run bench:failover [-- --trials N --switchovers N --mode async|sync|both]
// On a real local cluster (DynamoDB Local, three PostgreSQL nodes under their
// agents, the arbiter's handler on its local schedule, the endpoint proxy), a
// client opens a new connection through the endpoint every 100 ms and
// inserts an increasing id, as an application behind a load balancer would.
// - A failover trial kills the primary (kill -9 of its agent and PostgreSQL)
//   and measures RTO: from the kill to the acknowledgement of the first write
//   sent after it. It then counts acknowledged ids missing on the new primary.
// - A switchover trial requests a planned switchover as `pgfloat switchover`
//   does and measures the write gap: the longest time between two consecutive
//   acknowledged writes from the request on.
// The killed node is restarted (as systemd would) once the failover is over,
// and every trial starts from a healthy cluster: leader active, endpoint on
// it, every replica streaming, and in synchronous mode a synchronous standby.
// Patroni 3.0.2's figures at the same timing are printed beside the results.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { HistoryItem } from '../lib/dcs/items.js';
import type { ClusterSnapshot } from '../lib/dcs/store.js';
import { freeLoopbackPort } from '../lib/local/dynamodb-local.js';
import { LocalRun } from '../lib/local/run.js';
import { sql } from '../test/support/pgcluster.js';
import { checkTiming, numberArg } from '../lib/local/args.js';
import { quantile } from './stats.js';

const { values } = parseArgs({
  options: {
    trials: { type: 'string', default: '5' },
    switchovers: { type: 'string', default: '3' },
    mode: { type: 'string', default: 'both' },
    ttl: { type: 'string', default: '10' },
    'loop-wait': { type: 'string', default: '2' },
    'retry-timeout': { type: 'string', default: '4' },
    'tick-ms': { type: 'string', default: '250' },
    dir: { type: 'string' },
    'unsafe-fast': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  console.log(`npm run bench:failover [-- options]
  --trials N           kill -9 failovers per mode (5)
  --switchovers N      planned switchovers per mode (3)
  --mode M             async, sync or both (both)
  --ttl S --loop-wait S --retry-timeout S   cluster timing (10, 2, 4)
  --tick-ms MS         arbiter tick (250)
  --dir DIR            where the nodes and the store live (default: a fresh directory under /tmp, removed at the end)
  --keep               keep that directory (agents' logs under <dir>/<mode>/node*/agent.log)
  --unsafe-fast        fsync off (faster on slow disks; printed in the settings)
  --verbose            print the local cluster's own log lines`);
  process.exit(0);
}

const trials = numberArg('trials', values.trials, 0, true);
const switchovers = numberArg('switchovers', values.switchovers, 0, true);
const ttl = numberArg('ttl', values.ttl, 1);
const loopWait = numberArg('loop-wait', values['loop-wait'], 0.1);
const retryTimeout = numberArg('retry-timeout', values['retry-timeout'], 0.1);
const tickMs = numberArg('tick-ms', values['tick-ms'], 50, true);
checkTiming(ttl, loopWait, retryTimeout);
const MODES = { async: ['async'], sync: ['sync'], both: ['async', 'sync'] } as const satisfies Record<string, readonly Mode[]>;
type Mode = 'async' | 'sync';
if (!Object.hasOwn(MODES, values.mode)) {
  console.error(`--mode ${values.mode}: expected async, sync or both`);
  process.exit(2);
}
const modes: readonly Mode[] = MODES[values.mode as keyof typeof MODES];
const unsafeFast = values['unsafe-fast'];

const NODES = 3;
const WRITE_EVERY_MS = 100;
/** Connect and query timeouts of each write. */
const WRITE_TIMEOUT_MS = 500;
const MAX_IN_FLIGHT = 20;
/** The writer runs this long before a kill or a request, and after the cluster settled. */
const BEFORE_MS = 2000;
const AFTER_MS = 1500;
const HEALTHY_TIMEOUT_MS = 240_000;
const RECOVERY_TIMEOUT_MS = Math.max(120_000, ttl * 6000);
const SWITCHOVER_TIMEOUT_MS = 90_000;
/** A trial starts only after the cluster stayed healthy this long (a rejoining node may look healthy for a moment). */
const STABLE_MS = Math.max(3000, loopWait * 2000);

/** Patroni 3.0.2 with etcd, ttl 10 s, loop_wait 2 s, retry_timeout 4 s. */
const PATRONI: Record<Mode, { rtoMedian: number; rtoP95: number; gap: number; lost: number }> = {
  async: { rtoMedian: 9.55, rtoP95: 10.3, gap: 1.8, lost: 0 },
  sync: { rtoMedian: 9.75, rtoP95: 10.8, gap: 2.2, lost: 0 },
};

class BenchError extends Error {}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- the client

interface WriteRecord {
  readonly id: number;
  readonly sentAt: number;
  /** When the INSERT was acknowledged; null: refused, failed or timed out. */
  ackAt: number | null;
}

/** One INSERT on a new connection through the endpoint; true when acknowledged. */
async function insert(port: number, id: number): Promise<boolean> {
  const c = new pg.Client({
    host: '127.0.0.1',
    port,
    user: 'postgres',
    database: 'postgres',
    connectionTimeoutMillis: WRITE_TIMEOUT_MS,
    query_timeout: WRITE_TIMEOUT_MS,
  });
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.query('INSERT INTO bench_writes (id) VALUES ($1)', [id]);
    return true;
  } catch {
    return false;
  } finally {
    await Promise.race([c.end().catch(() => undefined), sleep(1000)]);
  }
}

/** Sends a write every WRITE_EVERY_MS whether or not the previous ones answered (at most MAX_IN_FLIGHT open). */
class Writer {
  readonly records: WriteRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  skipped = 0;

  constructor(
    private readonly port: number,
    public nextId: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.send(), WRITE_EVERY_MS);
  }

  private send(): void {
    if (this.inFlight.size >= MAX_IN_FLIGHT) {
      this.skipped += 1;
      return;
    }
    const rec: WriteRecord = { id: this.nextId++, sentAt: Date.now(), ackAt: null };
    this.records.push(rec);
    const p = insert(this.port, rec.id).then((ok) => {
      if (ok) rec.ackAt = Date.now();
    });
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  /** Stops sending and waits for the writes in flight (each bounded by its timeouts). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all([...this.inFlight]);
  }

  acked(): WriteRecord[] {
    return this.records.filter((r) => r.ackAt !== null);
  }

  failed(): number {
    return this.records.length - this.acked().length;
  }
}

/** Acknowledged writes whose id is not on the node at `port`. */
async function missing(port: number, acked: readonly WriteRecord[]): Promise<number> {
  if (acked.length === 0) return 0;
  const ids = acked.map((r) => r.id);
  const rows = await sql<{ id: string }>(port, 'SELECT id::text AS id FROM bench_writes WHERE id BETWEEN $1 AND $2', [Math.min(...ids), Math.max(...ids)], 10_000);
  const present = new Set(rows.map((r) => Number(r.id)));
  return ids.filter((id) => !present.has(id)).length;
}

// ----------------------------------------------------------- cluster health

interface Healthy {
  readonly leader: string;
  readonly term: number;
  readonly streaming: readonly string[];
  readonly syncStandbys: readonly string[];
  readonly snapshot: ClusterSnapshot;
}

/** Restarts any agent that is not running (as systemd would), so a trial never starts short of a node. */
function reviveDead(run: LocalRun, say: (line: string) => void): void {
  for (const s of run.specs) {
    const a = run.agents.get(s.name);
    if (a === undefined || a.child.exitCode !== null || a.child.signalCode !== null) {
      say(`${s.name}'s agent is not running: starting it`);
      run.startNode(s.name);
    }
  }
}

/** The cluster's health, or why it is not healthy yet. */
async function health(run: LocalRun, sync: boolean, snap: ClusterSnapshot): Promise<Healthy | string> {
  const l = snap.leader;
  if (l === null || l.phase !== 'active') return l === null ? 'no leader' : `leader ${l.holder} in phase ${l.phase}`;
  const e = snap.endpoint;
  if (e === null || e.member !== l.holder || e.term !== l.term) {
    return `endpoint ${e === null ? 'not recorded' : `on ${e.member} term ${e.term}`}, leader ${l.holder} term ${l.term}`;
  }
  const others = run.specs.map((s) => s.name).filter((n) => n !== l.holder);
  const ttlMs = (snap.config?.config.ttl ?? ttl) * 1000;
  const notRunning = others.filter((n) => {
    const m = snap.members.find((x) => x.name === n);
    // Same machine, same clock: a heartbeat older than ttl is a stale one.
    return m === undefined || m.role !== 'replica' || m.state !== 'running' || m.timeline !== l.timeline || Date.now() - m.heartbeatAt > ttlMs;
  });
  if (notRunning.length > 0) return `not a running replica on timeline ${l.timeline} with a fresh heartbeat: ${notRunning.join(', ')}`;
  const rows = await sql<{ name: string; state: string; sync: string }>(
    run.spec(l.holder).pgPort,
    'SELECT application_name AS name, state, sync_state AS sync FROM pg_stat_replication',
    [],
    2000,
  ).catch(() => []);
  const streaming = rows.filter((r) => r.state === 'streaming').map((r) => r.name).filter((n) => others.includes(n)).sort();
  const notStreaming = others.filter((n) => !streaming.includes(n));
  if (notStreaming.length > 0) return `not streaming from ${l.holder}: ${notStreaming.join(', ')}`;
  const waitedFor = rows.filter((r) => r.sync === 'sync' || r.sync === 'quorum').map((r) => r.name);
  const standbys = snap.sync?.leader === l.holder && snap.sync.term === l.term ? snap.sync.standbys.filter((s) => waitedFor.includes(s)) : [];
  if (sync && standbys.length === 0) return `no synchronous standby of ${l.holder} both recorded in the store and waited for by PostgreSQL`;
  return { leader: l.holder, term: l.term, streaming, syncStandbys: standbys, snapshot: snap };
}

/** Healthy, and the same leader and term healthy for at least STABLE_MS on end. */
async function waitHealthy(run: LocalRun, sync: boolean, say: (line: string) => void): Promise<Healthy> {
  const deadline = Date.now() + HEALTHY_TIMEOUT_MS;
  let why = 'not read yet';
  let since: { at: number; leader: string; term: number } | null = null;
  while (Date.now() < deadline) {
    reviveDead(run, say);
    const snap = await run.store.readCluster(run.cluster).catch((err: Error) => {
      why = `store unreadable: ${err.message}`;
      return null;
    });
    const h = snap === null ? why : await health(run, sync, snap);
    if (typeof h === 'string') {
      why = h;
      since = null;
    } else {
      if (since === null || since.leader !== h.leader || since.term !== h.term) since = { at: Date.now(), leader: h.leader, term: h.term };
      if (Date.now() - since.at >= STABLE_MS) return h;
    }
    await sleep(250);
  }
  const last = await run.store.readCluster(run.cluster).then(describe, () => 'store unreadable');
  throw new BenchError(`the cluster was not healthy within ${HEALTHY_TIMEOUT_MS / 1000} s: ${why}\n  ${last}`);
}

/** One line on the cluster's state, for error messages. */
function describe(s: ClusterSnapshot): string {
  const l = s.leader;
  const members = s.members.map((m) => `${m.name} ${m.role}/${m.state} tl ${m.timeline} lsn ${m.lsn ?? '-'}`).join('; ');
  return (
    `leader ${l === null ? 'none' : `${l.holder} term ${l.term} ${l.phase} tl ${l.timeline}`}; endpoint ${s.endpoint?.member ?? '-'} term ${s.endpoint?.term ?? '-'}; ` +
    `sync ${s.sync === null ? '-' : `${s.sync.leader} term ${s.sync.term} [${s.sync.standbys.join(', ')}]`}; members: ${members}`
  );
}

/** Polls the store until `check` returns a value; BenchError naming `what` after timeoutMs. */
async function waitFor<T>(run: LocalRun, what: string, check: (s: ClusterSnapshot) => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = 'not read yet';
  while (Date.now() < deadline) {
    const snap = await run.store.readCluster(run.cluster).catch(() => null);
    if (snap !== null) {
      const v = check(snap);
      if (v !== undefined) return v;
      last = describe(snap);
    }
    await sleep(100);
  }
  throw new BenchError(`${what} did not happen within ${(timeoutMs / 1000).toFixed(0)} s (last seen: ${last})`);
}

/** The leader of a term above `term`, active, with the endpoint on it. */
function settledAbove(term: number) {
  return (s: ClusterSnapshot): { holder: string; term: number } | undefined => {
    const l = s.leader;
    if (l === null || l.term <= term || l.phase !== 'active') return undefined;
    return s.endpoint?.member === l.holder && s.endpoint.term === l.term ? { holder: l.holder, term: l.term } : undefined;
  };
}

function logTails(run: LocalRun, lines = 15): string {
  return run.specs
    .map((s) => {
      let text: string;
      try {
        text = readFileSync(s.logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
      } catch {
        text = '(no log)';
      }
      return `--- ${s.name} (${s.logPath}) ---\n${text}`;
    })
    .join('\n');
}

// ------------------------------------------------------------------- trials

interface Row {
  readonly mode: Mode;
  readonly kind: 'failover' | 'switchover';
  readonly n: number;
  readonly from: string;
  readonly to: string;
  /** RTO (failover) or write gap (switchover), ms; null when the trial failed. */
  readonly ms: number | null;
  /** History steps of the new term, ms after the kill or the request. */
  readonly grantMs: number | null;
  readonly promoteMs: number | null;
  readonly endpointMs: number | null;
  readonly acked: number;
  readonly failed: number;
  readonly lost: number | null;
  readonly note: string;
}

interface ModeRun {
  readonly mode: Mode;
  readonly run: LocalRun;
  readonly say: (line: string) => void;
  nextId: number;
  readonly acked: WriteRecord[];
}

function steps(history: readonly HistoryItem[], term: number, t0: number): Pick<Row, 'grantMs' | 'promoteMs' | 'endpointMs'> {
  const h = history.find((x) => x.term === term);
  const rel = (at: number | undefined): number | null => (at === undefined ? null : at - t0);
  return { grantMs: rel(h?.grantedAt), promoteMs: rel(h?.promotedAt), endpointMs: rel(h?.endpointMovedAt) };
}

async function failoverTrial(m: ModeRun, n: number): Promise<Row> {
  const { run, mode } = m;
  const h = await waitHealthy(run, mode === 'sync', m.say);
  const writer = new Writer(run.o.endpointPort, m.nextId);
  let newLeader = { holder: '?', term: h.term };
  let rto: number | null = null;
  let tKill = 0;
  writer.start();
  try {
    await sleep(BEFORE_MS);
    tKill = Date.now();
    run.killNode(h.leader);
    m.say(`failover ${n}: killed ${h.leader} (term ${h.term})`);
    const deadline = tKill + RECOVERY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const after = writer.records.filter((r) => r.sentAt > tKill && r.ackAt !== null);
      if (after.length > 0) {
        rto = Math.min(...after.map((r) => r.ackAt as number)) - tKill;
        break;
      }
      await sleep(20);
    }
    if (rto === null) {
      const now = await run.store.readCluster(run.cluster).then(describe, () => 'store unreadable');
      throw new BenchError(`failover ${n}: no write acknowledged within ${RECOVERY_TIMEOUT_MS / 1000} s of the kill of ${h.leader}\n  ${now}`);
    }
    newLeader = await waitFor(run, 'a new active leader with the endpoint on it', settledAbove(h.term), Math.max(10_000, deadline - Date.now()));
    // The killed node comes back now, as systemd would restart it; it rejoins as a replica.
    run.startNode(h.leader);
    await sleep(AFTER_MS);
  } finally {
    await writer.stop();
    m.nextId = writer.nextId;
    m.acked.push(...writer.acked());
  }
  const acked = writer.acked();
  const lost = await missing(run.spec(newLeader.holder).pgPort, acked);
  const history = await run.store.listHistory(run.cluster);
  return { mode, kind: 'failover', n, from: h.leader, to: newLeader.holder, ms: rto, ...steps(history, newLeader.term, tKill), acked: acked.length, failed: writer.failed(), lost, note: '' };
}

/** The longest time between two consecutive acknowledgements, the later one at or after `from`. */
function writeGap(records: readonly WriteRecord[], from: number): number | null {
  const acks = records.map((r) => r.ackAt).filter((a): a is number => a !== null).sort((a, b) => a - b);
  let gap: number | null = null;
  for (let i = 1; i < acks.length; i++) {
    const a = acks[i] as number;
    if (a >= from) gap = Math.max(gap ?? 0, a - (acks[i - 1] as number));
  }
  return gap;
}

async function switchoverTrial(m: ModeRun, n: number): Promise<Row> {
  const { run, mode } = m;
  const h = await waitHealthy(run, mode === 'sync', m.say);
  // In synchronous mode only a synchronous standby is eligible.
  const candidate = (mode === 'sync' ? h.syncStandbys[0] : h.streaming[0]) as string;
  const writer = new Writer(run.o.endpointPort, m.nextId);
  let tReq = 0;
  let newLeader = { holder: '?', term: h.term };
  writer.start();
  try {
    await sleep(BEFORE_MS);
    const snap = await run.store.readCluster(run.cluster);
    tReq = Date.now();
    const res = await run.store.setFailover(
      run.cluster,
      { kind: 'switchover', from: h.leader, to: candidate, requestedAt: tReq, requestedBy: 'bench' },
      snap.failover?.version ?? null,
    );
    if (!res.ok) throw new BenchError(`switchover ${n}: the request was not written: the failover item changed (${JSON.stringify(res.current)})`);
    m.say(`switchover ${n}: requested ${h.leader} -> ${candidate}`);
    newLeader = await waitFor(run, `switchover to ${candidate}`, settledAbove(h.term), SWITCHOVER_TIMEOUT_MS);
    await sleep(AFTER_MS);
  } finally {
    await writer.stop();
    m.nextId = writer.nextId;
    m.acked.push(...writer.acked());
  }
  const acked = writer.acked();
  const lost = await missing(run.spec(newLeader.holder).pgPort, acked);
  const history = await run.store.listHistory(run.cluster);
  const gap = writeGap(writer.records, tReq);
  const note = newLeader.holder === candidate ? '' : `the arbiter chose ${newLeader.holder}, not ${candidate}`;
  return { mode, kind: 'switchover', n, from: h.leader, to: newLeader.holder, ms: gap, ...steps(history, newLeader.term, tReq), acked: acked.length, failed: writer.failed(), lost, note };
}

// ------------------------------------------------------------------- output

const s3 = (ms: number | null): string => (ms === null ? '-' : (ms / 1000).toFixed(3));
const HEADER = `${'mode'.padEnd(5)} ${'trial'.padEnd(12)} ${'from'.padEnd(6)} ${'to'.padEnd(6)} ${'RTO/gap s'.padStart(9)} ${'grant s'.padStart(8)} ${'promote s'.padStart(9)} ${'endpoint s'.padStart(10)} ${'acked'.padStart(6)} ${'failed'.padStart(6)} ${'lost'.padStart(5)}`;

function formatRow(r: Row): string {
  return [
    r.mode.padEnd(5),
    `${r.kind} ${r.n}`.padEnd(12),
    r.from.padEnd(6),
    r.to.padEnd(6),
    s3(r.ms).padStart(9),
    s3(r.grantMs).padStart(8),
    s3(r.promoteMs).padStart(9),
    s3(r.endpointMs).padStart(10),
    String(r.acked).padStart(6),
    String(r.failed).padStart(6),
    (r.lost === null ? '-' : String(r.lost)).padStart(5),
    ...(r.note === '' ? [] : [` ${r.note}`]),
  ].join(' ');
}

/** Linear interpolation between closest ranks (R type 7). */

function stats(values: readonly number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return `${'-'.padStart(7)} ${'-'.padStart(7)} ${'-'.padStart(7)}`;
  return [0.5, 0.95, 1].map((q) => (quantile(sorted, q) / 1000).toFixed(2).padStart(7)).join(' ');
}

function summary(mode: Mode, rows: readonly Row[], finalLost: number | null, error: string | null): void {
  const mine = rows.filter((r) => r.mode === mode);
  const fo = mine.filter((r) => r.kind === 'failover');
  const so = mine.filter((r) => r.kind === 'switchover');
  const rtos = fo.map((r) => r.ms).filter((x): x is number => x !== null);
  const gaps = so.map((r) => r.ms).filter((x): x is number => x !== null);
  const lost = mine.reduce((n, r) => n + (r.lost ?? 0), 0);
  const p = PATRONI[mode];
  console.log(`\n${mode === 'sync' ? 'synchronous' : 'asynchronous'} mode: ${rtos.length}/${trials} failovers, ${gaps.length}/${switchovers} switchovers measured`);
  console.log(`  ${''.padEnd(42)} ${'median'.padStart(7)} ${'p95'.padStart(7)} ${'max'.padStart(7)}   Patroni 3.0.2`);
  console.log(`  ${'RTO after kill -9 of the primary, s'.padEnd(42)} ${stats(rtos)}   ${p.rtoMedian} median, ${p.rtoP95} p95`);
  console.log(`  ${'write gap of a planned switchover, s'.padEnd(42)} ${stats(gaps)}   ${p.gap}`);
  console.log(`  ${'acknowledged writes lost'.padEnd(42)} ${String(lost).padStart(7)}${finalLost === null ? '' : ` (final check of all ${mode} writes on the last primary: ${finalLost} missing)`}   ${p.lost}`);
  if (error !== null) console.log(`  stopped early: ${error}`);
}

// --------------------------------------------------------------------- main

const createdDir = values.dir === undefined;
const baseDir = values.dir ?? mkdtempSync('/tmp/pgfloat-bench-');
// Agents run as the postgres user when this runs as root: it must reach the nodes' directories.
mkdirSync(baseDir, { recursive: true });
chmodSync(baseDir, 0o755);

let current: LocalRun | undefined;
let interrupted = false;
const onSignal = (): void => {
  if (interrupted) return;
  interrupted = true;
  console.error('\ninterrupted: stopping the local cluster');
  void (current?.stop() ?? Promise.resolve())
    .catch(() => undefined)
    .finally(() => {
      if (createdDir && !values.keep) rmSync(baseDir, { recursive: true, force: true });
      process.exit(130);
    });
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

// The arbiter's handler logs through Powertools on stdout; keep the tables readable.
process.env.POWERTOOLS_LOG_LEVEL ??= values.verbose ? 'INFO' : 'ERROR';

console.log(
  `settings: ${NODES} nodes, ttl ${ttl} s, loop_wait ${loopWait} s, retry_timeout ${retryTimeout} s, arbiter tick ${tickMs} ms, ` +
    `fsync ${unsafeFast ? 'off (--unsafe-fast)' : 'on'}; ${trials} failover(s) and ${switchovers} switchover(s) per mode (${modes.join(', ')})`,
);
console.log(`client: a write every ${WRITE_EVERY_MS} ms through the endpoint, each on a new connection (connect and query timeouts ${WRITE_TIMEOUT_MS} ms)`);
console.log(`machine: ${cpus().length} CPUs, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}; directory ${baseDir}`);
console.log('RTO: kill to the first acknowledged write sent after it; gap: longest time between two acknowledged writes from the request on; steps: times after the kill or the request\n');

const rows: Row[] = [];
let failures = 0;
try {
  for (const mode of modes) {
    const logLines: string[] = [];
    const say = (line: string): void => {
      const stamped = `${new Date().toISOString().slice(11, 23)} [${mode}] ${line}`;
      logLines.push(stamped);
      if (values.verbose) console.error(stamped);
    };
    const run = new LocalRun({
      dir: join(baseDir, mode),
      nodes: NODES,
      endpointPort: await freeLoopbackPort(),
      dynamoPort: await freeLoopbackPort(),
      ttl,
      loopWait,
      retryTimeout,
      synchronousMode: mode === 'sync',
      tickMs,
      schedulePeriodMs: 60_000,
      cluster: { namespace: 'bench', scope: `failover-${mode}` },
      unsafeFast,
      restartAfterMs: 0,
      log: say,
    });
    current = run;
    const m: ModeRun = { mode, run, say, nextId: 1, acked: [] };
    let error: string | null = null;
    let finalLost: number | null = null;
    try {
      await run.start();
      const h = await waitHealthy(run, mode === 'sync', say);
      await sql(run.o.endpointPort, 'CREATE TABLE IF NOT EXISTS bench_writes (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())', [], 10_000);
      say(`healthy: ${h.leader} leads term ${h.term}; streaming: ${h.streaming.join(', ')}`);
      console.log(HEADER);
      for (let i = 1; i <= trials && !interrupted; i++) {
        const r = await failoverTrial(m, i);
        rows.push(r);
        console.log(formatRow(r));
      }
      for (let i = 1; i <= switchovers && !interrupted; i++) {
        const r = await switchoverTrial(m, i);
        rows.push(r);
        console.log(formatRow(r));
      }
      const last = await waitHealthy(run, false, say);
      finalLost = await missing(run.spec(last.leader).pgPort, m.acked);
    } catch (err) {
      failures += 1;
      error = err instanceof BenchError ? err.message : ((err as Error).stack ?? String(err));
      console.error(`\n${mode} mode failed: ${error}\n${logTails(run)}\n--- bench log ---\n${logLines.slice(-20).join('\n')}`);
    } finally {
      await run.stop();
      current = undefined;
    }
    // Synchronous mode promises no acknowledged write is lost: a loss there fails the run.
    if (mode === 'sync' && (rows.some((r) => r.mode === mode && (r.lost ?? 0) > 0) || (finalLost ?? 0) > 0)) failures += 1;
    summary(mode, rows, finalLost, error);
  }
} finally {
  if (createdDir && !values.keep) rmSync(baseDir, { recursive: true, force: true });
  else console.log(`\nkept ${baseDir}`);
}
process.exitCode = failures > 0 ? 1 : 0;
