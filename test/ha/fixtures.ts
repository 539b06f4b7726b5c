// Snapshot builders for the arbiter's tests. Every snapshot is deep-frozen,
// as the store's are. Times are relative to NOW, the arbiter's clock.
import type { ArbiterInput, Decision } from '../../lib/ha/arbiter.js';
import {
  clusterConfigSchema,
  type ArbiterItem,
  type ConfigItem,
  type EndpointItem,
  type FailoverItem,
  type FailoverRequest,
  type InitializeItem,
  type LeaderItem,
  type MemberItem,
  type MemberTags,
  type SyncItem,
} from '../../lib/dcs/items.js';
import type { ClusterSnapshot, MalformedEntry } from '../../lib/dcs/store.js';

export const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);
export const TTL_MS = 10_000;
export const LEASE_MS = 30_000;
export const ARBITER = 'arb-1';
export const SYSTEM_ID = '7300000000000000001';
export const MiB = 1024 * 1024;

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

type MemberOverrides = Partial<Omit<MemberItem, 'tags'>> & { tags?: Partial<MemberTags> };

export function member(name: string, o: MemberOverrides = {}): MemberItem {
  const { tags, ...rest } = o;
  const lsn = o.lsn === undefined ? 1_000_000 : o.lsn;
  return {
    name,
    role: 'replica',
    state: 'running',
    timeline: 1,
    lsn,
    replayLsn: lsn,
    tags: { nofailover: false, failoverPriority: 1, nosync: false, noloadbalance: false, ...tags },
    connUrl: `postgres://${name}:5432/postgres`,
    apiUrl: `http://${name}:8008/patroni`,
    systemId: SYSTEM_ID,
    heartbeatAt: NOW - 400,
    version: 7,
    ...rest,
  };
}

export function primary(name: string, o: MemberOverrides = {}): MemberItem {
  return member(name, { role: 'primary', replayLsn: null, ...o });
}

export function leader(holder: string, o: Partial<LeaderItem> = {}): LeaderItem {
  return {
    holder,
    term: 3,
    phase: 'active',
    lastLsn: 1_000_000,
    timeline: 1,
    previous: null,
    reason: 'bootstrap',
    version: 40,
    ...o,
  };
}

export function config(o: Record<string, unknown> = {}): ConfigItem {
  return { config: clusterConfigSchema.parse(o), version: 1 };
}

export function initialize(by = 'a'): InitializeItem {
  return { systemId: SYSTEM_ID, initializedBy: by, version: 1 };
}

export function request(o: Partial<FailoverRequest> & Pick<FailoverRequest, 'kind'>, version = 5): FailoverItem {
  return { request: { requestedAt: NOW - 2_000, requestedBy: 'ops', ...o }, version };
}

export function sync(leaderName: string, standbys: string[], term = 3): SyncItem {
  return { leader: leaderName, term, standbys, version: 2 };
}

export function endpoint(memberName: string, term: number): EndpointItem {
  return { member: memberName, term, target: `eni-${memberName}`, movedAt: NOW - 60_000, version: 4 };
}

export interface Scene {
  readonly initialize?: InitializeItem | null;
  readonly config?: ConfigItem | null;
  readonly leader?: LeaderItem | null;
  readonly members?: readonly MemberItem[];
  readonly failover?: FailoverItem | null;
  readonly sync?: SyncItem | null;
  readonly arbiter?: ArbiterItem | null;
  readonly endpoint?: EndpointItem | null;
  /** Items set aside as malformed; their singleton fields should be null. */
  readonly malformed?: readonly MalformedEntry[];
}

/** A cluster initialized by `a`; other parts as given, members sorted by name. */
export function snapshot(s: Scene): ClusterSnapshot {
  return deepFreeze({
    cluster: { namespace: 'pgfloat', scope: 'orders' },
    initialize: s.initialize === undefined ? initialize() : s.initialize,
    config: s.config ?? null,
    leader: s.leader ?? null,
    members: [...(s.members ?? [])].sort((x, y) => (x.name < y.name ? -1 : 1)),
    failover: s.failover ?? null,
    sync: s.sync ?? null,
    arbiter: s.arbiter ?? null,
    endpoint: s.endpoint ?? null,
    malformed: [...(s.malformed ?? [])],
  });
}

export interface Seen {
  /** When the arbiter first saw the leader item's current version. */
  readonly leaderSeenAt?: number;
  /** When it first saw each member's current version; default NOW - 1000. */
  readonly membersSeenAt?: number | Readonly<Record<string, number>>;
  readonly owner?: string;
  readonly leaseExpiresAt?: number;
  readonly version?: number;
  /** When the arbiter first saw the pending request; default NOW - 1000. */
  readonly requestSeenAt?: number;
}

/**
 * The scene with an arbiter item that has seen the current versions: by
 * default this arbiter's lease with more than half left, the leader seen
 * 1 s ago and every member 1 s ago, so nothing needs writing.
 */
export function observed(s: Scene, seen: Seen = {}): ClusterSnapshot {
  const members: Record<string, { version: number; seenAt: number }> = {};
  for (const m of s.members ?? []) {
    const at = seen.membersSeenAt;
    const seenAt = typeof at === 'number' ? at : (at?.[m.name] ?? NOW - 1_000);
    members[m.name] = { version: m.version, seenAt };
  }
  const l = s.leader ?? null;
  const arbiter: ArbiterItem = {
    owner: seen.owner ?? ARBITER,
    leaseExpiresAt: seen.leaseExpiresAt ?? NOW + 20_000,
    leader: l === null ? null : { term: l.term, version: l.version, seenAt: seen.leaderSeenAt ?? NOW - 1_000 },
    members,
    request: s.failover ? { version: s.failover.version, seenAt: seen.requestSeenAt ?? NOW - 1_000 } : null,
    version: seen.version ?? 9,
  };
  return snapshot({ ...s, arbiter });
}

export function input(snap: ClusterSnapshot, o: Partial<ArbiterInput> = {}): ArbiterInput {
  return deepFreeze({ snapshot: snap, now: NOW, arbiterId: ARBITER, leaseMs: LEASE_MS, ...o });
}

/** One short line per action: "grant b failover", "moveEndpoint a 3", "none". */
export function summary(d: Decision): string[] {
  return d.actions.map((a) => {
    switch (a.type) {
      case 'grant':
        return `grant ${a.grant.holder} ${a.grant.kind}`;
      case 'beginHandover':
        return `beginHandover ${a.candidate}`;
      case 'moveEndpoint':
        return `moveEndpoint ${a.member} ${a.term}`;
      case 'recordHistoryStep':
        return `recordHistoryStep ${a.step} ${a.term}`;
      default:
        return a.type;
    }
  });
}

/** The reasons of the actions other than `observe`, joined. */
export function decisionReason(d: Decision): string {
  return d.actions
    .filter((a) => a.type !== 'observe')
    .map((a) => a.reason)
    .join(' | ');
}
