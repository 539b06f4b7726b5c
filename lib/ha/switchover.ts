// Planned switchover: the holder stops writes first, the candidate replays
// up to the holder's final position, only then does the lease move.
//   active   --beginHandover-->  handover  (arbiter)
//   handover --stopped writes--> demoted   (holder, records finalLsn)
//   demoted  --grant-->          granted   (arbiter, once the candidate caught up)
import type { FailoverItem, LeaderItem } from '../dcs/items.js';
import { clearFailover, none, type ArbiterAction } from './actions.js';
import { assess, eligibility } from './eligibility.js';
import { automaticFailover, grantTo, leaderLost, noEligible } from './failover.js';
import { formatIso, formatLsn, formatSeconds } from './format.js';
import { contextOf, keepWaiting, memberNamed, versionOf, type Tick } from './tick.js';

export function switchover(t: Tick, item: FailoverItem): ArbiterAction[] {
  const r = item.request;
  const leader = t.snapshot.leader;
  if (r.from !== undefined && r.from !== leader?.holder) {
    const who = leader === null ? 'no member leads' : `${leader.holder} leads`;
    return [clearFailover(item.version, `switchover from ${r.from}, but ${who}: cleared`)];
  }
  if (r.scheduledAt !== undefined && r.scheduledAt > t.now) {
    return [none(`switchover scheduled at ${formatIso(r.scheduledAt)} (in ${formatSeconds(r.scheduledAt - t.now)})`)];
  }
  if (t.config.paused && r.to === undefined) {
    return [clearFailover(item.version, 'paused: a switchover needs a named candidate (to): cleared')];
  }
  if (leader === null || leader.phase === 'released' || (t.leaseExpired && leader.phase !== 'demoted')) {
    // A switchover needs a live leader to hand over; what is left is a failover.
    const lost = leaderLost(t) ?? 'no leader';
    return [...automaticFailover(t), clearFailover(item.version, `switchover void: ${lost}`)];
  }
  switch (leader.phase) {
    case 'granted':
      return [none(`switchover waits for ${leader.holder} to confirm its promotion (term ${leader.term})`)];
    case 'active':
      return beginSwitchover(t, item, leader);
    default:
      return continueHandover(t, item, leader);
  }
}

function beginSwitchover(t: Tick, item: FailoverItem, leader: LeaderItem): ArbiterAction[] {
  const r = item.request;
  if (r.to === leader.holder) {
    return [clearFailover(item.version, `switchover to ${r.to}: ${r.to} already leads (term ${leader.term}): cleared`)];
  }
  const ctx = contextOf(t);
  let candidate: string;
  if (r.to !== undefined) {
    const m = memberNamed(t, r.to);
    if (m === undefined) return [clearFailover(item.version, `switchover to ${r.to} refused: ${r.to} is not a member`)];
    const e = eligibility(m, ctx);
    if (!e.eligible) {
      const waiting = keepWaiting(t, m.name, e.reason);
      return [waiting !== null ? none(`switchover to ${r.to}: ${waiting}`) : clearFailover(item.version, `switchover to ${r.to} refused: ${e.reason}`)];
    }
    candidate = m.name;
  } else {
    const a = assess(
      t.snapshot.members.filter((m) => m.name !== leader.holder),
      ctx,
    );
    const best = a.eligible[0];
    if (best === undefined) return [clearFailover(item.version, `switchover refused: ${noEligible(t, a.refused)}`)];
    candidate = best.name;
  }
  return [
    {
      type: 'beginHandover',
      expected: versionOf(leader),
      candidate,
      reason: `switchover from ${leader.holder} to ${candidate} requested by ${r.requestedBy}: ${leader.holder} stops writes first`,
    },
  ];
}

/**
 * A leader in `handover` or `demoted`, with or without the request that
 * started it (the operator may have cleared it): finish the handover, as a
 * switchover to the candidate the leader item names. This runs while paused
 * too: a demoted leader takes no writes until the lease moves.
 */
