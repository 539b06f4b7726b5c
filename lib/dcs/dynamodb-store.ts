// The Store on DynamoDB: single table, one partition per cluster, every
// deciding write conditional, lost races returned with the winning item.
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import {
  BatchWriteItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  DeleteItemCommand,
  type AttributeValue,
  type DynamoDBClient,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { z } from 'zod';
import { buildHead, buildHistory, buildSnapshot, deepFreeze, grantItems, parseItem, validateWrite } from './codec.js';
import {
  absent,
  and,
  compile,
  ENDPOINT_SHAPE,
  HISTORY_SHAPE,
  holderIs,
  LEADER_SHAPE,
  memberIs,
  or,
  phaseIs,
  phaseIsNot,
  present,
  setFields,
  stepAbsent,
  termBelow,
  termIs,
  versionIs,
  versionOrAbsent,
  wellFormed,
  type Expr,
} from './conditions.js';
import { StoreInvariantError, StoreRequestError } from './errors.js';
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
  type EndpointRecord,
  type FailoverRequest,
  type HistoryEntry,
  type MemberStatus,
  type SyncState,
  type EndpointItem,
  type FailoverItem,
  type HistoryItem,
  type InitializeItem,
  type LeaderItem,
  type MemberItem,
  type SyncItem,
} from './items.js';
import { clusterPk, historyPk, historySk, MEMBER_PREFIX, memberSk, parseClusterPk, SK, type ClusterId } from './keys.js';
import { DEFAULT_RETRY, isRetryable, withRetry, type RetryPolicy } from './retry.js';
import type { CallOptions, ClusterHead, ClusterSnapshot, Grant, HistoryRead, Store, WriteResult } from './store.js';

export type DynamoDbApi = Pick<DynamoDBClient, 'send'>;

export interface DynamoDbStoreOptions {
  readonly client: DynamoDbApi;
  readonly tableName: string;
  readonly retry?: Partial<RetryPolicy>;
}

type Key = { readonly pk: string; readonly sk: string };
type Row = Record<string, AttributeValue>;

function errorName(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? (err as { name?: string }).name : undefined;
}

