// The leader item's phase as a state machine. The arbiter grants and asks
// for handovers; the holder confirms, stops writes and releases. `from: null`
// is a cluster without a leader item yet.
import { LEADER_PHASES, type LeaderPhase } from '../dcs/items.js';

export type PhaseActor = 'arbiter' | 'holder';

export interface PhaseTransition {
  readonly from: LeaderPhase | null;
  readonly to: LeaderPhase;
  readonly by: PhaseActor;
  readonly reason: string;
}

const holderSteps: readonly PhaseTransition[] = [
  { from: 'granted', to: 'active', by: 'holder', reason: 'promoted' },
  { from: 'handover', to: 'demoted', by: 'holder', reason: 'stopped writes' },
];

const arbiterSteps: readonly PhaseTransition[] = [
  { from: 'active', to: 'handover', by: 'arbiter', reason: 'switchover requested' },
];

const releases: readonly PhaseTransition[] = LEADER_PHASES.filter((p) => p !== 'released').map((from) => ({
  from,
  to: 'released' as const,
  by: 'holder' as const,
  reason: 'clean shutdown',
}));

const grants: readonly PhaseTransition[] = [null, ...LEADER_PHASES].map((from) => ({
  from,
  to: 'granted' as const,
  by: 'arbiter' as const,
  reason: 'grant (new term)',
}));

export const LEADER_PHASE_TRANSITIONS: readonly PhaseTransition[] = Object.freeze(
  [...holderSteps, ...arbiterSteps, ...releases, ...grants].map((t) => Object.freeze(t)),
);

export function findTransition(from: LeaderPhase | null, to: LeaderPhase, by: PhaseActor): PhaseTransition | undefined {
  return LEADER_PHASE_TRANSITIONS.find((t) => t.from === from && t.to === to && t.by === by);
}

export function canTransition(from: LeaderPhase | null, to: LeaderPhase, by: PhaseActor): boolean {
  return findTransition(from, to, by) !== undefined;
}
