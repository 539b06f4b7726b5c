// Everything one decision reads, computed once: the snapshot, the arbiter's
// clock and its updated observations.
import { DEFAULT_CONFIG, type ClusterConfig, type LeaderItem, type MemberItem } from '../dcs/items.js';
import type { ClusterSnapshot, LeaderVersion } from '../dcs/store.js';
import { eligibilityContext, type EligibilityContext } from './eligibility.js';
import { formatSeconds } from './format.js';
import { leaderLeaseExpired, observeCluster, type Observation } from './observation.js';

export interface Tick {
  readonly snapshot: ClusterSnapshot;
  readonly now: number;
  readonly config: ClusterConfig;
  readonly ttlMs: number;
  readonly observation: Observation;
  /** The leader item's version unchanged for ttl of arbiter time (never true for an absent leader). */
  readonly leaseExpired: boolean;
  /** The shell's latest look at the endpoint itself (not its record), if it made one. */
  readonly endpointCheck: EndpointCheck | null;
}

/** What the endpoint really pointed at when the shell last asked it (AWS or the local proxy). */
export interface EndpointCheck {
  readonly member: string;
  readonly term: number;
  /** True when the endpoint reached that member's target; false when it pointed elsewhere or nowhere. */
  readonly pointsThere: boolean;
}

export function makeTick(snapshot: ClusterSnapshot, now: number, endpointCheck: EndpointCheck | null = null): Tick {
  const config = snapshot.config?.config ?? DEFAULT_CONFIG;
  const ttlMs = config.ttl * 1000;
  const observation = observeCluster(snapshot, snapshot.arbiter, now);
  const leaseExpired = leaderLeaseExpired(snapshot.leader, observation.leader, now, ttlMs);
  return { snapshot, now, config, ttlMs, observation, leaseExpired, endpointCheck };
}

export function contextOf(t: Tick, options: Parameters<typeof eligibilityContext>[3] = {}): EligibilityContext {
  return eligibilityContext(t.snapshot, t.observation.members, t.now, options);
}

export function memberNamed(t: Tick, name: string | undefined): MemberItem | undefined {
  return name === undefined ? undefined : t.snapshot.members.find((m) => m.name === name);
}

export function versionOf(leader: LeaderItem): LeaderVersion {
  return { version: leader.version, term: leader.term };
}

/** Arbiter time the leader's current version has been in place. */
export function leaderAge(t: Tick): number {
  const seen = t.observation.leader;
  return seen === null ? 0 : Math.max(0, t.now - seen.seenAt);
}

/** "version 42 seen 1.2 s ago" */
export function leaderSeen(t: Tick, leader: LeaderItem): string {
  return `version ${leader.version} seen ${formatSeconds(leaderAge(t))} ago`;
}

/**
 * How long a named candidate may stay ineligible for a passing reason (a
 * stale heartbeat, a restart, a timeline or lag not yet caught up) before the
 * arbiter gives up on the request: three ttl, at least 30 s.
 */
export function requestPatienceMs(t: Tick): number {
  return Math.max(30_000, 3 * t.ttlMs);
}

const LASTING = /not a member|nofailover|system identifier/;

/** Null when the request should be cleared for `reason` now; else why it waits. */
export function keepWaiting(t: Tick, candidate: string, reason: string): string | null {
  const seen = t.observation.request;
  if (LASTING.test(reason) || seen === null) return null;
  const waited = t.now - seen.seenAt;
  const patience = requestPatienceMs(t);
  if (waited >= patience) return null;
  return `waiting for ${candidate} to become eligible (${formatSeconds(waited)} of ${formatSeconds(patience)}): ${reason}`;
}