/** A transaction cancelled only because another transaction touched the same item is worth retrying. */
function retryableInTransaction(err: unknown): boolean {
  if (errorName(err) === 'TransactionCanceledException') {
    const reasons = (err as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
    return reasons.some((r) => r.Code === 'TransactionConflict' || r.Code === 'ThrottlingError');
  }
  return isRetryable(err);
}

export class DynamoDbStore implements Store {
  private readonly client: DynamoDbApi;
  private readonly table: string;
  private readonly retry: RetryPolicy;

  constructor(options: DynamoDbStoreOptions) {
    this.client = options.client;
    this.table = options.tableName;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
  }

  private policy(o?: CallOptions): RetryPolicy {
    return o?.timeoutMs === undefined ? this.retry : { ...this.retry, timeoutMs: o.timeoutMs };
  }

  /** Runs one request with retries; conditional failures and other refusals pass through `onRefusal`. */
  private async call<T>(
    operation: string,
    o: CallOptions | undefined,
    attempt: (signal: AbortSignal) => Promise<T>,
    retryable: (err: unknown) => boolean = isRetryable,
  ): Promise<T> {
    try {
      return await withRetry(operation, this.policy(o), attempt, retryable);
    } catch (err) {
      if (errorName(err) === 'StoreUnavailableError') throw err;
      if (errorName(err) === 'ConditionalCheckFailedException' || errorName(err) === 'TransactionCanceledException') throw err;
      throw new StoreRequestError(operation, this.table, err);
    }
  }

  private async getRow(operation: string, key: Key, o?: CallOptions): Promise<Row | undefined> {
    const out = await this.call(operation, o, (abortSignal) =>
      this.client.send(new GetItemCommand({ TableName: this.table, Key: marshall(key), ConsistentRead: true }), { abortSignal }),
    );
    return out.Item;
  }

  /** PutItem under `condition`. A lost race returns the stored item; finding exactly our item (a retried success) is ok. */
  private async put<S extends z.ZodType>(
    operation: string,
    c: ClusterId,
    key: Key,
    schema: S,
    item: unknown,
    condition: Expr,
    o?: CallOptions,
  ): Promise<WriteResult<z.infer<S>>> {
    const valid = validateWrite(schema, c, key.sk, item);
    try {
      await this.call(operation, o, (abortSignal) =>
        this.client.send(
          new PutItemCommand({
            TableName: this.table,
            Item: marshall({ ...key, ...(valid as object) }, { removeUndefinedValues: true }),
            ...compile(condition),
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
          { abortSignal },
        ),
      );
      return { ok: true, item: deepFreeze(valid) };
    } catch (err) {
      if (errorName(err) !== 'ConditionalCheckFailedException') throw err;
      const old = (err as { Item?: Row }).Item;
      const current = old ? parseItem(schema, c, key.sk, unmarshall(old)) : null;
      if (current !== null && isDeepStrictEqual({ ...current }, { ...(valid as object) })) return { ok: true, item: current };
      return { ok: false, current };
    }
  }

  /** UpdateItem under `condition`; returns the item after the update. */
  private async update<S extends z.ZodType>(
    operation: string,
    c: ClusterId,
    key: Key,
    schema: S,
    condition: Expr,
    update: Expr,
    o?: CallOptions,
  ): Promise<WriteResult<z.infer<S>>> {
    try {
      const out = await this.call(operation, o, (abortSignal) =>
        this.client.send(
          new UpdateItemCommand({
            TableName: this.table,
            Key: marshall(key),
            ...compile(condition, update),
            ReturnValues: 'ALL_NEW',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
          { abortSignal },
        ),
      );
      return { ok: true, item: parseItem(schema, c, key.sk, unmarshall(out.Attributes ?? {})) };
    } catch (err) {
      if (errorName(err) !== 'ConditionalCheckFailedException') throw err;
      const old = (err as { Item?: Row }).Item;
      return { ok: false, current: old ? parseItem(schema, c, key.sk, unmarshall(old)) : null };
    }
  }

  private async remove<S extends z.ZodType>(
    operation: string,
    c: ClusterId,
    key: Key,
    schema: S,
    condition: Expr,
    o?: CallOptions,
  ): Promise<WriteResult<null, z.infer<S>>> {
    try {
      await this.call(operation, o, (abortSignal) =>
        this.client.send(
          new DeleteItemCommand({
            TableName: this.table,
            Key: marshall(key),
            ...compile(condition),
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
          { abortSignal },
        ),
      );
      return { ok: true, item: null };
    } catch (err) {
      if (errorName(err) !== 'ConditionalCheckFailedException') throw err;
      const old = (err as { Item?: Row }).Item;
      return { ok: false, current: old ? parseItem(schema, c, key.sk, unmarshall(old)) : null };
    }
  }

  /** Every row of partition `pk` (with `below`: those whose sort key sorts below it), following pages. */
  private async queryPartition(operation: string, pk: string, o?: CallOptions, keysOnly = false, below?: string): Promise<Row[]> {
    const rows: Row[] = [];
    let start: Row | undefined;
    do {
      const out = await this.call(operation, o, (abortSignal) =>
        this.client.send(
          new QueryCommand({
            TableName: this.table,
            KeyConditionExpression: below === undefined ? '#pk = :pk' : '#pk = :pk AND #sk < :below',
            ExpressionAttributeNames: { '#pk': 'pk', ...(keysOnly || below !== undefined ? { '#sk': 'sk' } : {}) },
            ExpressionAttributeValues: marshall({ ':pk': pk, ...(below === undefined ? {} : { ':below': below }) }),
            ...(keysOnly ? { ProjectionExpression: '#pk, #sk' } : {}),
            ConsistentRead: true,
            ExclusiveStartKey: start,
          }),
          { abortSignal },
        ),
      );
      rows.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start !== undefined);
    return rows;
  }

  async readCluster(c: ClusterId, o?: CallOptions): Promise<ClusterSnapshot> {
    const rows = await this.queryPartition('readCluster', clusterPk(c), o);
    return buildSnapshot(
      c,
      rows.map((r) => {
        const item = unmarshall(r);
        return { sk: String(item.sk), item };
      }),
    );
  }

  async readHead(c: ClusterId, o?: CallOptions): Promise<ClusterHead> {
    const rows = await this.queryPartition('readHead', clusterPk(c), o, false, MEMBER_PREFIX);
    return buildHead(
      c,
      rows.map((r) => {
        const item = unmarshall(r);
        return { sk: String(item.sk), item };
      }),
    );
  }

  initialize(
    c: ClusterId,
    init: { systemId?: string; initializedBy: string },
    expectedVersion: number | null = null,
    o?: CallOptions,
  ): Promise<WriteResult<InitializeItem>> {
    const item = { ...init, version: (expectedVersion ?? 0) + 1 };
    return this.put('initialize', c, { pk: clusterPk(c), sk: SK.initialize }, initializeSchema, item, versionOrAbsent(expectedVersion), o);
  }

  async getConfig(c: ClusterId, o?: CallOptions): Promise<ConfigItem | null> {
    const row = await this.getRow('getConfig', { pk: clusterPk(c), sk: SK.config }, o);
    return row ? parseItem(configSchema, c, SK.config, unmarshall(row)) : null;
  }

  putConfig(c: ClusterId, config: ClusterConfig, expectedVersion: number | null, o?: CallOptions): Promise<WriteResult<ConfigItem>> {
    const item = { config, version: (expectedVersion ?? 0) + 1 };
    return this.put('putConfig', c, { pk: clusterPk(c), sk: SK.config }, configSchema, item, versionOrAbsent(expectedVersion), o);
  }

  heartbeat(c: ClusterId, status: MemberStatus, expectedVersion: number | null, o?: CallOptions): Promise<WriteResult<MemberItem>> {
    const item = { ...status, version: (expectedVersion ?? 0) + 1 };
    return this.put('heartbeat', c, { pk: clusterPk(c), sk: memberSk(status.name) }, memberSchema, item, versionOrAbsent(expectedVersion), o);
  }

  removeMember(c: ClusterId, name: string, expectedVersion: number, o?: CallOptions): Promise<WriteResult<null, MemberItem>> {
    return this.remove('removeMember', c, { pk: clusterPk(c), sk: memberSk(name) }, memberSchema, versionIs(expectedVersion), o);
  }

  async grantLeader(c: ClusterId, g: Grant, o?: CallOptions): Promise<WriteResult<LeaderItem>> {
    const { term, leader, history } = grantItems(c, g);
    const condition = g.expected === null ? absent : and(versionIs(g.expected.version), termIs(g.expected.term));
    const token = randomUUID();
    try {
      await this.call(
        'grantLeader',
        o,
        (abortSignal) =>
          this.client.send(
            new TransactWriteItemsCommand({
              ClientRequestToken: token,
              TransactItems: [
                {
                  Put: {
                    TableName: this.table,
                    Item: marshall({ pk: clusterPk(c), sk: SK.leader, ...leader }, { removeUndefinedValues: true }),
                    ...compile(condition),
                    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
                  },
                },
                {
                  Put: {
                    TableName: this.table,
                    Item: marshall({ pk: historyPk(c), sk: historySk(term), ...history }, { removeUndefinedValues: true }),
                    ...compile(absent),
                  },
                },
              ],
            }),
            { abortSignal },
          ),
        retryableInTransaction,
      );
      return { ok: true, item: deepFreeze(leader) };
    } catch (err) {
      if (errorName(err) !== 'TransactionCanceledException') throw err;
      const reasons = (err as { CancellationReasons?: { Code?: string; Item?: Row }[] }).CancellationReasons ?? [];
      if (reasons[0]?.Code !== 'ConditionalCheckFailed') {
        throw new StoreInvariantError(
          `grant of term ${term} in ${clusterPk(c)} cancelled: ${reasons.map((r) => r.Code).join(', ')} (a history row for a new term already exists?)`,
          { cause: err },
        );
      }
      const old = reasons[0].Item ?? (await this.getRow('grantLeader', { pk: clusterPk(c), sk: SK.leader }, o));
      const current = old ? parseItem(leaderSchema, c, SK.leader, unmarshall(old)) : null;
      // A retry after a lost response finds its own grant: the term is unique, so this is our write.
      if (current !== null && current.term === term && current.holder === g.holder && current.reason === g.reason) {
        return { ok: true, item: current };
      }
      return { ok: false, current };
    }
  }

  private leaderUpdate(
    operation: string,
    c: ClusterId,
    condition: Expr,
    fields: Record<string, unknown>,
    o?: CallOptions,
    remove: readonly string[] = [],
  ): Promise<WriteResult<LeaderItem>> {
    validateWrite(leaderSchema.partial(), c, SK.leader, fields);
    const guarded = and(wellFormed(LEADER_SHAPE(LEADER_PHASES)), condition);
    return this.update(operation, c, { pk: clusterPk(c), sk: SK.leader }, leaderSchema, guarded, setFields(fields, false, remove), o);
  }

  renewLeader(c: ClusterId, w: { holder: string; term: number; lastLsn: number; timeline: number; failsafe?: readonly string[]; unfenced?: boolean }, o?: CallOptions) {
    const condition = and(holderIs(w.holder), termIs(w.term), phaseIsNot('released'));
    const failsafe = w.failsafe === undefined ? {} : { failsafe: [...w.failsafe] };
    const unfenced = w.unfenced === true ? { unfenced: true } : {};
    return this.leaderUpdate('renewLeader', c, condition, { lastLsn: w.lastLsn, timeline: w.timeline, ...failsafe, ...unfenced }, o, w.unfenced === true ? [] : ['unfenced']);
  }

  confirmLeader(c: ClusterId, w: { holder: string; term: number; lastLsn: number; timeline: number }, o?: CallOptions) {
    const condition = and(holderIs(w.holder), termIs(w.term), phaseIs('granted'));
    return this.leaderUpdate('confirmLeader', c, condition, { phase: 'active', lastLsn: w.lastLsn, timeline: w.timeline }, o);
  }

  beginHandover(c: ClusterId, h: { expected: { version: number; term: number }; candidate: string }, o?: CallOptions) {
    const condition = and(versionIs(h.expected.version), termIs(h.expected.term), phaseIs('active'));
    return this.leaderUpdate('beginHandover', c, condition, { phase: 'handover', candidate: h.candidate }, o);
  }

  completeHandover(c: ClusterId, w: { holder: string; term: number; finalLsn: number }, o?: CallOptions) {
    const condition = and(holderIs(w.holder), termIs(w.term), phaseIs('handover'));
    return this.leaderUpdate('completeHandover', c, condition, { phase: 'demoted', finalLsn: w.finalLsn, lastLsn: w.finalLsn }, o);
  }

  releaseLeader(c: ClusterId, w: { holder: string; term: number; lastLsn: number }, o?: CallOptions) {
    const condition = and(holderIs(w.holder), termIs(w.term), phaseIsNot('released'));
    return this.leaderUpdate('releaseLeader', c, condition, { phase: 'released', lastLsn: w.lastLsn }, o);
  }

  setFailover(c: ClusterId, request: FailoverRequest, expectedVersion: number | null, o?: CallOptions): Promise<WriteResult<FailoverItem>> {
    const item = { request, version: (expectedVersion ?? 0) + 1 };
    return this.put('setFailover', c, { pk: clusterPk(c), sk: SK.failover }, failoverSchema, item, versionOrAbsent(expectedVersion), o);
  }

  clearFailover(c: ClusterId, expectedVersion: number, o?: CallOptions): Promise<WriteResult<null, FailoverItem>> {
    return this.remove('clearFailover', c, { pk: clusterPk(c), sk: SK.failover }, failoverSchema, versionIs(expectedVersion), o);
  }

  putSync(c: ClusterId, state: SyncState, expectedVersion: number | null, o?: CallOptions): Promise<WriteResult<SyncItem>> {
    const item = { ...state, version: (expectedVersion ?? 0) + 1 };
    return this.put('putSync', c, { pk: clusterPk(c), sk: SK.sync }, syncSchema, item, versionOrAbsent(expectedVersion), o);
  }

  appendHistory(c: ClusterId, entry: HistoryEntry, o?: CallOptions): Promise<WriteResult<HistoryItem>> {
    const key = { pk: historyPk(c), sk: historySk(entry.term) };
    return this.put('appendHistory', c, key, historySchema, { ...entry, version: 1 }, absent, o);
  }

  recordHistoryStep(c: ClusterId, term: number, step: 'promotedAt' | 'endpointMovedAt', at: number, o?: CallOptions) {
    const key = { pk: historyPk(c), sk: historySk(term) };
    validateWrite(historySchema.pick({ [step]: true } as { promotedAt: true }), c, key.sk, { [step]: at });
    const condition = and(present, wellFormed(HISTORY_SHAPE(HISTORY_KINDS)), stepAbsent(step));
    return this.update('recordHistoryStep', c, key, historySchema, condition, setFields({ [step]: at }), o);
  }

  async readHistory(c: ClusterId, o?: CallOptions): Promise<HistoryRead> {
    const rows = await this.queryPartition('readHistory', historyPk(c), o);
    return buildHistory(
      rows.map((r) => {
        const item = unmarshall(r);
        return { sk: String(item.sk), item };
      }),
    );
  }

  async listHistory(c: ClusterId, o?: CallOptions): Promise<readonly HistoryItem[]> {
    return (await this.readHistory(c, o)).rows;
  }

  putArbiter(c: ClusterId, state: ArbiterState, expectedVersion: number | null, o?: CallOptions): Promise<WriteResult<ArbiterItem>> {
    const item = { ...state, version: (expectedVersion ?? 0) + 1 };
    return this.put('putArbiter', c, { pk: clusterPk(c), sk: SK.arbiter }, arbiterSchema, item, versionOrAbsent(expectedVersion), o);
  }

  recordEndpoint(c: ClusterId, record: EndpointRecord, o?: CallOptions): Promise<WriteResult<EndpointItem>> {
    const valid = validateWrite(endpointRecordSchema, c, SK.endpoint, record);
    const condition = or(absent, and(wellFormed(ENDPOINT_SHAPE), or(termBelow(valid.term), and(termIs(valid.term), memberIs(valid.member)))));
    const update = setFields({ member: valid.member, term: valid.term, target: valid.target, movedAt: valid.movedAt }, true);
    return this.update('recordEndpoint', c, { pk: clusterPk(c), sk: SK.endpoint }, endpointSchema, condition, update, o);
  }

  async deleteCluster(c: ClusterId, o?: CallOptions): Promise<number> {
    const keys = [
      ...(await this.queryPartition('deleteCluster', clusterPk(c), o, true)),
      ...(await this.queryPartition('deleteCluster', historyPk(c), o, true)),
    ];
    for (let i = 0; i < keys.length; i += 25) {
      let pending: WriteRequest[] = keys.slice(i, i + 25).map((Key) => ({ DeleteRequest: { Key } }));
      await this.call('deleteCluster', o, async (abortSignal) => {
        const out = await this.client.send(new BatchWriteItemCommand({ RequestItems: { [this.table]: pending } }), { abortSignal });
        pending = out.UnprocessedItems?.[this.table] ?? [];
        if (pending.length > 0) throw Object.assign(new Error(`${pending.length} deletes unprocessed`), { name: 'ThrottlingException' });
      });
    }
    return keys.length;
  }

  async listClusters(o?: CallOptions): Promise<readonly ClusterId[]> {
    const seen = new Map<string, ClusterId>();
    let start: Row | undefined;
    do {
      const out = await this.call('listClusters', o, (abortSignal) =>
        this.client.send(
          new ScanCommand({
            TableName: this.table,
            ProjectionExpression: '#pk',
            FilterExpression: '#sk IN (:initialize, :config, :leader)',
            ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
            ExpressionAttributeValues: marshall({ ':initialize': SK.initialize, ':config': SK.config, ':leader': SK.leader }),
            ExclusiveStartKey: start,
          }),
          { abortSignal },
        ),
      );
      for (const row of out.Items ?? []) {
        const pk = String(unmarshall(row).pk);
        const c = parseClusterPk(pk);
        if (c !== null) seen.set(pk, c);
      }
      start = out.LastEvaluatedKey;
    } while (start !== undefined);
    return [...seen.keys()].sort().map((k) => seen.get(k) as ClusterId);
  }
}
