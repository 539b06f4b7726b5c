// Per-cluster gauges from one decision.
import type { ClusterMetrics } from './actions.js';
import { heartbeatFresh } from './observation.js';
import { leaderAge, type Tick } from './tick.js';

export function clusterMetrics(t: Tick, grants: number): ClusterMetrics {
  const { leader, endpoint, members } = t.snapshot;
  const present =
    leader !== null && (leader.phase === 'active' || leader.phase === 'handover' || leader.phase === 'demoted') && !t.leaseExpired;
  let maxLag = 0;
  let healthy = 0;
  for (const m of members) {
    if (m.state === 'running' && heartbeatFresh(m, t.observation.members, t.now, t.ttlMs)) healthy += 1;
    if (leader !== null && m.role === 'replica' && m.state === 'running' && m.lsn !== null) {
      maxLag = Math.max(maxLag, leader.lastLsn - m.lsn);
    }
  }
  const retained = members.flatMap((m) => (m.slotRetainedBytes !== undefined ? [m.slotRetainedBytes] : []));
  const inSync = leader !== null && endpoint !== null && endpoint.member === leader.holder && endpoint.term === leader.term;
  return {
    leaderPresent: present ? 1 : 0,
    secondsWithoutLeader: present ? 0 : leaderAge(t) / 1000,
    failovers: grants,
    maxReplicationLagBytes: maxLag,
    healthyMembers: healthy,
    endpointInSync: inSync ? 1 : 0,
    malformedItems: t.snapshot.malformed.length,
    failsafePromises: members.filter((m) => m.failsafe !== undefined).length,
    memberStoreErrors: members.reduce((sum, m) => sum + (m.storeErrors ?? 0), 0),
    rewindFailedMembers: members.filter((m) => m.rewindFailed === true).length,
    ...(retained.length > 0 ? { slotRetainedBytes: Math.max(...retained) } : {}),
  };
}
