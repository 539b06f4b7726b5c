// The operator's pre-check of a candidate, with the arbiter's own rule, as
// any reader without the arbiter's observations makes it (lib/ha/leadership.ts).
import type { MemberItem } from '../dcs/items.js';
import { clusterLabel } from '../dcs/keys.js';
import type { ClusterSnapshot } from '../dcs/store.js';
import { assess, eligibility, type EligibilityContext } from '../ha/eligibility.js';
import { heartbeatObservations, readerEligibilityContext } from '../ha/leadership.js';
import { RefusedError } from './errors.js';

export { heartbeatObservations };

export function cliEligibilityContext(snap: ClusterSnapshot, now: number, options: { skipLag?: boolean } = {}): EligibilityContext {
  return readerEligibilityContext(snap, now, options);
}

export function memberNamed(snap: ClusterSnapshot, name: string, action: string): MemberItem {
  const m = snap.members.find((x) => x.name === name);
  if (m === undefined) {
    const names = snap.members.map((x) => x.name).join(', ') || 'none';
    throw new RefusedError(`${action} refused: ${name} is not a member of ${clusterLabel(snap.cluster)} (members: ${names}); nothing written`);
  }
  return m;
}

/** The named member, if it passes the eligibility rules; else RefusedError naming it and the failing rule. */
export function eligibleCandidate(
  snap: ClusterSnapshot,
  name: string,
  now: number,
  action: string,
  options: { skipLag?: boolean } = {},
): MemberItem {
  const m = memberNamed(snap, name, action);
  const e = eligibility(m, cliEligibilityContext(snap, now, options));
  if (!e.eligible) throw new RefusedError(`${action} refused: ${name} is not eligible: ${e.reason}; nothing written`);
  return m;
}

/** Eligible members other than `exclude`, best first, and why the others are not. */
export function eligibleOthers(
  snap: ClusterSnapshot,
  exclude: string,
  now: number,
): { eligible: readonly MemberItem[]; refused: readonly string[] } {
  return assess(
    snap.members.filter((m) => m.name !== exclude),
    cliEligibilityContext(snap, now),
  );
}
