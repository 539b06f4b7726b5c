// Items in and out of the store: every item read is parsed, every item
// written is validated, and what callers receive is deeply frozen.
import { z } from 'zod';
import { describeIssues, InvalidWriteError, MalformedItemError } from './errors.js';
import {
  arbiterSchema,
  configSchema,
  endpointSchema,
  failoverSchema,
  historySchema,
  initializeSchema,
  leaderSchema,
  memberSchema,
  syncSchema,
  type HistoryItem,
  type LeaderItem,
  type MemberItem,
} from './items.js';
import { clusterLabel, HISTORY_PREFIX, historySk, MEMBER_PREFIX, SK, type ClusterId } from './keys.js';
import type { ClusterHead, ClusterSnapshot, Grant, HistoryRead, ItemKind, MalformedEntry } from './store.js';

export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Parses a stored item (keys removed), or throws MalformedItemError naming cluster, key and field. */
export function parseItem<S extends z.ZodType>(schema: S, c: ClusterId, key: string, raw: unknown): z.infer<S> {
  const parsed = schema.safeParse(stripKeys(raw));
  if (!parsed.success) throw new MalformedItemError(clusterLabel(c), key, parsed.error);
  return deepFreeze(parsed.data);
}

const storedVersion = z.number().int().min(1);

/** Parses a stored item (keys removed); a malformed one comes back as its MalformedEntry instead. */
export function tryParseItem<S extends z.ZodType>(
  schema: S,
  kind: ItemKind,
  key: string,
  raw: unknown,
): { readonly ok: true; readonly item: z.infer<S> } | { readonly ok: false; readonly entry: MalformedEntry } {
  const parsed = schema.safeParse(stripKeys(raw));
  if (parsed.success) return { ok: true, item: deepFreeze(parsed.data) };
  const { field, text } = describeIssues(parsed.error.issues);
  const version = storedVersion.safeParse(typeof raw === 'object' && raw !== null ? (raw as { version?: unknown }).version : undefined);
  return { ok: false, entry: deepFreeze({ kind, key, field, message: text, version: version.success ? version.data : null }) };
}

/** True when the stored item (keys removed) matches its schema. */
export function wellFormed(schema: z.ZodType, raw: unknown): boolean {
  return schema.safeParse(stripKeys(raw)).success;
}

const byKey = (a: MalformedEntry, b: MalformedEntry): number => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/** Validates an item before it is written, or throws InvalidWriteError. Returns the parsed (defaulted) item. */
export function validateWrite<S extends z.ZodType>(schema: S, c: ClusterId, key: string, item: unknown): z.infer<S> {
  const parsed = schema.safeParse(item);
  if (!parsed.success) throw new InvalidWriteError(clusterLabel(c), key, parsed.error);
  return parsed.data;
}

function stripKeys(raw: unknown): unknown {
  if (typeof raw !== 'object' || raw === null) return raw;
  const { pk: _pk, sk: _sk, ...rest } = raw as Record<string, unknown>;
  return rest;
}

export const SCHEMA_BY_SK = {
  [SK.initialize]: initializeSchema,
  [SK.config]: configSchema,
  [SK.leader]: leaderSchema,
  [SK.failover]: failoverSchema,
  [SK.sync]: syncSchema,
  [SK.arbiter]: arbiterSchema,
  [SK.endpoint]: endpointSchema,
} as const;

type Singles = { -readonly [K in keyof typeof SCHEMA_BY_SK]: z.infer<(typeof SCHEMA_BY_SK)[K]> | null };

/**
 * Builds the snapshot of one partition's rows. Unknown sort keys are ignored
 * (newer writers); a malformed item is left out and listed in `malformed`.
 */
export function buildSnapshot(c: ClusterId, rows: Iterable<{ sk: string; item: unknown }>): ClusterSnapshot {
  const singles: Singles = {
    initialize: null,
    config: null,
    leader: null,
    failover: null,
    sync: null,
    arbiter: null,
    endpoint: null,
  };
  const members: MemberItem[] = [];
  const malformed: MalformedEntry[] = [];
  for (const { sk, item } of rows) {
    if (sk.startsWith(MEMBER_PREFIX)) {
      const r = tryParseItem(memberSchema, 'member', sk, item);
      if (r.ok) members.push(r.item);
      else malformed.push(r.entry);
    } else if (Object.hasOwn(SCHEMA_BY_SK, sk)) {
      const key = sk as keyof typeof SCHEMA_BY_SK;
      const r = tryParseItem(SCHEMA_BY_SK[key], key, sk, item);
      if (r.ok) (singles as Record<string, unknown>)[key] = r.item;
      else malformed.push(r.entry);
    }
  }
  members.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  malformed.sort(byKey);
  return deepFreeze({ cluster: { ...c }, ...singles, members, malformed });
}

/** The head of a partition (rows whose sort key sorts below `member#`), malformed items listed. */
export function buildHead(c: ClusterId, rows: Iterable<{ sk: string; item: unknown }>): ClusterHead {
  const below = [...rows].filter((r) => r.sk < MEMBER_PREFIX);
  const { members: _m, sync: _s, ...head } = buildSnapshot(c, below);
  return Object.freeze(head);
}

/** Builds the history read of the history partition's rows: by term ascending, malformed rows listed. */
export function buildHistory(rows: Iterable<{ sk: string; item: unknown }>): HistoryRead {
  const good: HistoryItem[] = [];
  const malformed: MalformedEntry[] = [];
  for (const { sk, item } of rows) {
    if (!sk.startsWith(HISTORY_PREFIX)) continue;
    const r = tryParseItem(historySchema, 'history', sk, item);
    if (r.ok) good.push(r.item);
    else malformed.push(r.entry);
  }
  good.sort((a, b) => a.term - b.term);
  malformed.sort(byKey);
  return deepFreeze({ rows: good, malformed });
}

/** The leader item and the history row a grant writes, validated: term and version one past `expected`. */
export function grantItems(c: ClusterId, g: Grant): { term: number; leader: LeaderItem; history: HistoryItem } {
  const term = (g.expected?.term ?? 0) + 1;
  const leader = validateWrite(leaderSchema, c, SK.leader, {
    holder: g.holder,
    term,
    phase: 'granted',
    lastLsn: g.lastLsn,
    timeline: g.timeline,
    previous: g.previous,
    reason: g.reason,
    version: (g.expected?.version ?? 0) + 1,
  });
  const history = validateWrite(historySchema, c, historySk(term), {
    term,
    kind: g.kind,
    from: g.previous,
    to: g.holder,
    reason: g.reason,
    lsn: g.lastLsn,
    timeline: g.timeline,
    grantedAt: g.grantedAt,
    version: 1,
  });
  return { term, leader, history };
}
