// npm run bench:sim [-- --seeds N] [-- --workers W]: schedules per second, and
// per fault class the distribution of failover time (fault start to the first
// write acknowledged under a newer term) and of the longest write gap, in
// virtual ms, over N seeds (default 100,000) split evenly between the classes.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { FAULT_CLASSES } from '../lib/sim/faults.js';
import type { ClassFigures } from './sim-worker.js';
import { quantile } from './stats.js';

const { values } = parseArgs({ options: { seeds: { type: 'string', default: '100000' }, workers: { type: 'string', default: String(availableParallelism()) } } });
const total = Number(values.seeds);
const workers = Number(values.workers);
if (!Number.isInteger(total) || total < FAULT_CLASSES.length) throw new Error(`--seeds: a whole number of at least ${FAULT_CLASSES.length}, got ${values.seeds}`);
if (!Number.isInteger(workers) || workers < 1) throw new Error(`--workers: a whole number of at least 1, got ${values.workers}`);
const per = Math.floor(total / FAULT_CLASSES.length);
const runs = per * FAULT_CLASSES.length;

const began = performance.now();
let done = 0;
function share(index: number): Promise<Record<string, ClassFigures>> {
  return new Promise((resolve, reject) => {
    const file = pathToFileURL(join(import.meta.dirname, 'sim-worker.ts')).href;
    const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(file)}); })`;
    const w = new Worker(boot, { eval: true, workerData: { index, stride: workers, per } });
    w.on('message', (m: { progress?: number; figures?: Record<string, ClassFigures> }) => {
      if (m.figures !== undefined) return resolve(m.figures);
      done += m.progress ?? 0;
      if (done % 5000 === 0) process.stderr.write(`  ${done}/${runs} schedules, ${(done / ((performance.now() - began) / 1000)).toFixed(0)}/s\n`);
    });
    w.once('error', reject);
    w.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`worker exited with ${code}`))));
  });
}

console.log(`${runs} schedules (${per} per fault class, short profile) on ${workers} worker threads`);
const shares = await Promise.all(Array.from({ length: workers }, (_, i) => share(i)));
const q = (xs: number[], p: number): string => (xs.length === 0 ? '-' : String(Math.round(quantile(xs, p))));
let violated = 0;
console.log('class                     runs  failovers  failover ms (median/p95/max)  unavailable ms (median/p95/max)  violated');
for (const kind of FAULT_CLASSES) {
  const all = shares.map((s) => s[kind] as ClassFigures);
  const failover = all.flatMap((f) => f.failover).sort((a, b) => a - b);
  const unavailable = all.flatMap((f) => f.unavailable).sort((a, b) => a - b);
  const bad = all.flatMap((f) => f.violated).sort((a, b) => a - b);
  violated += bad.length;
  const n = all.reduce((x, f) => x + f.runs, 0);
  console.log(
    `${kind.padEnd(24)} ${String(n).padStart(5)}  ${String(failover.length).padStart(9)}  ${`${q(failover, 0.5)}/${q(failover, 0.95)}/${q(failover, 1)}`.padEnd(29)} ${`${q(unavailable, 0.5)}/${q(unavailable, 0.95)}/${q(unavailable, 1)}`.padEnd(32)} ${bad.length === 0 ? '0' : `${bad.length} (seeds ${bad.slice(0, 3).join(', ')})`}`,
  );
}
const s = (performance.now() - began) / 1000;
console.log(`${runs} schedules in ${s.toFixed(1)} s: ${(runs / s).toFixed(0)} schedules/s; ${violated} with a violated invariant`);
