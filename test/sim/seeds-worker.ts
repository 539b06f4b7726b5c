// Runs a range of seeds in a worker thread and posts the seeds that broke an invariant.
import { parentPort, workerData } from 'node:worker_threads';
import { FAULT_CLASSES } from '../../lib/sim/faults.js';
import { runSeeds } from '../../lib/sim/run.js';

const { from, count } = workerData as { from: number; count: number };
const s = await runSeeds(from, count, { profile: 'short', classes: FAULT_CLASSES });
parentPort?.postMessage({ seeds: s.seeds, failed: s.failed.map((r) => ({ seed: r.seed, violations: r.violations })) });
