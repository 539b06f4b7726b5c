// `pgfloat restart`, `pgfloat reload`, `pgfloat reinit` and `pgfloat flush
// restart`'s counterpart: requests to the members' agent APIs, as patronictl
// makes them. The members come from the store; each agent checks the
// request again (its role, a pending restart, whether it may reinit) and does
// the work in its own loop. Replicas go first, the leader last, one at a time.
import type { MemberItem } from '../../dcs/items.js';
import { clusterLabel } from '../../dcs/keys.js';
import type { ClusterSnapshot } from '../../dcs/store.js';
import { parseZonedTime } from '../../agent/api-body.js';
import { leaderName } from '../../ha/leadership.js';
import { callAgent, requireApiAuth, type AgentAnswer } from '../agent-api.js';
import { FORCE_OPTION, flag, stringOption, stringsOption, type CommandArgs, type CommandSpec } from '../command.js';
import type { CommandContext } from '../context.js';
import { RefusedError, UsageError } from '../errors.js';
import { memberArgument } from './switchover.js';

/** A restart or reinit may take as long as a server start; a reload is quick. */
const SLOW_MS = 120_000;
const QUICK_MS = 15_000;

/** The named members (all when none is named), replicas first and the leader last. */
function targets(spec: CommandSpec, snap: ClusterSnapshot, args: CommandArgs): MemberItem[] {
  const names = [...stringsOption(args, 'member'), ...args.positionals].map((n) => memberArgument(spec, 'MEMBER', n));
  for (const n of names) {
    if (!snap.members.some((m) => m.name === n)) {
      throw new RefusedError(`${spec.name} refused: ${n} is not a member of ${clusterLabel(snap.cluster)} (members: ${snap.members.map((m) => m.name).join(', ') || 'none'}); nothing done`);
    }
  }
  const leader = leaderName(snap);
  const chosen = names.length === 0 ? [...snap.members] : snap.members.filter((m) => names.includes(m.name));
  return chosen.sort((a, b) => Number(a.name === leader) - Number(b.name === leader) || (a.name < b.name ? -1 : 1));
}

function report(ctx: CommandContext, results: readonly { member: string; answer: AgentAnswer }[], ok: (a: AgentAnswer) => boolean): number {
  for (const r of results) ctx.say(`${r.member}: ${ok(r.answer) ? '' : 'FAILED: '}${r.answer.message}${r.answer.status === 0 ? '' : ` (${r.answer.status})`}`);
  ctx.result(results.map((r) => ({ member: r.member, status: r.answer.status, ok: ok(r.answer), message: r.answer.message })));
  return results.every((r) => ok(r.answer)) ? 0 : 1;
}

const MEMBER_OPTION = { member: { type: 'string', multiple: true, short: 'm' } } as const;

export const restart: CommandSpec = {
  name: 'restart',
  summary: 'restart PostgreSQL on members (all, or --member), replicas first, the leader inside its lease',
  synopsis: 'restart [namespace/scope] [MEMBER ...] [--role leader|replica|any] [--pending] [--scheduled T] [--force]',
  help: [
    'MEMBER, --member M  a member to restart (repeatable); default every member',
    '--role R            only members of this role: leader, replica or any (default any)',
    '--pending           only members with a setting waiting for a restart',
    '--scheduled T       at this ISO 8601 time with a zone (2030-01-31T02:00Z); cancel with pgfloat flush restart',
    '--force, -f         do not ask for confirmation',
  ],
  options: { ...MEMBER_OPTION, role: { type: 'string' }, pending: { type: 'boolean' }, scheduled: { type: 'string' }, ...FORCE_OPTION },
  positionals: [],
  trailingMembers: true,
  async run(ctx, args) {
    const role = stringOption(this, args, 'role') ?? 'any';
    if (!['leader', 'primary', 'master', 'replica', 'any'].includes(role)) throw new UsageError(`--role ${role}: one of leader, replica, any`, this.name);
    const raw = stringOption(this, args, 'scheduled');
    const parsed = raw === undefined ? undefined : parseZonedTime(raw);
    if (parsed === null) throw new UsageError(`--scheduled ${raw}: an ISO 8601 time with a zone, e.g. 2030-01-31T02:00:00Z`, this.name);
    const at: number | undefined = parsed;
    if (at !== undefined && at <= ctx.now()) throw new UsageError(`--scheduled ${raw}: that time has passed; give a future time, or leave it out to restart now`, this.name);
    const pending = flag(args, 'pending');
    const auth = requireApiAuth(ctx, 'restart');
    const snap = await ctx.store.readCluster(ctx.cluster);
    const leader = leaderName(snap);
    const chosen = targets(this, snap, args).filter((m) => {
      if (role === 'replica' && m.name === leader) return false;
      if (role !== 'replica' && role !== 'any' && m.name !== leader) return false;
      return !pending || (m.pendingRestart ?? []).length > 0;
    });
    if (chosen.length === 0) {
      ctx.say(`No member to restart${pending ? ' (none has a setting waiting for a restart)' : ''}`);
      ctx.result([]);
      return 0;
    }
    const when = at === undefined ? 'now' : `at ${new Date(at).toISOString()}`;
    await ctx.confirm(`Restart ${chosen.map((m) => m.name).join(', ')} of ${clusterLabel(ctx.cluster)} ${when}?`, flag(args, 'force'));
    const body = {
      ...(role === 'replica' ? { role: 'replica' } : role === 'any' ? {} : { role: 'primary' }),
      ...(pending ? { restart_pending: true } : {}),
      ...(at !== undefined ? { schedule: new Date(at).toISOString() } : {}),
    };
    const results: { member: string; answer: AgentAnswer }[] = [];
    for (const m of chosen) {
      if (at === undefined) ctx.say(`${m.name}: restarting ...`);
      results.push({ member: m.name, answer: await callAgent(m, 'POST', '/restart', body, auth, SLOW_MS) });
    }
    return report(ctx, results, (a) => a.status === 200 || a.status === 202);
  },
};

