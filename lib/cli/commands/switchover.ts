// `pgfloat switchover`: asks the arbiter to hand the lease from the healthy
// leader to a candidate (named, or the best eligible one), now or at a
// scheduled time. The candidate is checked with the arbiter's own rules
// first; a refused request writes nothing.
import type { FailoverRequest } from '../../dcs/items.js';
import { clusterLabel, memberNameSchema } from '../../dcs/keys.js';
import { eligibleCandidate, eligibleOthers } from '../candidate.js';
import { FORCE_OPTION, WAIT_OPTIONS, flag, stringOption, waitOption, type CommandArgs, type CommandSpec } from '../command.js';
import { RefusedError, UsageError } from '../errors.js';
import { formatIso } from '../format.js';
import { waitForNewLeader } from '../wait.js';
import { refusePending, requestJson, writeRequest } from './requests.js';

const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;

/** --scheduled: "now" (undefined) or a future ISO 8601 time with its zone, as epoch ms. */
export function parseScheduled(spec: CommandSpec, raw: string | undefined, now: number): number | undefined {
  if (raw === undefined || raw === 'now') return undefined;
  const at = ISO_WITH_ZONE.test(raw) ? Date.parse(raw) : Number.NaN;
  if (Number.isNaN(at)) {
    throw new UsageError(
      `--scheduled ${raw}: give "now" or an ISO 8601 time with its zone, e.g. --scheduled ${formatIso(now + 3_600_000).slice(0, 16)}Z`,
      spec.name,
    );
  }
  if (at <= now) {
    throw new UsageError(`--scheduled ${raw} is in the past (it is ${formatIso(now)} here): give a future time or "now"`, spec.name);
  }
  return at;
}

export function memberArgument(spec: CommandSpec, option: string, raw: string): string {
  const parsed = memberNameSchema.safeParse(raw);
  if (!parsed.success) {
    throw new UsageError(`${option} ${JSON.stringify(raw)}: not a member name (1-63 of A-Z a-z 0-9 _ . -, starting with a letter or digit)`, spec.name);
  }
  return parsed.data;
}

export const switchover: CommandSpec = {
  name: 'switchover',
  summary: 'hand the leader role over gracefully to a replica',
  synopsis: 'switchover [cluster] [--candidate M] [--leader L] [--scheduled <ISO time|now>] [--force] [--wait S | --no-wait]',
  help: [
    '--candidate M       the member to promote; default the best eligible replica (required while paused)',
    '--leader L          refuse unless L is the current leader',
    '--scheduled T       when: "now" (default) or an ISO 8601 time with zone, e.g. 2030-01-01T03:00Z',
    '--force, -f         do not ask for confirmation; replace a pending request',
    '--wait S            follow the switchover for up to S seconds (default 60)',
    '--no-wait           write the request and return',
  ],
  options: { candidate: { type: 'string' }, leader: { type: 'string' }, scheduled: { type: 'string' }, ...FORCE_OPTION, ...WAIT_OPTIONS },
  positionals: [],
  async run(ctx, args: CommandArgs) {
    const rawCandidate = stringOption(this, args, 'candidate');
    const candidate = rawCandidate === undefined ? undefined : memberArgument(this, '--candidate', rawCandidate);
    const rawLeader = stringOption(this, args, 'leader');
    const expectedLeader = rawLeader === undefined ? undefined : memberArgument(this, '--leader', rawLeader);
    const now = ctx.now();
    const scheduledAt = parseScheduled(this, stringOption(this, args, 'scheduled'), now);
    const waitMs = waitOption(this, args, 60);
    const force = flag(args, 'force');
    const label = clusterLabel(ctx.cluster);
    const action = candidate === undefined ? 'switchover' : `switchover to ${candidate}`;

    const snap = await ctx.store.readCluster(ctx.cluster);
    const leader = snap.leader;
    if (leader === null || leader.phase !== 'active') {
      const state =
        leader === null
          ? `${label} has no leader`
          : leader.phase === 'released'
            ? `${leader.holder} released the lease of term ${leader.term}`
            : `leader ${leader.holder} is in phase ${leader.phase} (term ${leader.term})`;
      throw new RefusedError(
        `${action} refused: a switchover needs a healthy leader and ${state}; use "failover --candidate M" to promote a member; nothing written`,
      );
    }
    if (expectedLeader !== undefined && expectedLeader !== leader.holder) {
      throw new RefusedError(`${action} refused: --leader ${expectedLeader}, but ${leader.holder} leads (term ${leader.term}); nothing written`);
    }
    if (snap.config?.config.paused === true && candidate === undefined) {
      throw new RefusedError(`switchover refused: ${label} is paused, and a switchover while paused needs --candidate M; nothing written`);
    }
    if (candidate === leader.holder) {
      throw new RefusedError(`${action} refused: ${candidate} already leads (term ${leader.term}); nothing written`);
    }
    if (candidate !== undefined) {
      eligibleCandidate(snap, candidate, now, action);
    } else {
      const a = eligibleOthers(snap, leader.holder, now);
      if (a.eligible.length === 0) {
        const why = a.refused.length > 0 ? a.refused.join('; ') : 'no other members';
        throw new RefusedError(`switchover refused: no eligible candidate (${why}); nothing written`);
      }
    }
    refusePending(snap.failover, force, action);

    const when = scheduledAt === undefined ? 'now' : `at ${formatIso(scheduledAt)}`;
    await ctx.confirm(
      `Switchover of ${label} ${when}: demote leader ${leader.holder} and promote ${candidate ?? 'the best eligible replica'}. Are you sure?`,
      force,
    );
    const request: FailoverRequest = {
      kind: 'switchover',
      from: leader.holder,
      ...(candidate === undefined ? {} : { to: candidate }),
      ...(scheduledAt === undefined ? {} : { scheduledAt }),
      requestedAt: now,
      requestedBy: ctx.operator,
    };
    const item = await writeRequest(ctx, request, snap.failover, action);
    ctx.result(requestJson(item));
    if (scheduledAt !== undefined) {
      ctx.say(`Switchover scheduled at ${formatIso(scheduledAt)}: ${leader.holder} -> ${candidate ?? 'the best eligible replica'}`);
      return 0;
    }
    if (waitMs === null) {
      ctx.say(`Switchover requested: ${leader.holder} -> ${candidate ?? 'the best eligible replica'}`);
      return 0;
    }
    return waitForNewLeader(ctx, { kind: 'switchover', before: leader, to: candidate, requestVersion: item.version, timeoutMs: waitMs });
  },
};
