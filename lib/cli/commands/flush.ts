// `pgfloat flush [cluster] switchover`: cancels the pending or scheduled
// switchover or failover request. The delete is a CAS on the version read,
// so a request replaced meanwhile is not cancelled unseen.
// `pgfloat flush [cluster] restart`: cancels the restarts scheduled on the
// members (all, or --member), each on its own agent's API.
import { clusterLabel } from '../../dcs/keys.js';
import type { ClusterSnapshot } from '../../dcs/store.js';
import { currentLeader } from '../cluster-view.js';
import { FORCE_OPTION, flag, stringsOption, type CommandArgs, type CommandSpec } from '../command.js';
import type { CommandContext } from '../context.js';
import { callAgent, requireApiAuth } from '../agent-api.js';
import { LostRaceError, RefusedError, UsageError } from '../errors.js';
import { describeRequest } from './requests.js';

const TARGETS = ['switchover', 'restart'] as const;

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
  synopsis: 'flush [cluster] switchover|restart [--member M ...] [--force]',
  help: ['--member M, -m M    restart: the member whose scheduled restart to cancel (repeatable); default every member', '--force, -f         do not ask for confirmation'],
  options: { ...FORCE_OPTION, member: { type: 'string', multiple: true, short: 'm' } },
  positionals: ['target'],
  checkPositionals([what]) {
    if (!TARGETS.some((t) => t === what)) {
      throw new UsageError(`flush ${what ?? ''}: the targets are switchover and restart, e.g. pgfloat flush pgfloat/orders switchover`, this.name);
    }
  },
  async run(ctx, args) {
    if (args.positionals[0] === 'restart') return flushRestart(ctx, args);
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

async function flushRestart(ctx: CommandContext, args: CommandArgs): Promise<number> {
  const auth = requireApiAuth(ctx, 'flush restart');
  const snap = await ctx.store.readCluster(ctx.cluster);
  const names = stringsOption(args, 'member');
  for (const n of names) {
    if (!snap.members.some((m) => m.name === n)) throw new RefusedError(`flush restart refused: ${n} is not a member of ${clusterLabel(ctx.cluster)}; nothing done`);
  }
  const chosen = names.length === 0 ? snap.members : snap.members.filter((m) => names.includes(m.name));
  await ctx.confirm(`Cancel the scheduled restarts of ${chosen.map((m) => m.name).join(', ')}?`, flag(args, 'force'));
  const results: { member: string; status: number; message: string }[] = [];
  for (const m of chosen) {
    const a = await callAgent(m, 'DELETE', '/restart', undefined, auth, 15_000);
    results.push({ member: m.name, ...a });
    ctx.say(`${m.name}: ${a.status === 200 ? 'cancelled' : a.status === 404 ? 'none scheduled' : `FAILED: ${a.message}`}`);
  }
  ctx.result(results);
  return results.every((r) => r.status === 200 || r.status === 404) ? 0 : 1;
}
