// `pgfloat flush [cluster] switchover`: cancels the pending or scheduled
// switchover or failover request. The delete is a CAS on the version read,
// so a request replaced meanwhile is not cancelled unseen.
import { clusterLabel } from '../../dcs/keys.js';
import type { ClusterSnapshot } from '../../dcs/store.js';
import { currentLeader } from '../cluster-view.js';
import { FORCE_OPTION, flag, type CommandSpec } from '../command.js';
import { LostRaceError, RefusedError, UsageError } from '../errors.js';
import { describeRequest } from './requests.js';

const TARGETS = ['switchover'] as const;

/** The request to cancel, its CAS version, and how it reads; null when none is pending. */
function pending(snap: ClusterSnapshot, label: string): { version: number; text: string } | null {
  if (snap.failover !== null) return { version: snap.failover.version, text: describeRequest(snap.failover) };
  // A malformed request item may be a pending request the arbiter cannot clear; the version it carries is the token for deleting it.
  const bad = snap.malformed.find((e) => e.kind === 'failover');
  if (bad === undefined) return null;
  if (bad.version === null) {
    throw new RefusedError(`flush switchover refused: the request item of ${label} is malformed with no readable version (${bad.message}); nothing written`);
  }
  return { version: bad.version, text: `a malformed request (field ${bad.field}: ${bad.message})` };
}

export const flush: CommandSpec = {
  name: 'flush',
  summary: 'cancel the pending or scheduled switchover or failover',
  synopsis: 'flush [cluster] switchover [--force]',
  help: ['--force, -f         do not ask for confirmation'],
  options: { ...FORCE_OPTION },
  positionals: ['target'],
  checkPositionals([what]) {
    if (!TARGETS.some((t) => t === what)) {
      throw new UsageError(`flush ${what ?? ''}: the one target is switchover, e.g. pgfloat flush pgfloat/orders switchover`, this.name);
    }
  },
  async run(ctx, args) {
    const force = flag(args, 'force');
    const label = clusterLabel(ctx.cluster);
    const snap = await ctx.store.readCluster(ctx.cluster);
    const request = pending(snap, label);
    if (request === null) {
      ctx.say(`No switchover or failover pending for ${label}`);
      ctx.result({ flushed: false });
      return 0;
    }
    const leader = currentLeader(snap);
    const underway =
      leader !== null && (leader.phase === 'handover' || leader.phase === 'demoted')
        ? ` A handover from ${leader.holder} to ${leader.candidate ?? 'an unnamed candidate'} is under way (phase ${leader.phase}): it finishes whatever the request.`
        : '';
    await ctx.confirm(`Cancel ${request.text} of ${label}?${underway}`, force);
    const res = await ctx.store.clearFailover(ctx.cluster, request.version);
    if (!res.ok) {
      const now = res.current === null ? 'it was cleared' : `now: ${describeRequest(res.current)}, version ${res.current.version}`;
      throw new LostRaceError(`flush switchover not done: the request item changed while you decided (${now}); run again`);
    }
    ctx.say(`Success: cancelled ${request.text} of ${label}`);
    ctx.result({ flushed: true, version: request.version });
    return 0;
  },
};
