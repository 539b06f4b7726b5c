import type { ClusterId, SK } from './keys.js';
import type {
  ArbiterItem,
  ArbiterState,
  ClusterConfig,
  ConfigItem,
  EndpointItem,
  EndpointRecord,
  FailoverItem,
  FailoverRequest,
  HistoryEntry,
  HistoryItem,
  HistoryStep,
  InitializeItem,
  LeaderItem,
  MemberItem,
  MemberStatus,
  SyncItem,
  SyncState,
} from './items.js';

/**
 * Outcome of a conditional write. A lost race is a normal result, not an
 * exception: `current` is the item that won (null if there is none).
 */
export type WriteResult<T, C = T> = { readonly ok: true; readonly item: T } | { readonly ok: false; readonly current: C | null };

/** The items that exist at most once per cluster. */
export type SingletonKind = keyof typeof SK;
/** Every kind of item in a cluster's partitions. */
export type ItemKind = SingletonKind | 'member' | 'history';

/** An item in the store that does not match its schema: set aside by reads, reported here. */
export interface MalformedEntry {
  readonly kind: ItemKind;
  /** The sort key as stored: `leader`, `member#ghost`, `history#000000000003`. */
  readonly key: string;
  /** The first field that fails its schema, dotted (`lsn`, `config.ttl`); `(item)` for the item itself. */
  readonly field: string;
  /** Every failing field and why: "lsn: Invalid input: expected number, received string; ...". */
  readonly message: string;
  /**
   * The item's `version` when that field alone is well-formed, else null.
   * It is the CAS token of a deliberate repair only (the owner rewriting its
   * own item, an operator deleting it), never a licence to act as if the
   * item were absent.
   */
  readonly version: number | null;
}

/**
 * Everything in a cluster's partition, read at one instant. Deeply frozen.
 *
 * A malformed item never fails the read: it is left out of the snapshot and
 * listed in `malformed`, sorted by key. Its singleton field (`initialize`,
 * `config`, `leader`, `failover`, `sync`, `arbiter`, `endpoint`) is then
 * null, and null there means "unknown", NOT "absent": a consumer must look at
 * `malformed` (or read the item through `itemSlot`, whose type makes the
 * three states explicit) before it acts on the absence of a singleton. In
 * particular:
 * - `initialize` malformed: the cluster is initialized; never bootstrap (initdb).
 * - `leader` malformed: someone may hold the lease; never grant, take a first
 *   lease, move the endpoint or clear a request.
 * - `config` malformed: ttl, pause, synchronous mode and endpoint are unknown,
 *   NOT the defaults; keep the last config read, decide nothing that rests on it.
 * - `sync` malformed: the synchronous standbys are unknown; no failover may rest on them.
 * - `arbiter` malformed: the arbiter's observations and lease are unknown.
 * - `endpoint` malformed: where the endpoint points is unknown; do not move it.
 * - `failover` malformed: a request may be pending; it cannot be cleared by version.
 * A malformed member item is left out of `members`: that member is unknown
 * (not a candidate, not a sync standby, not a clone source) until it
 * heartbeats a well-formed item.
 */
export interface ClusterSnapshot {
  readonly cluster: ClusterId;
  readonly initialize: InitializeItem | null;
  readonly config: ConfigItem | null;
  readonly leader: LeaderItem | null;
  /** Well-formed member items, sorted by name. */
  readonly members: readonly MemberItem[];
  readonly failover: FailoverItem | null;
  readonly sync: SyncItem | null;
  readonly arbiter: ArbiterItem | null;
  readonly endpoint: EndpointItem | null;
  /** Items of the partition that do not match their schema, sorted by key. Empty when all are well-formed. */
  readonly malformed: readonly MalformedEntry[];
}

/**
 * The partition's items that sort before the members (`arbiter`, `config`,
 * `endpoint`, `failover`, `initialize`, `leader`), read at one instant: what a
 * replica following a healthy leader needs each loop. Malformed ones are set
 * aside and listed, as in ClusterSnapshot. Its cost does not grow with the
 * number of members.
 */
export type ClusterHead = Omit<ClusterSnapshot, 'members' | 'sync'>;

/** The history partition: well-formed rows by term ascending, and the rows set aside. */
export interface HistoryRead {
  readonly rows: readonly HistoryItem[];
  readonly malformed: readonly MalformedEntry[];
}

