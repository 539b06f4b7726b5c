// Runs bench:sim's share of schedules in a worker thread: seeds `from + i * stride`
// of each fault class, and posts per class the failover times and write gaps.
import { parentPort, workerData } from 'node:worker_threads';
import { FAULT_CLASSES } from '../lib/sim/faults.js';
import { simulate } from '../lib/sim/world.js';

export interface ClassFigures {
  runs: number;
  readonly violated: number[];
  readonly failover: number[];
  readonly unavailable: number[];
}

const { index, stride, per } = workerData as { index: number; stride: number; per: number };
const out: Record<string, ClassFigures> = {};
let done = 0;
for (const [k, kind] of FAULT_CLASSES.entries()) {
  const f: ClassFigures = { runs: 0, violated: [], failover: [], unavailable: [] };
  for (let i = index; i < per; i += stride) {
    const seed = 1 + k * per + i;
    const r = await simulate({ seed, classes: [kind], profile: 'short' });
    f.runs += 1;
    if (r.violations.length > 0) f.violated.push(seed);
    for (const x of r.failoverMs) if (x !== null) f.failover.push(x);
    f.unavailable.push(r.unavailableMs);
    if (++done % 250 === 0) parentPort?.postMessage({ progress: 250 });
  }
  out[kind] = f;
}
parentPort?.postMessage({ figures: out });
