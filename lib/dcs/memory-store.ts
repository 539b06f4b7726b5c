// The in-memory twin of DynamoDbStore: the same contract, the same
// conditions written as predicates, for pure simulations and fast tests.
// Items are kept as plain data and parsed on every read, as DynamoDB's are.
import { isDeepStrictEqual } from 'node:util';
import type { z } from 'zod';
import { buildHead, buildHistory, buildSnapshot, deepFreeze, grantItems, parseItem, validateWrite } from './codec.js';
import { ENDPOINT_SHAPE, HISTORY_SHAPE, hasShape, LEADER_SHAPE, type Shape } from './conditions.js';
import { StoreInvariantError, StoreUnavailableError } from './errors.js';
import {
  arbiterSchema,
  configSchema,
  endpointRecordSchema,
  endpointSchema,
  failoverSchema,
  HISTORY_KINDS,
  historySchema,
  initializeSchema,
  LEADER_PHASES,
  leaderSchema,
  memberSchema,
  syncSchema,
  type ArbiterItem,
  type ArbiterState,
  type ClusterConfig,
  type ConfigItem,
  type EndpointItem,
  type EndpointRecord,
  type FailoverItem,
  type FailoverRequest,
  type HistoryEntry,
  type HistoryItem,
  type HistoryStep,
  type InitializeItem,
  type LeaderItem,
  type MemberItem,
  type MemberStatus,
  type SyncItem,
  type SyncState,
} from './items.js';
import { clusterPk, historyPk, historySk, memberSk, parseClusterPk, SK, type ClusterId } from './keys.js';
import type { CallOptions, ClusterHead, ClusterSnapshot, Grant, HistoryRead, Store, WriteResult } from './store.js';

type Raw = Record<string, unknown>;
/** Built once: zod compiles a schema on first use. */
const LEADER_FIELDS = leaderSchema.partial();
type Key = { readonly pk: string; readonly sk: string };

const versionOrAbsent =
  (expected: number | null) =>
  (cur: Raw | undefined): boolean =>
    expected === null ? cur === undefined : cur !== undefined && cur.version === expected;

export class MemoryStore implements Store {
  private readonly partitions = new Map<string, Map<string, Raw>>();
  private reachable = true;
  /** Requests served, for the benchmark's cost table. */
  readonly counts = { reads: 0, writes: 0 };

  /** While unreachable, every operation throws StoreUnavailableError. */
  setReachable(reachable: boolean): void {
    this.reachable = reachable;
  }

  /** Writes an item as is, bypassing validation: for tests of malformed items. */
  putRaw(key: Key, item: Raw): void {
    this.partition(key.pk).set(key.sk, structuredClone(item));
  }

  private partition(pk: string): Map<string, Raw> {
    let p = this.partitions.get(pk);
    if (p === undefined) {
      p = new Map();
      this.partitions.set(pk, p);
    }
    return p;
  }

  private check(operation: string, kind: 'reads' | 'writes'): void {
    if (!this.reachable) throw new StoreUnavailableError(operation, 0, 1, new Error('the in-memory store is set unreachable'));
    this.counts[kind] += 1;
  }

  private get(key: Key): Raw | undefined {
    return this.partitions.get(key.pk)?.get(key.sk);
  }

  private current<S extends z.ZodType>(schema: S, c: ClusterId, key: Key): z.infer<S> | null {
    const raw = this.get(key);
    return raw === undefined ? null : parseItem(schema, c, key.sk, raw);
  }

