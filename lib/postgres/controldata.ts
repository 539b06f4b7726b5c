// pg_controldata: what a data directory says about itself, readable while
// the server is stopped.
import { ControlDataError } from './errors.js';
import { runCommand } from './exec.js';
import { parseLsn } from './lsn.js';
import type { OsUser } from './os-user.js';

export interface ControlData {
  /** Database system identifier, as digits (it is a 64-bit number). */
  readonly systemId: string;
  /** "in production", "shut down", "shut down in recovery", "in archive recovery", "in crash recovery", ... */
  readonly clusterState: string;
  /** Timeline of the latest checkpoint (or restartpoint, on a replica). */
  readonly checkpointTimeline: number;
  readonly checkpointLsn: number;
  readonly redoLsn: number;
  /** Replay must reach this position before the data is consistent; 0 when none. */
  readonly minRecoveryEndLsn: number;
  readonly minRecoveryEndTimeline: number;
  /** Highest timeline the directory is known to be on: the checkpoint's, or the recovery point's when later. */
  readonly timeline: number;
  readonly dataChecksumVersion: number;
  readonly walLogHints: boolean;
  /** Every field as printed, by label. */
  readonly fields: Readonly<Record<string, string>>;
}

/** Whether a cluster state means the server was shut down cleanly (pg_rewind needs that). */
export function isCleanShutdown(state: string): boolean {
  return state === 'shut down' || state === 'shut down in recovery';
}

export function parseControlData(text: string, dataDir: string): ControlData {
  const fields: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    fields[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  const field = (label: string): string => {
    const value = fields[label];
    if (value === undefined) throw new ControlDataError(dataDir, `no "${label}" line (is this PostgreSQL 15 pg_controldata with LC_ALL=C?)`);
    return value;
  };
  const int = (label: string): number => {
    const value = Number(field(label));
    if (!Number.isSafeInteger(value)) throw new ControlDataError(dataDir, `"${label}" is not a number: ${field(label)}`);
    return value;
  };
  const systemId = field('Database system identifier');
  if (!/^\d{1,20}$/.test(systemId)) throw new ControlDataError(dataDir, `system identifier ${JSON.stringify(systemId)} is not a number`);
  const checkpointTimeline = int("Latest checkpoint's TimeLineID");
  const minRecoveryEndLsn = parseLsn(field('Minimum recovery ending location'));
  const minRecoveryEndTimeline = int("Min recovery ending loc's timeline");
  return {
    systemId,
    clusterState: field('Database cluster state'),
    checkpointTimeline,
    checkpointLsn: parseLsn(field('Latest checkpoint location')),
    redoLsn: parseLsn(field("Latest checkpoint's REDO location")),
    minRecoveryEndLsn,
    minRecoveryEndTimeline,
    timeline: minRecoveryEndLsn > 0 ? Math.max(checkpointTimeline, minRecoveryEndTimeline) : checkpointTimeline,
    dataChecksumVersion: int('Data page checksum version'),
    walLogHints: field('wal_log_hints setting') === 'on',
    fields,
  };
}

export async function readControlData(binDir: string, dataDir: string, runAs: OsUser | null, timeoutMs: number): Promise<ControlData> {
  const { stdout } = await runCommand(`${binDir}/pg_controldata`, ['-D', dataDir], { runAs, timeoutMs });
  return parseControlData(stdout, dataDir);
}
