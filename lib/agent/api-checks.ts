// The health checks of the agent's HTTP API as pure functions of the agent's
// status and the request's query: the same answers as Patroni's REST API, so
// load balancer and HAProxy checks written for Patroni keep working.
// 200 means "send me traffic of this kind", 503 means "do not".
import type { AgentStatus } from './status.js';
import { InvalidQueryParameterError } from './errors.js';

export type HealthCheck =
  | 'primary'
  | 'leader'
  | 'standby-leader'
  | 'replica'
  | 'read-only'
  | 'read-only-sync'
  | 'read-only-quorum'
  | 'sync'
  | 'async'
  | 'quorum'
  | 'health';

export interface CheckResult {
  readonly code: 200 | 503;
  readonly reason: string;
}

const ok = (reason: string): CheckResult => ({ code: 200, reason });
const no = (reason: string): CheckResult => ({ code: 503, reason });

const UNITS: Readonly<Record<string, number>> = {
  b: 1,
  kb: 1024,
  mb: 1024 ** 2,
  gb: 1024 ** 3,
  tb: 1024 ** 4,
};

/**
 * A lag as Patroni accepts it: bytes ("1048576") or a number with a
 * PostgreSQL memory unit ("1024kB", "16MB", "1GB"; 1 kB = 1024 B). Units are
 * read case-insensitively. Returns null when the text is none of these.
 */
export function parseLagBytes(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (m === null) return null;
  const factor = m[2] === '' ? 1 : UNITS[m[2]!.toLowerCase()];
  if (factor === undefined) return null;
  const bytes = Math.round(Number(m[1]) * factor);
  return Number.isSafeInteger(bytes) ? bytes : null;
}

/** The `lag` query parameter in bytes, or null when absent. Throws InvalidQueryParameterError when unreadable. */
export function maxLagFrom(query: URLSearchParams): number | null {
  const raw = query.get('lag');
  if (raw === null) return null;
  const bytes = parseLagBytes(raw);
  if (bytes === null) {
    throw new InvalidQueryParameterError('lag', raw, 'expected bytes or a size with a unit, e.g. 1048576, 1024kB, 16MB, 1GB');
  }
  return bytes;
}

/** Primary with a live lease, not demoting, PostgreSQL running: the only node that may take writes. */
export function primaryCheck(s: AgentStatus): CheckResult {
  if (s.role !== 'primary') return no(`role is ${s.role}, not primary`);
  if (s.demoting) return no('demotion in progress');
  if (!s.holdsLease) return no('primary without a live lease');
  if (s.pgState !== 'running') return no(`PostgreSQL is ${s.pgState}`);
  return ok('primary with a live lease');
}

/** A running replica that takes read traffic, within the `lag` and `replication_state` asked for. */
export function replicaCheck(s: AgentStatus, query: URLSearchParams): CheckResult {
  const maxLag = maxLagFrom(query);
  if (s.role !== 'replica') return no(`role is ${s.role}, not replica`);
  if (s.pgState !== 'running') return no(`PostgreSQL is ${s.pgState}`);
  if (s.tags.noloadbalance) return no('tag noloadbalance is set');
  if (maxLag !== null) {
    if (s.lagBytes === null) return no('replication lag unknown');
    if (s.lagBytes > maxLag) return no(`replication lag ${s.lagBytes} bytes exceeds lag=${maxLag}`);
  }
  const wantedState = query.get('replication_state');
  if (wantedState !== null) {
    // The agent knows a lag only while the replica streams from the leader.
    const state = s.lagBytes === null ? 'unknown' : 'streaming';
    if (state !== wantedState) return no(`replication state is ${state}, not ${wantedState}`);
  }
  return ok('running replica');
}

function tagText(value: unknown): string {
  return typeof value === 'string' ? value : String(value).toLowerCase();
}

