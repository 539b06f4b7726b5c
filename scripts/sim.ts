// npm run sim                      10,000 seeds, per-invariant results, schedules/s
// npm run sim -- --seeds K         K seeds
// npm run sim -- --seed N          replay one seed and print its trace
// npm run sim -- --switch keeper-disabled   remove a safeguard from the model
// npm run sim -- --class hostile-item       only this fault class (repeatable)
import { parseArgs } from 'node:util';
import { FAULT_CLASSES, type FaultClass } from '../lib/sim/faults.js';
import { INVARIANTS } from '../lib/sim/invariants.js';
import { runSeeds } from '../lib/sim/run.js';
import { LIVENESS_BOUND_MS, SWITCHES, simulate, timingHolds, TIMING, type Switch } from '../lib/sim/world.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    seeds: { type: 'string', default: '10000' },
    from: { type: 'string', default: '1' },
    switch: { type: 'string', multiple: true, default: [] },
    profile: { type: 'string', default: 'full' },
    class: { type: 'string', multiple: true, default: [] },
  },
});
const classes = (values.class ?? []).map((c) => {
  if (!(FAULT_CLASSES as readonly string[]).includes(c)) throw new Error(`unknown fault class ${c}: one of ${FAULT_CLASSES.join(', ')}`);
  return c as FaultClass;
});
const only = classes.length === 0 ? {} : { classes };
const switches = (values.switch ?? []).map((s) => {
  if (!(SWITCHES as readonly string[]).includes(s)) throw new Error(`unknown switch ${s}: one of ${SWITCHES.join(', ')}`);
  return s as Switch;
});

if (values.seed !== undefined) {
  const r = await simulate({ seed: Number(values.seed), switches, ...only, trace: true, profile: values.profile === 'short' ? 'short' : 'full' });
  console.log(`seed ${r.seed}, ${r.mode} mode, faults: ${r.faults.map((f) => `${f.kind}@${f.at}+${f.durationMs}(node ${f.node})`).join(', ')}`);
  for (const line of r.trace) console.log(line);
  console.log(r.violations.length === 0 ? 'all invariants held' : r.violations.map((v) => `VIOLATED ${v.invariant} at ${v.at}: ${v.detail}`).join('\n'));
  process.exit(r.violations.length === 0 ? 0 : 1);
}

console.log(`timing inequality (ttl ${TIMING.ttlMs}, margin ${TIMING.safetyMarginMs}, keeper ${TIMING.keeperReactionMs} ms, rho ${TIMING.rho}): ${timingHolds(TIMING) ? 'holds' : 'VIOLATED'}; liveness bound ${LIVENESS_BOUND_MS} ms`);
const count = Number(values.seeds);
const profile = values.profile === 'short' ? 'short' : 'full';
let done = 0;
let violated = 0;
const began = performance.now();
const s = await runSeeds(Number(values.from), count, { switches, profile, ...only }, (r) => {
  done += 1;
  if (r.violations.length > 0) violated += 1;
  if (done % 500 === 0 || done === count) {
    process.stderr.write(`  ${done}/${count} seeds, ${violated} with a violation, ${(done / ((performance.now() - began) / 1000)).toFixed(0)} schedules/s\n`);
  }
});
for (const inv of INVARIANTS) {
  const seeds = s.perInvariant[inv];
  console.log(`${inv.padEnd(22)} ${seeds.length === 0 ? 'held' : `VIOLATED in ${seeds.length} seeds, first ${seeds.slice(0, 5).join(', ')}`}`);
}
console.log(`${count} schedules in ${(s.ms / 1000).toFixed(1)} s: ${(count / (s.ms / 1000)).toFixed(0)} schedules/s, ${(s.events / count).toFixed(0)} events each`);
const first = s.failed[0];
if (first !== undefined) {
  console.log(`replay: npm run sim -- --seed ${first.seed} --profile ${profile}${switches.map((x) => ` --switch ${x}`).join('')}${classes.map((x) => ` --class ${x}`).join('')}`);
  const replay = await simulate({ seed: first.seed, switches, ...only, trace: true, profile });
  for (const line of replay.trace.slice(-60)) console.log(line);
}
process.exit(s.failed.length === 0 ? 0 : 1);