/** The leader item's version and term as the caller read them. */
export interface LeaderVersion {
  readonly version: number;
  readonly term: number;
}

export interface Grant {
  readonly holder: string;
  /** The leader item the decision was made from; null when there was none. */
  readonly expected: LeaderVersion | null;
  readonly previous: string | null;
  readonly lastLsn: number;
  readonly timeline: number;
  readonly reason: string;
  readonly kind: HistoryEntry['kind'];
  readonly grantedAt: number;
}

export interface HolderWrite {
  readonly holder: string;
  readonly term: number;
}

export interface CallOptions {
  /** How long to retry throttling and network errors before StoreUnavailableError. */
  readonly timeoutMs?: number;
}

/**
 * The distributed configuration store: one partition per cluster.
 *
 * Every write states its condition below. When the condition fails the write
 * returns `{ ok: false, current }` carrying the item as it is in the store
 * (null if absent); nothing is written. `version` is the CAS token of each
 * item: it starts at 1 and every successful write adds one.
 *
 * Malformed items (see ClusterSnapshot):
 * - readCluster and readHistory set them aside and list them; they never throw
 *   for one.
 * - A write never lands on a malformed item unless it names the item's
 *   version: a put or delete whose condition is `version = v` (v from
 *   MalformedEntry.version) replaces or removes it, a deliberate repair. Every
 *   other write that meets a malformed item (create-if-absent, leader updates,
 *   history steps, endpoint records) writes nothing and throws
 *   MalformedItemError, naming the cluster, key and field. So a consumer that
 *   took a malformed item for absent still cannot overwrite it.
 *   Updates check what a condition expression can (conditions.ts: field types,
 *   presence, enum values): an item wrong only in a value range or pattern (a
 *   negative LSN, a bad member name) is updated, then reported by the same
 *   MalformedItemError. Both implementations behave so.
 *
 * Every operation throws:
 * - StoreUnavailableError when throttling or network errors persist past
 *   `timeoutMs` (default: the store's own), after retries with backoff;
 * - MalformedItemError when a write meets a malformed item (above), or the
 *   single item getConfig reads is malformed;
 * - InvalidWriteError, before sending, when the item to write would not match
 *   its schema.
 */
export interface Store {
  /** One strongly consistent Query of the cluster's partition. */
  readCluster(c: ClusterId, o?: CallOptions): Promise<ClusterSnapshot>;

  /** One strongly consistent Query of the partition's sort keys below `member#` (ClusterHead). */
  readHead(c: ClusterId, o?: CallOptions): Promise<ClusterHead>;

  /**
   * The bootstrap race. Condition: `expectedVersion` null (the default): no
   * `initialize` item exists (create-if-absent); else its version equals
   * `expectedVersion` (the winner recording the system identifier).
   */
  initialize(
    c: ClusterId,
    init: { systemId?: string; initializedBy: string },
    expectedVersion?: number | null,
    o?: CallOptions,
  ): Promise<WriteResult<InitializeItem>>;

  getConfig(c: ClusterId, o?: CallOptions): Promise<ConfigItem | null>;
  /** Condition: `expectedVersion` null: no config exists; else its version equals `expectedVersion`. */
  putConfig(
    c: ClusterId,
    config: ClusterConfig,
    expectedVersion: number | null,
    o?: CallOptions,
  ): Promise<WriteResult<ConfigItem>>;

  /** The member's own item. Condition: as putConfig, on `member#<name>`. */
  heartbeat(
    c: ClusterId,
    status: MemberStatus,
    expectedVersion: number | null,
    o?: CallOptions,
  ): Promise<WriteResult<MemberItem>>;
  /** Condition: the member item's version equals `expectedVersion`. */
  removeMember(
    c: ClusterId,
    name: string,
    expectedVersion: number,
    o?: CallOptions,
  ): Promise<WriteResult<null, MemberItem>>;

