// npm run bench:agent [-- --seconds S]
// The agent's footprint when idle. A local cluster of three nodes at the
// default timing (ttl 10 s, loop_wait 2 s); once it is healthy (leader
// active, endpoint on it, every replica streaming), each agent process is
// sampled every second: resident memory (VmRSS of /proc/<pid>/status) and
// CPU time (utime + stime of /proc/<pid>/stat, in clock ticks). Printed per
// node with its role, then the leader against the replicas, with each node's
// postmaster RSS for context.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { postmasterPid } from '../lib/local/cluster.js';
import { freeLoopbackPort } from '../lib/local/dynamodb-local.js';
import { LocalRun } from '../lib/local/run.js';
import { streamingStandbys } from '../test/support/pgcluster.js';
import { checkTiming, numberArg } from '../lib/local/args.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    nodes: { type: 'string', default: '3' },
    ttl: { type: 'string', default: '10' },
    'loop-wait': { type: 'string', default: '2' },
    'retry-timeout': { type: 'string', default: '4' },
    'tick-ms': { type: 'string', default: '250' },
    settle: { type: 'string', default: '5' },
    dir: { type: 'string' },
    'unsafe-fast': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  console.log(`npm run bench:agent [-- options]
  --seconds S          how long to sample, one sample a second (60)
  --nodes N            PostgreSQL nodes, each with its agent (3)
  --ttl S --loop-wait S --retry-timeout S   cluster timing (10, 2, 4)
  --tick-ms MS         arbiter tick (250)
  --settle S           wait this long after the cluster is healthy before sampling (5)
  --dir DIR            where the nodes and the store live (default: a fresh directory under /tmp, removed at the end)
  --keep               keep that directory
  --unsafe-fast        fsync off`);
  process.exit(0);
}

const seconds = numberArg('seconds', values.seconds, 2, true);
const nodes = numberArg('nodes', values.nodes, 1, true);
const ttl = numberArg('ttl', values.ttl, 1);
const loopWait = numberArg('loop-wait', values['loop-wait'], 0.1);
const retryTimeout = numberArg('retry-timeout', values['retry-timeout'], 0.1);
const tickMs = numberArg('tick-ms', values['tick-ms'], 50, true);
const settleS = numberArg('settle', values.settle, 0);
checkTiming(ttl, loopWait, retryTimeout);
const HEALTHY_TIMEOUT_MS = 240_000;
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface ProcSample {
  readonly rssKb: number;
  /** utime + stime, clock ticks. */
  readonly ticks: number;
  /** cutime + cstime: children the process waited for (pg_ctl and the like), clock ticks. */
  readonly childTicks: number;
}

