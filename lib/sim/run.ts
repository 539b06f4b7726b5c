// Runs many seeds and summarizes them per invariant.
import { INVARIANTS, type Invariant } from './invariants.js';
import { simulate, type SimOptions, type SimResult } from './world.js';

export interface Summary {
  readonly seeds: number;
  readonly failed: readonly SimResult[];
  readonly perInvariant: Readonly<Record<Invariant, number[]>>;
  readonly events: number;
  readonly ms: number;
}

export async function runSeeds(from: number, count: number, o: Omit<SimOptions, 'seed'> = {}, each?: (r: SimResult) => void): Promise<Summary> {
  const perInvariant = Object.fromEntries(INVARIANTS.map((i) => [i, [] as number[]])) as Record<Invariant, number[]>;
  const failed: SimResult[] = [];
  let events = 0;
  const began = performance.now();
  for (let seed = from; seed < from + count; seed++) {
    const r = await simulate({ ...o, seed });
    events += r.events;
    for (const v of r.violations) perInvariant[v.invariant].push(seed);
    if (r.violations.length > 0) failed.push(r);
    each?.(r);
  }
  return { seeds: count, failed, perInvariant, events, ms: performance.now() - began };
}
