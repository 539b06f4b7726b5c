// Drives the agent's step machine through one loop: a tick, then each call
// answered by the next outcome in order (then `ok`).
import type { LocalState } from '../../lib/ha/agent.js';
import { agentStep, type AgentParams, type AgentState, type Effect, type Outcome, type PgReading } from '../../lib/ha/agent-step.js';
import { isCall } from '../../lib/ha/agent-effects.js';
import type { ClusterSnapshot } from '../../lib/dcs/store.js';

/** Member b's agent with a fence keeper, a 1 s safety margin and 50 ms fast polls. */
export const STEP_PARAMS: AgentParams = {
  name: 'b',
  tags: { nofailover: false, failoverPriority: 1, nosync: false, noloadbalance: false },
  safetyMarginMs: 1000,
  fastPollMs: 50,
  keeper: true,
  connUrl: 'postgres://b:5432/postgres',
};

export interface Loop {
  readonly calls: Effect[];
  readonly effects: Effect[];
  readonly state: AgentState;
}

export interface LoopTick {
  readonly now: number;
  readonly snapshot: ClusterSnapshot | null;
  readonly local: LocalState;
  readonly status: PgReading | null;
  readonly shuttingDown?: boolean;
}

/** One loop from a tick at `now`, calls `callMs` apart; detached heartbeats count as calls. */
export function runLoop(params: AgentParams, state: AgentState, tick: LoopTick, outcomes: Outcome[], callMs = 10): Loop {
  let now = tick.now;
  let r = agentStep(state, { type: 'tick', ...tick, shuttingDown: tick.shuttingDown ?? false }, params);
  const calls: Effect[] = [];
  const effects: Effect[] = [];
  const queue = [...outcomes];
  for (let i = 0; i < 50; i++) {
    effects.push(...r.effects);
    for (const e of r.effects) if (e.type === 'heartbeat' && e.detached === true) calls.push(e);
    const call = r.effects.find(isCall);
    if (call === undefined) break;
    calls.push(call);
    now += callMs;
    r = agentStep(r.state, { type: 'result', now, outcome: queue.shift() ?? { kind: 'ok' } }, params);
  }
  return { calls, effects, state: r.state };
}

/** The loop's calls by kind: store:renew, pg:start, keeper:arm, readStatus, ... */
export const callKinds = (l: Loop): string[] =>
  l.calls.map((c) => (c.type === 'store' ? `store:${c.op.op}` : c.type === 'pg' ? `pg:${c.op.op}` : c.type === 'keeper' ? `keeper:${c.op}` : c.type));