/** One reading of /proc/<pid>; null when the process is gone or unreadable. */
function readProc(pid: number): ProcSample | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "pid (comm) ": index 0 is field 3 (state); utime is field 14.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
    const at = (field: number): number => f[field - 3] ?? 0;
    return { rssKb: Number(rss?.[1] ?? 0), ticks: at(14) + at(15), childTicks: at(16) + at(17) };
  } catch {
    return null;
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

const mb = (kb: number): string => (Number.isNaN(kb) ? '-' : (kb / 1024).toFixed(1));
const pct = (x: number): string => (Number.isNaN(x) ? '-' : x.toFixed(2));

async function waitHealthy(run: LocalRun): Promise<string> {
  const deadline = Date.now() + HEALTHY_TIMEOUT_MS;
  let why = 'not read yet';
  while (Date.now() < deadline) {
    const snap = await run.store.readCluster(run.cluster).catch(() => null);
    const l = snap?.leader ?? null;
    if (snap === null || l === null || l.phase !== 'active') why = 'no active leader';
    else if (snap.endpoint?.member !== l.holder) why = `endpoint not on ${l.holder}`;
    else {
      const streaming = await streamingStandbys(run.spec(l.holder).pgPort);
      const missing = run.specs.map((s) => s.name).filter((n) => n !== l.holder && !streaming.includes(n));
      if (missing.length === 0) return l.holder;
      why = `not streaming from ${l.holder}: ${missing.join(', ')}`;
    }
    await sleep(250);
  }
  throw new Error(`the cluster was not healthy within ${HEALTHY_TIMEOUT_MS / 1000} s: ${why}; see the agents' logs under ${run.o.dir}/node*/agent.log`);
}

interface NodeSeries {
  readonly name: string;
  readonly agentPids: Set<number>;
  readonly agent: ProcSample[];
  readonly postmasterRssKb: number[];
}

const createdDir = values.dir === undefined;
const baseDir = values.dir ?? mkdtempSync('/tmp/pgfloat-bench-');
// Agents run as the postgres user when this runs as root: it must reach the nodes' directories.
mkdirSync(baseDir, { recursive: true });
chmodSync(baseDir, 0o755);
process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';

const run = new LocalRun({
  dir: join(baseDir, 'agent'),
  nodes,
  endpointPort: await freeLoopbackPort(),
  dynamoPort: await freeLoopbackPort(),
  ttl,
  loopWait,
  retryTimeout,
  synchronousMode: false,
  tickMs,
  schedulePeriodMs: 60_000,
  cluster: { namespace: 'bench', scope: 'agent' },
  unsafeFast: values['unsafe-fast'],
  restartAfterMs: 0,
});

let interrupted = false;
const onSignal = (): void => {
  if (interrupted) return;
  interrupted = true;
  console.error('\ninterrupted: stopping the local cluster');
  void run
    .stop()
    .catch(() => undefined)
    .finally(() => {
      if (createdDir && !values.keep) rmSync(baseDir, { recursive: true, force: true });
      process.exit(130);
    });
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

console.log(
  `settings: ${nodes} nodes, ttl ${ttl} s, loop_wait ${loopWait} s, retry_timeout ${retryTimeout} s, arbiter tick ${tickMs} ms, ` +
    `fsync ${values['unsafe-fast'] ? 'off' : 'on'}; ${seconds} s sampled once a second, from ${settleS} s after the cluster is healthy`,
);
console.log(`machine: ${cpus().length} CPUs, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}; clock ticks ${CLK_TCK}/s`);

try {
  await run.start();
  const leaderBefore = await waitHealthy(run);
  await sleep(settleS * 1000);
  const series: NodeSeries[] = run.specs.map((s) => ({ name: s.name, agentPids: new Set(), agent: [], postmasterRssKb: [] }));
  const self0 = process.cpuUsage();
  const selfRss: number[] = [];
  const t0 = performance.now();
  let t1 = t0;
  for (let i = 0; i <= seconds && !interrupted; i++) {
    // Samples on a fixed schedule from t0, whatever each reading costs.
    await sleep(Math.max(0, t0 + i * 1000 - performance.now()));
    t1 = performance.now();
    for (const s of series) {
      const pid = run.agents.get(s.name)?.child.pid;
      const a = pid === undefined ? null : readProc(pid);
      if (pid !== undefined && a !== null) {
        s.agentPids.add(pid);
        s.agent.push(a);
      }
      const pm = postmasterPid(run.spec(s.name));
      const p = pm === null ? null : readProc(pm);
      if (p !== null) s.postmasterRssKb.push(p.rssKb);
    }
    selfRss.push(process.memoryUsage().rss / 1024);
  }
  const wall = (t1 - t0) / 1000;
  const self = process.cpuUsage(self0);
  const leaderAfter = (await run.store.readCluster(run.cluster)).leader?.holder ?? '?';

  console.log(`\n${'node'.padEnd(7)} ${'role'.padEnd(8)} ${'agent RSS MB: min'.padStart(17)} ${'median'.padStart(7)} ${'max'.padStart(7)}  ${'CPU %'.padStart(6)}  ${'children CPU %'.padStart(14)}  ${'postmaster RSS MB'.padStart(17)}`);
  const byRole = { leader: [] as { rss: number; cpu: number }[], replica: [] as { rss: number; cpu: number }[] };
  for (const s of series) {
    const role = s.name === leaderAfter ? 'leader' : 'replica';
    const rss = s.agent.map((x) => x.rssKb);
    const first = s.agent[0];
    const last = s.agent.at(-1);
    // CPU over the window, only while one process ran (a restarted agent's counters start again).
    const cpu = first !== undefined && last !== undefined && s.agentPids.size === 1 ? ((last.ticks - first.ticks) / CLK_TCK / wall) * 100 : Number.NaN;
    const childCpu = first !== undefined && last !== undefined && s.agentPids.size === 1 ? ((last.childTicks - first.childTicks) / CLK_TCK / wall) * 100 : Number.NaN;
    byRole[role].push({ rss: median(rss), cpu });
    const note = s.agentPids.size > 1 ? '  (the agent restarted during the window)' : s.agent.length <= seconds ? `  (${s.agent.length}/${seconds + 1} samples)` : '';
    console.log(
      `${s.name.padEnd(7)} ${role.padEnd(8)} ${mb(Math.min(...rss)).padStart(17)} ${mb(median(rss)).padStart(7)} ${mb(Math.max(...rss)).padStart(7)}  ${pct(cpu).padStart(6)}  ${pct(childCpu).padStart(14)}  ${mb(median(s.postmasterRssKb)).padStart(17)}${note}`,
    );
  }
  const mean = (xs: readonly number[]): number => (xs.length === 0 ? Number.NaN : xs.reduce((a, b) => a + b, 0) / xs.length);
  console.log(`\nleader   agent: RSS median ${mb(mean(byRole.leader.map((x) => x.rss)))} MB, CPU ${pct(mean(byRole.leader.map((x) => x.cpu)))} %`);
  console.log(`replicas agent: RSS median ${mb(mean(byRole.replica.map((x) => x.rss)))} MB, CPU ${pct(mean(byRole.replica.map((x) => x.cpu)))} % (mean of ${byRole.replica.length})`);
  console.log(`this process (arbiter handler, endpoint proxy, sampler): RSS median ${mb(median(selfRss))} MB, CPU ${pct(((self.user + self.system) / 1e6 / wall) * 100)} %`);
  console.log(`window ${wall.toFixed(1)} s; CPU % is CPU seconds over wall seconds (100 % = one core); children: processes the agent ran and waited for`);
  console.log('agents run from source under tsx (TypeScript compiled when loaded); a bundled agent loads less code');
  if (leaderAfter !== leaderBefore) console.log(`note: the leader changed during the window (${leaderBefore} -> ${leaderAfter}): the cluster was not idle`);
} catch (err) {
  console.error(`bench:agent failed: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  await run.stop();
  if (createdDir && !values.keep) rmSync(baseDir, { recursive: true, force: true });
  else console.log(`kept ${baseDir}`);
}