export const reload: CommandSpec = {
  name: 'reload',
  summary: 'apply the configuration again and reload PostgreSQL on members (all, or --member)',
  synopsis: 'reload [namespace/scope] [MEMBER ...] [--force]',
  help: ['MEMBER, --member M  a member to reload (repeatable); default every member', '--force, -f         do not ask for confirmation'],
  options: { ...MEMBER_OPTION, ...FORCE_OPTION },
  positionals: [],
  trailingMembers: true,
  async run(ctx, args) {
    const auth = requireApiAuth(ctx, 'reload');
    const snap = await ctx.store.readCluster(ctx.cluster);
    const chosen = targets(this, snap, args);
    if (chosen.length === 0) throw new RefusedError(`reload refused: ${clusterLabel(ctx.cluster)} has no members; nothing done`);
    await ctx.confirm(`Reload ${chosen.map((m) => m.name).join(', ')} of ${clusterLabel(ctx.cluster)}?`, flag(args, 'force'));
    const results = [];
    for (const m of chosen) results.push({ member: m.name, answer: await callAgent(m, 'POST', '/reload', undefined, auth, QUICK_MS) });
    return report(ctx, results, (a) => a.status === 200);
  },
};

export const reinit: CommandSpec = {
  name: 'reinit',
  summary: 'empty a replica\'s data directory and copy it afresh from the leader',
  synopsis: 'reinit [cluster] MEMBER [--force] [--wait S | --no-wait]',
  help: ['--force, -f         do not ask for confirmation', '--wait S            follow it until the member streams again, up to S seconds (default 600)', '--no-wait           return once it has begun'],
  options: { ...FORCE_OPTION, wait: { type: 'string' }, 'no-wait': { type: 'boolean' } },
  positionals: ['member'],
  async run(ctx, args) {
    const name = memberArgument(this, 'MEMBER', args.positionals[0] ?? '');
    const waitRaw = stringOption(this, args, 'wait');
    const noWait = flag(args, 'no-wait');
    const waitS = waitRaw === undefined ? 600 : Number(waitRaw);
    if (!Number.isFinite(waitS) || waitS <= 0 || waitS > 86_400) throw new UsageError(`--wait ${waitRaw}: seconds, more than 0 and at most 86400`, this.name);
    const auth = requireApiAuth(ctx, 'reinit');
    const snap = await ctx.store.readCluster(ctx.cluster);
    const m = snap.members.find((x) => x.name === name);
    if (m === undefined) throw new RefusedError(`reinit refused: ${name} is not a member of ${clusterLabel(ctx.cluster)}; nothing done`);
    const leader = leaderName(snap);
    if (leader === name) throw new RefusedError(`reinit refused: ${name} leads ${clusterLabel(ctx.cluster)}; switch over first; nothing done`);
    if (leader === null) throw new RefusedError(`reinit refused: ${clusterLabel(ctx.cluster)} has no leader to copy from; nothing done`);
    await ctx.confirm(`Reinitialize ${name}? Its data directory is emptied and copied again from ${leader}. Are you sure?`, flag(args, 'force'));
    const answer = await callAgent(m, 'POST', '/reinitialize', {}, auth, QUICK_MS + 2 * (snap.config?.config.ttl ?? 10) * 1000);
    if (answer.status !== 202 && answer.status !== 200) return report(ctx, [{ member: name, answer }], () => false);
    ctx.say(`${name}: reinitialize started from ${leader}`);
    if (noWait) return report(ctx, [{ member: name, answer }], () => true);
    const deadline = ctx.elapsed() + waitS * 1000;
    let seen = m.version;
    let saw: string = m.state;
    while (ctx.elapsed() < deadline) {
      await ctx.sleep(ctx.pollMs);
      const now = (await ctx.store.readCluster(ctx.cluster)).members.find((x) => x.name === name);
      if (now === undefined || now.version === seen) continue;
      seen = now.version;
      if (now.state !== saw) ctx.say(`${name}: ${now.state}`);
      saw = now.state;
      if (now.state === 'running' && now.receiver === 'streaming') {
        return report(ctx, [{ member: name, answer: { status: 200, message: `reinitialized from ${leader} and streaming` } }], () => true);
      }
    }
    return report(ctx, [{ member: name, answer: { status: 0, message: `not streaming after ${waitS} s (last state: ${saw}); see its agent's log` } }], () => false);
  },
};
