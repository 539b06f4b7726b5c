// What a running server says about its role and WAL positions: the queries
// and the mapping of their rows. LSNs are byte positions (see lsn.ts).
import type { Session } from './client.js';
import { PostgresError } from './errors.js';
import { lsnOrNull } from './lsn.js';

export interface WalReceiverStatus {
  readonly pid: number;
  /** "streaming", "starting", "waiting", "restarting", "stopping". */
  readonly status: string;
  readonly receivedTimeline: number;
  readonly flushedLsn: number | null;
  readonly latestEndLsn: number | null;
  readonly senderHost: string | null;
  readonly senderPort: number | null;
  readonly slotName: string | null;
}

export interface NodeStatus {
  readonly inRecovery: boolean;
  /**
   * Current timeline. A primary: the timeline WAL is written on (from
   * pg_walfile_name(pg_current_wal_lsn()), exact right after a promotion,
   * unlike pg_control_checkpoint()). A replica: the timeline it receives
   * (received_tli), or, with no WAL receiver, the highest timeline its
   * control file knows.
   */
  readonly timeline: number;
  /** Primary only: pg_current_wal_lsn() and pg_current_wal_flush_lsn(). */
  readonly currentLsn: number | null;
  readonly flushLsn: number | null;
  /** Replica only: last WAL received and flushed by the WAL receiver, and last replayed. */
  readonly receivedLsn: number | null;
  readonly replayedLsn: number | null;
  readonly systemId: string;
  readonly postmasterStartedAt: Date;
  readonly walReceiver: WalReceiverStatus | null;
  /** server_version_num, e.g. 150018. */
  readonly serverVersion: number;
  /** Settings changed in the files whose new value waits for a restart (pg_settings.pending_restart). */
  readonly pendingRestart: readonly string[];
}

export interface ReplicationRow {
  readonly pid: number;
  readonly applicationName: string;
  readonly clientAddr: string | null;
  /** "startup", "catchup", "streaming", "backup", "stopping". */
  readonly state: string;
  /** "async", "potential", "sync", "quorum". */
  readonly syncState: string;
  readonly syncPriority: number;
  readonly sentLsn: number | null;
  readonly writeLsn: number | null;
  readonly flushLsn: number | null;
  readonly replayLsn: number | null;
  readonly replayLagMs: number | null;
}

const STATUS_SQL = `
SELECT pg_is_in_recovery() AS in_recovery,
       CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_walfile_name(pg_current_wal_lsn()) END AS walfile,
       CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn() END AS current_lsn,
       CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_flush_lsn() END AS flush_lsn,
       pg_last_wal_receive_lsn() AS received_lsn,
       pg_last_wal_replay_lsn() AS replayed_lsn,
       (SELECT timeline_id FROM pg_control_checkpoint()) AS checkpoint_tli,
       (SELECT min_recovery_end_timeline FROM pg_control_recovery()) AS min_recovery_tli,
       (SELECT system_identifier::text FROM pg_control_system()) AS system_id,
       pg_postmaster_start_time() AS started_at,
       r.pid AS wr_pid, r.status AS wr_status, r.received_tli AS wr_tli, r.flushed_lsn AS wr_flushed_lsn,
       r.latest_end_lsn AS wr_latest_end_lsn, r.sender_host AS wr_sender_host, r.sender_port AS wr_sender_port,
       r.slot_name AS wr_slot_name,
       current_setting('server_version_num')::int AS server_version,
       ARRAY(SELECT name FROM pg_settings WHERE pending_restart ORDER BY name) AS pending_restart
FROM (SELECT 1) AS one LEFT JOIN pg_stat_wal_receiver AS r ON true`;