  /**
   * Writes when `condition` holds on the stored attributes, as DynamoDB
   * evaluates a condition expression. A `put` replaces the item with `next`,
   * already valid. An update (`shape` given) merges into the stored item and
   * never lands on one without that shape (DynamoDB: the shape is part of the
   * condition); the merged item is parsed after the write, as DynamoDB's
   * ALL_NEW is. A failed condition returns the current item, parsed: a
   * malformed one throws MalformedItemError.
   */
  private write<S extends z.ZodType>(
    operation: string,
    c: ClusterId,
    key: Key,
    schema: S,
    condition: (cur: Raw | undefined) => boolean,
    next: (cur: Raw | undefined) => unknown,
    shape?: Shape,
  ): WriteResult<z.infer<S>> {
    this.check(operation, 'writes');
    const cur = this.get(key);
    const guarded = cur === undefined || shape === undefined || hasShape(shape, cur);
    if (!guarded || !condition(cur)) return { ok: false, current: this.current(schema, c, key) };
    if (shape === undefined) {
      const valid = validateWrite(schema, c, key.sk, next(cur));
      this.partition(key.pk).set(key.sk, structuredClone(valid as Raw));
      return { ok: true, item: deepFreeze(structuredClone(valid)) };
    }
    this.partition(key.pk).set(key.sk, structuredClone(next(cur) as Raw));
    return { ok: true, item: this.current(schema, c, key) as z.infer<S> };
  }

  /** A put whose lost race finds exactly the item it meant to write is a success (as a retried DynamoDB put). */
  private put<S extends z.ZodType>(
    operation: string,
    c: ClusterId,
    key: Key,
    schema: S,
    item: unknown,
    condition: (cur: Raw | undefined) => boolean,
  ): WriteResult<z.infer<S>> {
    const valid = validateWrite(schema, c, key.sk, item);
    const r = this.write(operation, c, key, schema, condition, () => valid);
    if (!r.ok && r.current !== null && isDeepStrictEqual({ ...r.current }, { ...(valid as object) })) return { ok: true, item: r.current };
    return r;
  }

  private remove<S extends z.ZodType>(
    operation: string,
    c: ClusterId,
    key: Key,
    schema: S,
    expectedVersion: number,
  ): WriteResult<null, z.infer<S>> {
    this.check(operation, 'writes');
    const cur = this.get(key);
    if (cur === undefined || cur.version !== expectedVersion) return { ok: false, current: this.current(schema, c, key) };
    this.partitions.get(key.pk)?.delete(key.sk);
    return { ok: true, item: null };
  }

  async readCluster(c: ClusterId, _o?: CallOptions): Promise<ClusterSnapshot> {
    this.check('readCluster', 'reads');
    const rows = [...(this.partitions.get(clusterPk(c)) ?? new Map<string, Raw>())].map(([sk, item]) => ({ sk, item }));
    return buildSnapshot(c, rows);
  }

  async readHead(c: ClusterId, _o?: CallOptions): Promise<ClusterHead> {
    this.check('readHead', 'reads');
    const rows = [...(this.partitions.get(clusterPk(c)) ?? new Map<string, Raw>())].map(([sk, item]) => ({ sk, item }));
    return buildHead(c, rows);
  }

  async initialize(
    c: ClusterId,
    init: { systemId?: string; initializedBy: string },
    expectedVersion: number | null = null,
  ): Promise<WriteResult<InitializeItem>> {
    const item = { ...init, version: (expectedVersion ?? 0) + 1 };
    return this.put('initialize', c, { pk: clusterPk(c), sk: SK.initialize }, initializeSchema, item, versionOrAbsent(expectedVersion));
  }

  async getConfig(c: ClusterId): Promise<ConfigItem | null> {
    this.check('getConfig', 'reads');
    return this.current(configSchema, c, { pk: clusterPk(c), sk: SK.config });
  }

  async putConfig(c: ClusterId, config: ClusterConfig, expectedVersion: number | null): Promise<WriteResult<ConfigItem>> {
    const item = { config, version: (expectedVersion ?? 0) + 1 };
    return this.put('putConfig', c, { pk: clusterPk(c), sk: SK.config }, configSchema, item, versionOrAbsent(expectedVersion));
  }

  async heartbeat(c: ClusterId, status: MemberStatus, expectedVersion: number | null): Promise<WriteResult<MemberItem>> {
    const item = { ...status, version: (expectedVersion ?? 0) + 1 };
    return this.put('heartbeat', c, { pk: clusterPk(c), sk: memberSk(status.name) }, memberSchema, item, versionOrAbsent(expectedVersion));
  }

