// Which standbys the primary makes synchronous, and in which order the two
// places that hold the choice are written: synchronous_standby_names in
// PostgreSQL and the `sync` item in the store. Pure: the primary's agent
// executes the plan step by step.
//
// Invariant: the sync item only ever names standbys that PostgreSQL already
// waits for. Adding: PostgreSQL first, then the store. Removing: the store
// first (the standby leaves the eligible set), then PostgreSQL.
import type { ClusterConfig, SyncState } from '../dcs/items.js';
import type { ClusterSnapshot } from '../dcs/store.js';

/** synchronous_standby_names as data (lib/postgres/sync-standbys.ts has the same shape). */
export interface SyncSpec {
  readonly method: 'first' | 'any';
  readonly count: number;
  readonly names: readonly string[];
}

/** One row of pg_stat_replication, as far as the choice needs it. */
export interface ReplicationReading {
  readonly applicationName: string;
  readonly state: string;
}

export type SyncStep =
  | { readonly kind: 'pg'; readonly spec: SyncSpec | null }
  /** `onLost`: what a lost race on the sync item means for the steps after it. */
  | { readonly kind: 'store'; readonly state: SyncState; readonly expectedVersion: number | null; readonly onLost: 'stop' | 'pending' | 'ignore' };

export interface SyncPlan {
  readonly steps: readonly SyncStep[];
  /** Whether the agent should look again soon once the steps ran (the choice is not settled yet). */
  readonly pendingAfter: boolean;
}

export interface SyncInput {
  readonly name: string;
  readonly term: number;
  readonly config: ClusterConfig;
  readonly snapshot: ClusterSnapshot;
  /** pg_stat_replication; null outside synchronous mode (not read). */
  readonly replication: readonly ReplicationReading[] | null;
}

/** The strict mode's placeholder: any one standby must acknowledge. */
export const ANY_STANDBY: SyncSpec = { method: 'first', count: 1, names: ['*'] };

export function resolveSync(i: SyncInput): SyncPlan {
  const { snapshot: snap, name, term, config } = i;
  const current = snap.sync?.leader === name && snap.sync.term === term ? snap.sync.standbys : [];
  let wanted: string[] = [];
  if (config.synchronousMode) {
    // Only members may be synchronous: a pg_basebackup or any other client streaming WAL is not one.
    const candidates = new Set(snap.members.filter((m) => m.name !== name && !m.tags.nosync).map((m) => m.name));
    const streaming = (i.replication ?? []).filter((r) => r.state === 'streaming' && candidates.has(r.applicationName)).map((r) => r.applicationName);
    const keep = current.filter((n) => streaming.includes(n));
    wanted = [...keep, ...streaming.filter((n) => !keep.includes(n))].slice(0, config.synchronousNodeCount);
  }
  const same = wanted.length === current.length && wanted.every((n) => current.includes(n));
  const syncVersion = snap.sync?.version ?? null;
  const strict = config.synchronousModeStrict;
  const record = (standbys: readonly string[]): SyncState => ({ leader: name, term, standbys: [...standbys] });
  if (!same) {
    const removing = current.filter((n) => !wanted.includes(n));
    if (removing.length > 0) {
      const kept = current.filter((n) => wanted.includes(n));
      const spec = kept.length > 0 || strict ? { method: 'first' as const, count: Math.max(1, kept.length), names: kept.length > 0 ? kept : ['*'] } : null;
      return {
        steps: [
          { kind: 'store', state: record(kept), expectedVersion: syncVersion, onLost: 'stop' },
          { kind: 'pg', spec },
        ],
        pendingAfter: true,
      };
    }
    const spec = wanted.length > 0 ? { method: 'first' as const, count: wanted.length, names: wanted } : strict ? ANY_STANDBY : null;
    return {
      steps: [
        { kind: 'pg', spec },
        { kind: 'store', state: record(wanted), expectedVersion: syncVersion, onLost: 'pending' },
      ],
      pendingAfter: false,
    };
  }
  const recorded = snap.sync?.leader === name && snap.sync.term === term;
  return {
    steps: recorded ? [] : [{ kind: 'store', state: record(wanted), expectedVersion: syncVersion, onLost: 'ignore' }],
    pendingAfter: config.synchronousMode && wanted.length === 0,
  };
}
