// What an agent reads at the start of a loop. A replica streaming from a
// healthy leader needs only the leader item (who to follow, whether it still
// renews), the config, the initialize item and a pending request: the head of
// the partition, one Query whose cost does not grow with the members. Every
// other loop, and at least once per ttl, it reads the whole partition.
//
// Invariant: a decision is taken on a head read only when the head differs
// from the last full read in the leader item's renew fields (version, LSN,
// failsafe set) and in the arbiter and endpoint items alone. Any other change
// (holder, term, phase, timeline, config, initialize, failover, a malformed
// item) sends the loop to a full read before it decides.
import type { ClusterHead, ClusterSnapshot } from '../dcs/store.js';
import type { AgentState } from './agent-step.js';

export type ReadKind = 'cluster' | 'head';

/** The read this loop starts with: `head` only while the last loop left a replica streaming from a healthy leader, its last heartbeat landed, and a full read is less than ttl old. */
export function readKind(s: AgentState, now: number): ReadKind {
  if (!s.headReads || s.known === null || s.ownVersion === null || s.fullReadAt === null) return 'cluster';
  return now - s.fullReadAt < s.config.ttl * 1000 ? 'head' : 'cluster';
}

/**
 * The snapshot a head read stands for: the last full read with the head's
 * items in place of its own, or null when the head shows a change that only a
 * full read may decide on.
 */
export function mergeHead(known: ClusterSnapshot, head: ClusterHead): ClusterSnapshot | null {
  if (head.malformed.length > 0 || known.malformed.length > 0) return null;
  const was = known.leader;
  const l = head.leader;
  if (was === null || l === null || l.holder !== was.holder || l.term !== was.term || l.phase !== was.phase || l.timeline !== was.timeline) return null;
  if (l.version < was.version) return null;
  if (!sameVersion(known.config, head.config) || !sameVersion(known.initialize, head.initialize) || !sameVersion(known.failover, head.failover)) return null;
  return Object.freeze({ ...known, initialize: head.initialize, config: head.config, leader: l, failover: head.failover, arbiter: head.arbiter, endpoint: head.endpoint });
}

function sameVersion(a: { readonly version: number } | null, b: { readonly version: number } | null): boolean {
  return a === null ? b === null : b !== null && a.version === b.version;
}