  async removeMember(c: ClusterId, name: string, expectedVersion: number): Promise<WriteResult<null, MemberItem>> {
    return this.remove('removeMember', c, { pk: clusterPk(c), sk: memberSk(name) }, memberSchema, expectedVersion);
  }

  async grantLeader(c: ClusterId, g: Grant): Promise<WriteResult<LeaderItem>> {
    const { term, leader, history } = grantItems(c, g);
    const leaderKey = { pk: clusterPk(c), sk: SK.leader };
    const historyKey = { pk: historyPk(c), sk: historySk(term) };
    const matches = (cur: Raw | undefined): boolean =>
      g.expected === null ? cur === undefined : cur !== undefined && cur.version === g.expected.version && cur.term === g.expected.term;
    // One transaction in DynamoDB: the history row must be absent too, or nothing is written.
    if (matches(this.get(leaderKey)) && this.partitions.get(historyKey.pk)?.has(historyKey.sk) === true) {
      throw new StoreInvariantError(`grant of term ${term} in ${clusterPk(c)} cancelled: a history row for term ${term} already exists`);
    }
    const r = this.write('grantLeader', c, leaderKey, leaderSchema, matches, () => leader);
    if (r.ok) this.partition(historyKey.pk).set(historyKey.sk, structuredClone(history as Raw));
    return r;
  }

  private leaderUpdate(
    operation: string,
    c: ClusterId,
    condition: (cur: Raw) => boolean,
    fields: Raw,
    remove: readonly string[] = [],
  ): WriteResult<LeaderItem> {
    validateWrite(LEADER_FIELDS, c, SK.leader, fields);
    return this.write(
      operation,
      c,
      { pk: clusterPk(c), sk: SK.leader },
      leaderSchema,
      (cur) => cur !== undefined && condition(cur),
      (cur) => {
        const next: Raw = { ...cur, ...fields, version: Number(cur?.version) + 1 };
        for (const k of remove) delete next[k];
        return next;
      },
      LEADER_SHAPE(LEADER_PHASES),
    );
  }

  async renewLeader(c: ClusterId, w: { holder: string; term: number; lastLsn: number; timeline: number; failsafe?: readonly string[]; unfenced?: boolean }) {
    return this.leaderUpdate(
      'renewLeader',
      c,
      (cur) => cur.holder === w.holder && cur.term === w.term && cur.phase !== 'released',
      { lastLsn: w.lastLsn, timeline: w.timeline, ...(w.failsafe === undefined ? {} : { failsafe: [...w.failsafe] }), ...(w.unfenced === true ? { unfenced: true } : {}) },
      w.unfenced === true ? [] : ['unfenced'],
    );
  }

  async confirmLeader(c: ClusterId, w: { holder: string; term: number; lastLsn: number; timeline: number }) {
    return this.leaderUpdate(
      'confirmLeader',
      c,
      (cur) => cur.holder === w.holder && cur.term === w.term && cur.phase === 'granted',
      { phase: 'active', lastLsn: w.lastLsn, timeline: w.timeline },
    );
  }

  async beginHandover(c: ClusterId, h: { expected: { version: number; term: number }; candidate: string }) {
    return this.leaderUpdate(
      'beginHandover',
      c,
      (cur) => cur.version === h.expected.version && cur.term === h.expected.term && cur.phase === 'active',
      { phase: 'handover', candidate: h.candidate },
    );
  }

  async completeHandover(c: ClusterId, w: { holder: string; term: number; finalLsn: number }) {
    return this.leaderUpdate(
      'completeHandover',
      c,
      (cur) => cur.holder === w.holder && cur.term === w.term && cur.phase === 'handover',
      { phase: 'demoted', finalLsn: w.finalLsn, lastLsn: w.finalLsn },
    );
  }

  async releaseLeader(c: ClusterId, w: { holder: string; term: number; lastLsn: number }) {
    return this.leaderUpdate(
      'releaseLeader',
      c,
      (cur) => cur.holder === w.holder && cur.term === w.term && cur.phase !== 'released',
      { phase: 'released', lastLsn: w.lastLsn },
    );
  }

