// The JSON documents of the health API, in the shapes of Patroni's GET
// /patroni and GET /cluster so tools reading those keep working. Field names
// are Patroni's (snake_case); pgfloat's own additions sit under `pgfloat`.
import type { MemberTags } from '../dcs/items.js';
import type { AgentStatus, ClusterView } from './status.js';

export const PATRONI_VERSION = 'pgfloat';

/** Tags under Patroni's names: failoverPriority -> failover_priority. */
export function tagsJson(tags: MemberTags): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(tags)) {
    out[key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = value;
  }
  return out;
}

/** The node's status as GET /patroni answers it; every GET health check answers with it too. */
export function patroniJson(s: AgentStatus): Record<string, unknown> {
  const body: Record<string, unknown> = { state: s.pgState, role: s.role };
  if (s.serverVersion !== null) body['server_version'] = s.serverVersion;
  if (s.timeline !== null) body['timeline'] = s.timeline;
  if (s.role === 'primary' && s.lsn !== null) body['xlog'] = { location: s.lsn };
  if (s.role === 'replica' && (s.lsn !== null || s.replayLsn !== null)) {
    body['xlog'] = { received_location: s.lsn, replayed_location: s.replayLsn };
  }
  if (s.role === 'replica' && s.syncStandby) body['sync_standby'] = true;
  if (s.scheduledRestart) {
    body['scheduled_restart'] = {
      schedule: new Date(s.scheduledRestart.at).toISOString(),
      ...(s.scheduledRestart.role !== undefined ? { role: s.scheduledRestart.role } : {}),
      ...(s.scheduledRestart.pendingOnly === true ? { restart_pending: true } : {}),
    };
  }
  // Patroni's key: present only while a restart would apply a changed setting.
  if (s.pendingRestart.length > 0) body['pending_restart'] = true;
  body['cluster_unlocked'] = s.leader === null;
  body['pause'] = s.paused;
  // Patroni's key: present only while the role is held by failsafe.
  if (s.failsafeActive === true) body['failsafe_mode_is_active'] = true;
  if (s.systemId !== null) body['database_system_identifier'] = s.systemId;
  body['tags'] = tagsJson(s.tags);
  body['replication_lag_bytes'] = s.lagBytes;
  body['patroni'] = { version: PATRONI_VERSION, scope: s.scope, name: s.name };
  body['pgfloat'] = {
    namespace: s.namespace,
    leader: s.leader,
    term: s.term,
    holds_lease: s.holdsLease,
    demoting: s.demoting,
    ...(s.failsafePromise ? { failsafe_promise: { holder: s.failsafePromise.holder, term: s.failsafePromise.term, left_ms: Math.round(s.failsafePromise.leftMs) } } : {}),
    ...(s.storeErrors !== undefined ? { store_errors: s.storeErrors } : {}),
    ...(s.storeReads !== undefined ? { store_reads: { cluster: s.storeReads.cluster, head: s.storeReads.head } } : {}),
    ...(s.malformedItems !== undefined && s.malformedItems.length > 0 ? { malformed_items: s.malformedItems } : {}),
    ...(s.pendingRestart.length > 0 ? { pending_restart: [...s.pendingRestart] } : {}),
    ...(s.parameterProblems.length > 0 ? { parameter_problems: [...s.parameterProblems] } : {}),
  };
  return body;
}

/** The cluster as GET /cluster answers it: members by name; `lag` (bytes or "unknown") on non-leaders only. */
export function clusterJson(c: ClusterView): Record<string, unknown> {
  const members = [...c.members]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((m) => ({
      name: m.name,
      role: m.role,
      state: m.state,
      host: m.host,
      port: m.port,
      api_url: m.apiUrl,
      timeline: m.timeline,
      ...(m.role === 'leader' ? {} : { lag: m.lagBytes ?? 'unknown' }),
      tags: tagsJson(m.tags),
    }));
  return { members, scope: c.scope, pause: c.paused };
}
