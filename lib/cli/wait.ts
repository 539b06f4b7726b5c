// Follows a switchover or failover request until the new leader runs, with
// one progress line per step, each with the time elapsed since the request:
//   requested -> leader asked to hand over -> leader demoted (switchover only)
//   -> candidate granted -> promoted -> endpoint moved
// Bounded by the caller's timeout; reads the cluster every pollMs.
import type { LeaderItem } from '../dcs/items.js';
import type { ClusterSnapshot } from '../dcs/store.js';
import type { CommandContext } from './context.js';
import { formatLsn, progressLine, seconds } from './format.js';

export interface WaitPlan {
  readonly kind: 'switchover' | 'failover';
  /** The leader item when the request was written; null when there was none. */
  readonly before: LeaderItem | null;
  /** The member asked for; undefined lets the arbiter choose. */
  readonly to: string | undefined;
  /** The version of the request item this run wrote. */
  readonly requestVersion: number;
  readonly timeoutMs: number;
}

type Step = 'handover' | 'demoted' | 'granted' | 'promoted' | 'endpoint';

const NEXT: Record<Step | 'requested', string> = {
  requested: 'the arbiter to act on the request',
  handover: 'the leader to stop writes',
  demoted: 'the candidate to catch up and be granted the lease',
  granted: 'the new leader to promote',
  promoted: 'the endpoint to move',
  endpoint: 'nothing',
};

export async function waitForNewLeader(ctx: CommandContext, plan: WaitPlan): Promise<number> {
  const start = ctx.elapsed();
  const done = new Set<Step>();
  let last: Step | 'requested' = 'requested';
  const noun = plan.kind === 'switchover' ? 'Switchover' : 'Failover';
  const mark = (step: Step, at: number, message: string): void => {
    if (done.has(step)) return;
    done.add(step);
    last = step;
    ctx.say(progressLine(at, message));
  };
  const route = `${plan.before === null ? '(no leader)' : plan.before.holder} -> ${plan.to ?? 'the best eligible member'}`;
  ctx.say(progressLine(0, `${plan.kind} requested: ${route}`));

  for (;;) {
    const snap = await ctx.store.readCluster(ctx.cluster);
    const at = ctx.elapsed() - start;
    const outcome = observe(snap, plan, at, mark);
    if (outcome !== null) {
      ctx.say(outcome.message);
      return outcome.code;
    }
    if (at >= plan.timeoutMs) {
      if (done.has('promoted')) {
        const l = snap.leader;
        ctx.say(
          `${noun} done: ${l?.holder ?? '?'} leads (term ${l?.term ?? '?'}); the endpoint has not moved after ${seconds(at)} s: the arbiter moves it on its next tick (see "pgfloat list")`,
        );
        return 0;
      }
      ctx.say(
        `Timed out after ${seconds(at)} s waiting for ${NEXT[last]}: the request stays with the arbiter (see "pgfloat list", or run again with a longer --wait)`,
      );
      return 1;
    }
    await ctx.sleep(Math.max(1, Math.min(ctx.pollMs, plan.timeoutMs - at)));
  }
}

/** How the wait ends; null while it goes on. */
type Outcome = { readonly code: number; readonly message: string };

function observe(
  snap: ClusterSnapshot,
  plan: WaitPlan,
  at: number,
  mark: (step: Step, at: number, message: string) => void,
): Outcome | null {
  const before = plan.before;
  const l = snap.leader;
  const noun = plan.kind === 'switchover' ? 'Switchover' : 'Failover';
  const newTerm = l !== null && (before === null || l.term > before.term);

  if (!newTerm) {
    if (l !== null && before !== null && l.term === before.term) {
      if (l.phase === 'handover' || l.phase === 'demoted') {
        mark('handover', at, `leader ${l.holder} asked to hand over to ${l.candidate ?? 'an unnamed candidate'}`);
      }
      if (l.phase === 'demoted') mark('demoted', at, `leader ${l.holder} demoted: stopped writes at ${formatLsn(l.finalLsn ?? l.lastLsn)}`);
      if (l.phase === 'handover' || l.phase === 'demoted') return null;
    }
    const f = snap.failover;
    if (f === null) {
      return {
        code: 1,
        message: `${noun} not done: the arbiter cleared the request without moving the leader (it refused it: see the arbiter's log for the reason)`,
      };
    }
    if (f.version !== plan.requestVersion) {
      return { code: 1, message: `${noun} not done: the request was replaced by another one (requested by ${f.request.requestedBy})` };
    }
    return null;
  }

  mark('granted', at, `${l.holder} granted the lease (term ${l.term})`);
  const wrongMember = plan.to !== undefined && l.holder !== plan.to;
  const tookBack = plan.kind === 'switchover' && before !== null && l.holder === before.holder;
  if (wrongMember || tookBack) {
    return {
      code: 1,
      message: `${noun} to ${plan.to ?? 'another member'} abandoned: ${l.holder} was granted term ${l.term} instead (${l.reason})`,
    };
  }
  if (l.phase === 'granted') return null;
  if (l.phase !== 'active') {
    return { code: 1, message: `${noun} not done: ${l.holder} holds term ${l.term} in phase ${l.phase}` };
  }
  mark('promoted', at, `${l.holder} promoted (term ${l.term})`);
  const endpointKind = snap.config?.config.endpoint.kind ?? 'none';
  if (endpointKind === 'none') return { code: 0, message: `${noun} done: ${l.holder} leads (term ${l.term}); no endpoint configured` };
  const e = snap.endpoint;
  if (e !== null && e.term === l.term && e.member === l.holder) {
    mark('endpoint', at, `endpoint (${endpointKind}) moved to ${l.holder}: ${e.target}`);
    return { code: 0, message: `${noun} done: ${l.holder} leads (term ${l.term})` };
  }
  return null;
}
