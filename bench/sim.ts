// npm run bench:sim [-- --seeds N]: schedules per second, and per fault class
// the distribution of failover time and write unavailability (virtual ms).
import { parseArgs } from 'node:util';
import { FAULT_CLASSES } from '../lib/sim/faults.js';
import { simulate } from '../lib/sim/world.js';

const { values } = parseArgs({ options: { seeds: { type: 'string', default: '100000' } } });
const total = Number(values.seeds);
const per = Math.max(1, Math.floor(total / FAULT_CLASSES.length));
const q = (xs: number[], p: number): string => (xs.length === 0 ? '-' : String(Math.round([...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] as number)));
const began = performance.now();
let seed = 1;
let violated = 0;
console.log('class                    runs  failover ms (median/p95/max)   unavailable ms (median/p95/max)');
for (const kind of FAULT_CLASSES) {
  const failover: number[] = [];
  const unavailable: number[] = [];
  for (let i = 0; i < per; i++) {
    const r = await simulate({ seed: seed++, classes: [kind], profile: 'short' });
    if (r.violations.length > 0) violated += 1;
    for (const f of r.failoverMs) if (f !== null) failover.push(f);
    unavailable.push(r.unavailableMs);
  }
  console.log(`${kind.padEnd(24)} ${String(per).padStart(5)}  ${`${q(failover, 0.5)}/${q(failover, 0.95)}/${q(failover, 1)}`.padEnd(30)} ${q(unavailable, 0.5)}/${q(unavailable, 0.95)}/${q(unavailable, 1)}`);
}
const s = (performance.now() - began) / 1000;
console.log(`${per * FAULT_CLASSES.length} schedules in ${s.toFixed(1)} s: ${((per * FAULT_CLASSES.length) / s).toFixed(0)} schedules/s; ${violated} with a violated invariant`);
