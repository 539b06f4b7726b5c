// `pgfloat remove <member>`: deletes a member's item, for a node that is
// gone for good. Never the leader. The delete is a CAS on the version read,
// so a member that heartbeats meanwhile is not removed.
import { clusterLabel } from '../../dcs/keys.js';
import { memberNamed } from '../candidate.js';
import { currentLeader } from '../cluster-view.js';
import { FORCE_OPTION, flag, type CommandSpec } from '../command.js';
import { LostRaceError, RefusedError } from '../errors.js';
import { seconds } from '../format.js';
import { DEFAULT_CONFIG } from '../../dcs/items.js';
import { memberArgument } from './switchover.js';

export const remove: CommandSpec = {
  name: 'remove',
  summary: 'remove a member that is gone for good (never the leader)',
  synopsis: 'remove [cluster] <member> [--force]',
  help: ['--force, -f         do not ask for confirmation'],
  options: { ...FORCE_OPTION },
  positionals: ['member'],
  async run(ctx, args) {
    const name = memberArgument(this, 'member', args.positionals[0] ?? '');
    const force = flag(args, 'force');
    const action = `remove ${name}`;
    const label = clusterLabel(ctx.cluster);
    const snap = await ctx.store.readCluster(ctx.cluster);
    const m = memberNamed(snap, name, action);
    const leader = currentLeader(snap);
    if (leader !== null && leader.holder === name) {
      throw new RefusedError(
        `${action} refused: ${name} is the leader (term ${leader.term}): switch over to another member first; nothing written`,
      );
    }
    if (leader !== null && leader.candidate === name && (leader.phase === 'handover' || leader.phase === 'demoted')) {
      throw new RefusedError(`${action} refused: ${name} is the candidate of a switchover under way; nothing written`);
    }
    const ttlMs = (snap.config?.config ?? DEFAULT_CONFIG).ttl * 1000;
    const age = ctx.now() - m.heartbeatAt;
    const running =
      age < ttlMs ? ` Its heartbeat is ${seconds(Math.max(0, age))} s old: if its agent still runs, it registers again; stop it first.` : '';
    await ctx.confirm(`Remove member ${name} (${m.role}, ${m.state}) from ${label}?${running}`, force);
    const res = await ctx.store.removeMember(ctx.cluster, name, m.version);
    if (!res.ok) {
      const now = res.current === null ? 'it is already gone' : `it heartbeated meanwhile (version ${res.current.version}): its agent runs`;
      throw new LostRaceError(`${action} not done: ${now}; stop its agent and run again`);
    }
    ctx.say(`Member ${name} removed from ${label}`);
    ctx.result({ removed: name });
    return 0;
  },
};