type StatusRow = {
  in_recovery: boolean;
  walfile: string | null;
  current_lsn: string | null;
  flush_lsn: string | null;
  received_lsn: string | null;
  replayed_lsn: string | null;
  checkpoint_tli: number;
  min_recovery_tli: number;
  system_id: string;
  started_at: Date;
  wr_pid: number | null;
  wr_status: string | null;
  wr_tli: number | null;
  wr_flushed_lsn: string | null;
  wr_latest_end_lsn: string | null;
  wr_sender_host: string | null;
  wr_sender_port: number | null;
  wr_slot_name: string | null;
  server_version: number;
  pending_restart: string[];
};

/** The timeline in a WAL file name: its first 8 hexadecimal digits. */
export function timelineOfWalFile(name: string): number {
  if (!/^[0-9A-F]{24}$/.test(name)) throw new PostgresError(`${JSON.stringify(name)} is not a WAL segment file name`);
  return Number.parseInt(name.slice(0, 8), 16);
}

export function mapStatusRow(row: StatusRow): NodeStatus {
  const walReceiver: WalReceiverStatus | null =
    row.wr_pid === null
      ? null
      : {
          pid: row.wr_pid,
          status: row.wr_status ?? 'unknown',
          receivedTimeline: row.wr_tli ?? 0,
          flushedLsn: lsnOrNull(row.wr_flushed_lsn),
          latestEndLsn: lsnOrNull(row.wr_latest_end_lsn),
          senderHost: row.wr_sender_host,
          senderPort: row.wr_sender_port,
          slotName: row.wr_slot_name,
        };
  let timeline: number;
  if (row.walfile !== null) timeline = timelineOfWalFile(row.walfile);
  else if (walReceiver && walReceiver.receivedTimeline > 0) timeline = walReceiver.receivedTimeline;
  else timeline = Math.max(row.checkpoint_tli, row.min_recovery_tli);
  return {
    inRecovery: row.in_recovery,
    timeline,
    currentLsn: lsnOrNull(row.current_lsn),
    flushLsn: lsnOrNull(row.flush_lsn),
    receivedLsn: row.in_recovery ? lsnOrNull(row.received_lsn) : null,
    replayedLsn: row.in_recovery ? lsnOrNull(row.replayed_lsn) : null,
    systemId: row.system_id,
    postmasterStartedAt: row.started_at,
    walReceiver,
    serverVersion: row.server_version,
    pendingRestart: row.pending_restart,
  };
}

export async function queryStatus(session: Session): Promise<NodeStatus> {
  const [row] = await session.query<StatusRow>(STATUS_SQL);
  if (!row) throw new PostgresError('the status query returned no row');
  return mapStatusRow(row);
}

const REPLICATION_SQL = `
SELECT pid, application_name, host(client_addr) AS client_addr, state, sync_state, sync_priority,
       sent_lsn, write_lsn, flush_lsn, replay_lsn,
       (EXTRACT(EPOCH FROM replay_lag) * 1000)::float8 AS replay_lag_ms
FROM pg_stat_replication
ORDER BY application_name, pid`;

type ReplicationSqlRow = {
  pid: number;
  application_name: string;
  client_addr: string | null;
  state: string;
  sync_state: string;
  sync_priority: number;
  sent_lsn: string | null;
  write_lsn: string | null;
  flush_lsn: string | null;
  replay_lsn: string | null;
  replay_lag_ms: number | null;
};

export async function queryReplication(session: Session): Promise<ReplicationRow[]> {
  const rows = await session.query<ReplicationSqlRow>(REPLICATION_SQL);
  return rows.map((r) => ({
    pid: r.pid,
    applicationName: r.application_name,
    clientAddr: r.client_addr,
    state: r.state,
    syncState: r.sync_state,
    syncPriority: r.sync_priority,
    sentLsn: lsnOrNull(r.sent_lsn),
    writeLsn: lsnOrNull(r.write_lsn),
    flushLsn: lsnOrNull(r.flush_lsn),
    replayLsn: lsnOrNull(r.replay_lsn),
    replayLagMs: r.replay_lag_ms,
  }));
}