  /**
   * Grants leadership: phase `granted`, term = expected.term + 1 (1 when
   * absent), version = expected.version + 1. Condition: the leader item is
   * absent when `expected` is null, else its version and term equal
   * `expected`. The history row for the new term is written in the same
   * transaction. A retried grant that finds its own grant in place is ok.
   */
  grantLeader(c: ClusterId, grant: Grant, o?: CallOptions): Promise<WriteResult<LeaderItem>>;
  /**
   * Renews the lease and reports the holder's WAL position, and, when given,
   * replaces its failsafe set. Sets `unfenced` when given true and removes
   * it otherwise, so a renew that does not say it clears it. Condition: holder and term
   * match and the phase is not `released`. Keeps the phase.
   */
  renewLeader(
    c: ClusterId,
    w: HolderWrite & { lastLsn: number; timeline: number; failsafe?: readonly string[]; unfenced?: boolean },
    o?: CallOptions,
  ): Promise<WriteResult<LeaderItem>>;
  /** After promotion. Condition: holder and term match and the phase is `granted`. Sets `active`. */
  confirmLeader(
    c: ClusterId,
    w: HolderWrite & { lastLsn: number; timeline: number },
    o?: CallOptions,
  ): Promise<WriteResult<LeaderItem>>;
  /** Switchover, by the arbiter. Condition: version and term equal `expected`, phase `active`. Sets `handover`. */
  beginHandover(
    c: ClusterId,
    h: { expected: LeaderVersion; candidate: string },
    o?: CallOptions,
  ): Promise<WriteResult<LeaderItem>>;
  /** The holder stopped taking writes. Condition: holder and term match, phase `handover`. Sets `demoted`. */
  completeHandover(
    c: ClusterId,
    w: HolderWrite & { finalLsn: number },
    o?: CallOptions,
  ): Promise<WriteResult<LeaderItem>>;
  /** Clean shutdown. Condition: holder and term match, phase not `released`. Sets `released`, keeps the term. */
  releaseLeader(c: ClusterId, w: HolderWrite & { lastLsn: number }, o?: CallOptions): Promise<WriteResult<LeaderItem>>;

  /** Condition: as putConfig, on `failover`. */
  setFailover(
    c: ClusterId,
    request: FailoverRequest,
    expectedVersion: number | null,
    o?: CallOptions,
  ): Promise<WriteResult<FailoverItem>>;
  /** Condition: the failover item's version equals `expectedVersion`. */
  clearFailover(c: ClusterId, expectedVersion: number, o?: CallOptions): Promise<WriteResult<null, FailoverItem>>;

  /** Condition: as putConfig, on `sync`. */
  putSync(c: ClusterId, state: SyncState, expectedVersion: number | null, o?: CallOptions): Promise<WriteResult<SyncItem>>;

  /** Condition: no history row exists for `entry.term` (create-if-absent). */
  appendHistory(c: ClusterId, entry: HistoryEntry, o?: CallOptions): Promise<WriteResult<HistoryItem>>;
  /** Condition: the row for `term` exists and `step` is not yet recorded. */
  recordHistoryStep(
    c: ClusterId,
    term: number,
    step: HistoryStep,
    at: number,
    o?: CallOptions,
  ): Promise<WriteResult<HistoryItem>>;
  /** The history partition: well-formed rows by term ascending, malformed rows set aside and listed. */
  readHistory(c: ClusterId, o?: CallOptions): Promise<HistoryRead>;
  /** The well-formed history rows, by term ascending (readHistory's `rows`; it also reports the malformed). */
  listHistory(c: ClusterId, o?: CallOptions): Promise<readonly HistoryItem[]>;

  /** Arbitration lease and observations. Condition: as putConfig, on `arbiter`. */
  putArbiter(
    c: ClusterId,
    state: ArbiterState,
    expectedVersion: number | null,
    o?: CallOptions,
  ): Promise<WriteResult<ArbiterItem>>;

  /**
   * Records where the endpoint points. Condition: no record exists, or its
   * term is lower, or the term is the same and so is the member: the term
   * never goes backwards and a term never names two members.
   */
  recordEndpoint(c: ClusterId, record: EndpointRecord, o?: CallOptions): Promise<WriteResult<EndpointItem>>;

  /** Deletes every item of the cluster, its history included. Returns how many. Unconditional. */
  deleteCluster(c: ClusterId, o?: CallOptions): Promise<number>;
  /** Clusters that have an initialize, config or leader item. */
  listClusters(o?: CallOptions): Promise<readonly ClusterId[]>;
}
