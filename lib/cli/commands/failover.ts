// `pgfloat failover --candidate M`: manual failover. The arbiter grants the
// named member a new term whatever the state of the current leader (paused
// clusters included); the lag rule does not apply, every other rule does.
import type { FailoverRequest } from '../../dcs/items.js';
import { clusterLabel } from '../../dcs/keys.js';
import { eligibleCandidate } from '../candidate.js';
import { currentLeader } from '../cluster-view.js';
import { FORCE_OPTION, WAIT_OPTIONS, flag, stringOption, waitOption, type CommandSpec } from '../command.js';
import { RefusedError, UsageError } from '../errors.js';
import { waitForNewLeader } from '../wait.js';
import { refusePending, requestJson, writeRequest } from './requests.js';
import { memberArgument } from './switchover.js';

export const failover: CommandSpec = {
  name: 'failover',
  summary: 'promote a named member now, without a graceful handover',
  synopsis: 'failover [cluster] --candidate M [--holder-stopped] [--force] [--wait S | --no-wait]',
  help: [
    '--candidate M       the member to promote (required)',
    '--holder-stopped    you stopped the PostgreSQL of a holder that renewed unfenced while paused',
    '--force, -f         do not ask for confirmation; replace a pending request',
    '--wait S            follow the failover for up to S seconds (default 60)',
    '--no-wait           write the request and return',
  ],
  options: { candidate: { type: 'string' }, 'holder-stopped': { type: 'boolean' }, ...FORCE_OPTION, ...WAIT_OPTIONS },
  positionals: [],
  async run(ctx, args) {
    const raw = stringOption(this, args, 'candidate');
    if (raw === undefined) throw new UsageError('failover needs --candidate M: the member to promote', this.name);
    const candidate = memberArgument(this, '--candidate', raw);
    const waitMs = waitOption(this, args, 60);
    const force = flag(args, 'force');
    const now = ctx.now();
    const action = `failover to ${candidate}`;
    const label = clusterLabel(ctx.cluster);

    const snap = await ctx.store.readCluster(ctx.cluster);
    const leader = currentLeader(snap);
    if (leader !== null && leader.holder === candidate) {
      throw new RefusedError(`${action} refused: ${candidate} already leads (term ${leader.term}, ${leader.phase}); nothing written`);
    }
    const holderStopped = flag(args, 'holder-stopped');
    if (leader !== null && leader.unfenced === true && !holderStopped) {
      throw new RefusedError(
        `${action} refused: ${leader.holder} holds term ${leader.term} unfenced (it renewed while paused, with no fence), so its PostgreSQL may still take writes. Resume and let it renew, or stop its PostgreSQL and pass --holder-stopped; nothing written`,
      );
    }
    eligibleCandidate(snap, candidate, now, action, { skipLag: true });
    refusePending(snap.failover, force, action);

    const replacing =
      leader === null ? 'The cluster has no leader.' : `Leader ${leader.holder} (term ${leader.term}, ${leader.phase}) loses the lease at once.`;
    const hint = leader !== null && leader.phase === 'active' ? ' The leader is healthy: "switchover" hands over without losing writes.' : '';
    await ctx.confirm(`Failover of ${label} to ${candidate}. ${replacing}${hint} Are you sure?`, force);
    const request: FailoverRequest = {
      kind: 'failover',
      ...(snap.leader === null ? {} : { from: snap.leader.holder }),
      to: candidate,
      ...(holderStopped ? { holderStopped: true } : {}),
      requestedAt: now,
      requestedBy: ctx.operator,
    };
    const item = await writeRequest(ctx, request, snap.failover, action);
    ctx.result(requestJson(item));
    if (waitMs === null) {
      ctx.say(`Failover requested: ${snap.leader?.holder ?? '(no leader)'} -> ${candidate}`);
      return 0;
    }
    return waitForNewLeader(ctx, { kind: 'failover', before: snap.leader, to: candidate, requestVersion: item.version, timeoutMs: waitMs });
  },
};
