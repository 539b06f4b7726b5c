// Seeded fault schedules: which faults, on whom, when, for how long.
import type { Rng } from './prng.js';

export const FAULT_CLASSES = [
  'agent-crash',
  'node-crash',
  'pg-crash',
  'agent-stall',
  'store-outage',
  'store-latency',
  'lost-responses',
  'partition-node-store',
  'partition-arbiter-store',
  'partition-client-node',
  'arbiter-restart',
  'arbiter-death',
  'arbiter-duplicate',
  'arbiter-delay',
  'switchover',
  'hostile-item',
  'replication-lag',
  'partition-member-api',
  /** An operator pauses the cluster (maintenance mode) for the fault's duration, then resumes it. */
  'pause',
  /** An operator asks the node's agent, over its API, to restart PostgreSQL (a primary restarts inside its lease). */
  'operator-restart',
  /** The node's pre_promote script fails (vetoes every promotion) for the fault's duration. */
  'pre-promote-veto',
] as const;
export type FaultClass = (typeof FAULT_CLASSES)[number];

export interface Fault {
  readonly kind: FaultClass;
  /** Virtual ms. */
  readonly at: number;
  readonly durationMs: number;
  /** Node index, where the fault is about one node. */
  readonly node: number;
}

/** Faults begin in [FAULTS_FROM, FAULTS_UNTIL). */
export const FAULTS_FROM = 25_000;
export const FAULTS_UNTIL = 85_000;

/** `short`: faults within 25-45 s, at most 12 s each (the CI budget); `full`: within 25-85 s, up to 25 s. */
export type Profile = 'short' | 'full';

export function faultSchedule(rng: Rng, nodes: number, classes: readonly FaultClass[], profile: Profile = 'full'): Fault[] {
  const until = profile === 'short' ? 45_000 : FAULTS_UNTIL;
  const n = rng.int(1, profile === 'short' ? 4 : 6);
  const out: Fault[] = [];
  for (let i = 0; i < n; i++) {
    const kind = rng.pick(classes);
    const at = rng.int(FAULTS_FROM, until);
    const long = kind === 'agent-stall' || kind === 'partition-node-store' || kind === 'store-outage' || kind === 'partition-member-api';
    const durationMs = rng.int(100, long && profile === 'full' ? 25_000 : 12_000);
    out.push({ kind, at, durationMs, node: rng.int(0, nodes - 1) });
  }
  return out.sort((a, b) => a.at - b.at);
}