export function continueHandover(t: Tick, item: FailoverItem | null, leader: LeaderItem): ArbiterAction[] {
  const target = leader.candidate ?? 'an unnamed candidate';
  if (leader.phase === 'handover') {
    if (!t.leaseExpired) return [none(`waiting for ${leader.holder} to stop writes (handover to ${target})`)];
    // The holder vanished before stopping writes: an ordinary failover.
    const actions = automaticFailover(t);
    return item === null ? actions : [...actions, clearFailover(item.version, `switchover void: ${leaderLost(t) ?? ''}`)];
  }

  const finalLsn = leader.finalLsn ?? leader.lastLsn;
  const cand = memberNamed(t, leader.candidate);
  let stalled: string;
  if (cand === undefined) {
    stalled = leader.candidate === undefined ? 'no candidate recorded' : `${leader.candidate} is not a member`;
  } else {
    const e = eligibility(cand, contextOf(t, { skipLag: true }));
    const replayed = cand.replayLsn ?? cand.lsn ?? 0;
    const waiting = e.eligible || t.leaseExpired ? null : keepWaiting(t, cand.name, e.reason);
    if (waiting !== null) {
      return [none(`switchover to ${cand.name}: ${waiting}`)];
    } else if (!e.eligible) {
      stalled = `${cand.name}: ${e.reason}`;
    } else if (replayed >= finalLsn) {
      const reason = `switchover from ${leader.holder} to ${cand.name}: ${cand.name} replayed up to ${formatLsn(finalLsn)}`;
      const done =
        item !== null && (item.request.to === undefined || item.request.to === cand.name)
          ? [clearFailover(item.version, `switchover to ${cand.name} granted: request done`)]
          : [];
      return [grantTo(t, cand, 'switchover', reason), ...done];
    } else if (!t.leaseExpired) {
      // The demoted holder renews for as long as it waits, so its lease never runs out: the wait has its own bound.
      const progress = `replayed ${formatLsn(replayed)}`;
      const waiting = keepWaiting(t, cand.name, progress);
      if (waiting !== null) return [none(`waiting for ${cand.name} to replay up to ${formatLsn(finalLsn)} (${progress})`)];
      stalled = `${cand.name} did not replay up to ${formatLsn(finalLsn)} in time (${progress})`;
    } else {
      stalled = `${leader.holder}'s lease expired while ${cand.name} replays (${formatLsn(replayed)} of ${formatLsn(finalLsn)})`;
    }
  }
  return abandonHandover(t, item, leader, finalLsn, stalled);
}

/**
 * The candidate is gone: grant the best eligible member, the holder included.
 * The holder stopped writes at finalLsn, so taking the lease back loses
 * nothing; lag is measured from finalLsn.
 */
function abandonHandover(
  t: Tick,
  item: FailoverItem | null,
  leader: LeaderItem,
  finalLsn: number,
  stalled: string,
): ArbiterAction[] {
  const target = leader.candidate ?? 'an unnamed candidate';
  const a = assess(t.snapshot.members, contextOf(t, { stoppedHolder: leader.holder, referenceLsn: finalLsn }));
  // A planned handover loses nothing: every write up to the final LSN may have been acknowledged, so only the
  // holder itself or a member that has all of it may take the lease.
  const complete = a.eligible.filter((m) => m.name === leader.holder || (m.lsn ?? 0) >= finalLsn);
  const refused = [...a.refused, ...a.eligible.filter((m) => !complete.includes(m)).map((m) => `${m.name}: behind the final LSN ${formatLsn(finalLsn)}`)];
  const best = complete[0];
  if (best === undefined) {
    return [none(`switchover to ${target} stalled (${stalled}); ${noEligible(t, refused)}`)];
  }
  const who = best.name === leader.holder ? `${best.name}, the previous holder (it stopped writes)` : best.name;
  const reason = `switchover to ${target} abandoned (${stalled}): granting ${who}, the best eligible member`;
  const cleared = item === null ? [] : [clearFailover(item.version, `switchover to ${target} abandoned: request cleared`)];
  return [grantTo(t, best, 'switchover', reason), ...cleared];
}