/** `tag_<key>=<value>` query parameters; a tag the node lacks or with another value fails the check. */
export function tagsCheck(s: AgentStatus, query: URLSearchParams): CheckResult {
  const tags = s.tags as unknown as Readonly<Record<string, unknown>>;
  for (const [key, wanted] of query) {
    if (!key.startsWith('tag_')) continue;
    const name = key.slice('tag_'.length);
    // Patroni spells tags in snake_case (failover_priority), the agent in camelCase.
    const own = name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    const value = Object.hasOwn(tags, own) ? tags[own] : Object.hasOwn(tags, name) ? tags[name] : undefined;
    if (value === undefined || value === null) return no(`tag ${name} is not set on this node`);
    if (tagText(value) !== wanted) return no(`tag ${name} is ${tagText(value)}, not ${wanted}`);
  }
  return ok('tags match');
}

/** The answer of a health check path (without liveness and readiness, which have their own rules). */
export function evaluateCheck(check: HealthCheck, s: AgentStatus, query: URLSearchParams): CheckResult {
  maxLagFrom(query); // an unreadable lag is refused on every path, not only where it decides
  const result = baseCheck(check, s, query);
  // Leader checks ignore tag filters, as Patroni's do.
  if (result.code !== 200 || check === 'primary' || check === 'leader' || check === 'standby-leader') return result;
  return tagsCheck(s, query);
}

function baseCheck(check: HealthCheck, s: AgentStatus, query: URLSearchParams): CheckResult {
  switch (check) {
    case 'primary':
    case 'leader':
      return primaryCheck(s);
    case 'standby-leader':
      return no('pgfloat runs no standby clusters');
    case 'replica':
      return replicaCheck(s, query);
    case 'read-only': {
      const primary = primaryCheck(s);
      return primary.code === 200 ? primary : replicaCheck(s, query);
    }
    case 'read-only-sync': {
      const primary = primaryCheck(s);
      if (primary.code === 200) return primary;
      return s.syncStandby ? replicaCheck(s, query) : no('not a synchronous standby');
    }
    case 'read-only-quorum': {
      const primary = primaryCheck(s);
      return primary.code === 200 ? primary : no('pgfloat has no quorum commit standbys');
    }
    case 'sync':
      return s.syncStandby ? replicaCheck(s, query) : no('not a synchronous standby');
    case 'async':
      return s.syncStandby ? no('a synchronous standby') : replicaCheck(s, query);
    case 'quorum':
      return no('pgfloat has no quorum commit standbys');
    case 'health':
      return s.pgState === 'running' ? ok('PostgreSQL is running') : no(`PostgreSQL is ${s.pgState}`);
  }
}

/**
 * The agent loop is alive: its last loop ended at most ttl ago on a running
 * primary, 2 * ttl on any other node (a replica's stall hurts no one as soon).
 * In maintenance mode (paused) always alive, so probes do not restart an
 * agent an operator is working on. `nowMs` is on the clock of `lastLoopAt`.
 */
export function livenessCheck(s: AgentStatus, nowMs: number): CheckResult {
  if (s.paused) return ok('maintenance mode');
  const threshold = s.ttlMs * (s.role === 'primary' && s.pgState === 'running' ? 1 : 2);
  const age = nowMs - s.lastLoopAt;
  return age <= threshold
    ? ok(`agent loop completed ${age} ms ago`)
    : no(`agent loop last completed ${age} ms ago, more than ${threshold} ms`);
}

/**
 * Ready for traffic: the primary with a live lease, or a running replica
 * that streams from the leader (its lag is known) and is within `?lag=`.
 */
export function readinessCheck(s: AgentStatus, query: URLSearchParams): CheckResult {
  const maxLag = maxLagFrom(query);
  if (s.role === 'primary' && s.holdsLease && !s.demoting) return ok('primary with a live lease');
  if (s.pgState !== 'running') return no(`PostgreSQL is ${s.pgState}`);
  if (s.role !== 'replica') return no(`role is ${s.role} without a live lease`);
  if (s.lagBytes === null) return no('replication lag unknown: not streaming from the leader');
  if (maxLag !== null && s.lagBytes > maxLag) return no(`replication lag ${s.lagBytes} bytes exceeds lag=${maxLag}`);
  return ok('replica streaming from the leader');
}