  async setFailover(c: ClusterId, request: FailoverRequest, expectedVersion: number | null): Promise<WriteResult<FailoverItem>> {
    const item = { request, version: (expectedVersion ?? 0) + 1 };
    return this.put('setFailover', c, { pk: clusterPk(c), sk: SK.failover }, failoverSchema, item, versionOrAbsent(expectedVersion));
  }

  async clearFailover(c: ClusterId, expectedVersion: number): Promise<WriteResult<null, FailoverItem>> {
    return this.remove('clearFailover', c, { pk: clusterPk(c), sk: SK.failover }, failoverSchema, expectedVersion);
  }

  async putSync(c: ClusterId, state: SyncState, expectedVersion: number | null): Promise<WriteResult<SyncItem>> {
    const item = { ...state, version: (expectedVersion ?? 0) + 1 };
    return this.put('putSync', c, { pk: clusterPk(c), sk: SK.sync }, syncSchema, item, versionOrAbsent(expectedVersion));
  }

  async appendHistory(c: ClusterId, entry: HistoryEntry): Promise<WriteResult<HistoryItem>> {
    const key = { pk: historyPk(c), sk: historySk(entry.term) };
    return this.put('appendHistory', c, key, historySchema, { ...entry, version: 1 }, versionOrAbsent(null));
  }

  async recordHistoryStep(c: ClusterId, term: number, step: HistoryStep, at: number): Promise<WriteResult<HistoryItem>> {
    const key = { pk: historyPk(c), sk: historySk(term) };
    validateWrite(historySchema.pick({ [step]: true } as { promotedAt: true }), c, key.sk, { [step]: at });
    return this.write(
      'recordHistoryStep',
      c,
      key,
      historySchema,
      (cur) => cur !== undefined && cur[step] === undefined,
      (cur) => ({ ...cur, [step]: at, version: Number(cur?.version) + 1 }),
      HISTORY_SHAPE(HISTORY_KINDS),
    );
  }

  async readHistory(c: ClusterId): Promise<HistoryRead> {
    this.check('readHistory', 'reads');
    const rows = [...(this.partitions.get(historyPk(c)) ?? new Map<string, Raw>())].map(([sk, item]) => ({ sk, item }));
    return buildHistory(rows);
  }

  async listHistory(c: ClusterId): Promise<readonly HistoryItem[]> {
    return (await this.readHistory(c)).rows;
  }

  async putArbiter(c: ClusterId, state: ArbiterState, expectedVersion: number | null): Promise<WriteResult<ArbiterItem>> {
    const item = { ...state, version: (expectedVersion ?? 0) + 1 };
    return this.put('putArbiter', c, { pk: clusterPk(c), sk: SK.arbiter }, arbiterSchema, item, versionOrAbsent(expectedVersion));
  }

  async recordEndpoint(c: ClusterId, record: EndpointRecord): Promise<WriteResult<EndpointItem>> {
    const valid = validateWrite(endpointRecordSchema, c, SK.endpoint, record);
    return this.write(
      'recordEndpoint',
      c,
      { pk: clusterPk(c), sk: SK.endpoint },
      endpointSchema,
      (cur) =>
        cur === undefined ||
        Number(cur.term) < valid.term ||
        (cur.term === valid.term && cur.member === valid.member),
      (cur) => ({ ...cur, ...valid, version: Number(cur?.version ?? 0) + 1 }),
      ENDPOINT_SHAPE,
    );
  }

  async deleteCluster(c: ClusterId): Promise<number> {
    this.check('deleteCluster', 'writes');
    let n = 0;
    for (const pk of [clusterPk(c), historyPk(c)]) {
      n += this.partitions.get(pk)?.size ?? 0;
      this.partitions.delete(pk);
    }
    return n;
  }

  async listClusters(): Promise<readonly ClusterId[]> {
    this.check('listClusters', 'reads');
    const found: ClusterId[] = [];
    for (const [pk, items] of [...this.partitions].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const c = parseClusterPk(pk);
      if (c !== null && (items.has(SK.initialize) || items.has(SK.config) || items.has(SK.leader))) found.push(c);
    }
    return found;
  }
}
