// What the agent reads of its local PostgreSQL each loop.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { MemberItem } from '../dcs/items.js';
import type { LocalState } from '../ha/agent.js';
import { parseConf } from '../postgres/conf-text.js';
import { isCleanShutdown } from '../postgres/controldata.js';
import { readAutoConf, isEmptyDir } from '../postgres/data-dir.js';
import type { PostgresNode } from '../postgres/node.js';
import type { NodeStatus } from '../postgres/status.js';
import { hasBootstrapMarker } from './bootstrap-marker.js';

export interface LocalReading {
  readonly state: LocalState;
  /** The running server's status; null when stopped or unreachable. */
  readonly status: NodeStatus | null;
}

/** host and port of a libpq conninfo string (key=value form). */
export function conninfoAddress(conninfo: string): { host: string; port: number } | null {
  const host = /(?:^|\s)host='?([^'\s]+)'?/.exec(conninfo)?.[1];
  const port = /(?:^|\s)port='?(\d+)'?/.exec(conninfo)?.[1];
  return host === undefined ? null : { host, port: port === undefined ? 5432 : Number(port) };
}

function memberAt(members: readonly MemberItem[], address: { host: string; port: number } | null): string | null {
  if (address === null) return null;
  for (const m of members) {
    try {
      const u = new URL(m.connUrl);
      if (u.hostname.replace(/^\[(.*)\]$/, '$1') === address.host && Number(u.port || 5432) === address.port) return m.name;
    } catch {
      // a member with a malformed connUrl is nobody we follow
    }
  }
  return null;
}

export async function readLocal(pg: PostgresNode, members: readonly MemberItem[]): Promise<LocalReading> {
  const dataDir = pg.config.dataDir;
  const hasFiles = !(await isEmptyDir(dataDir));
  const bootstrapMarker = await hasBootstrapMarker(dataDir);
  const running = hasFiles && (await pg.isRunning());
  if (!hasFiles || !existsSync(join(dataDir, 'PG_VERSION'))) {
    return {
      state: { empty: true, systemId: null, running: false, inRecovery: null, following: null, wasPrimary: false, hasFiles, bootstrapMarker, postmasterRunning: running },
      status: null,
    };
  }
  let status: NodeStatus | null = null;
  if (running) {
    try {
      status = await pg.status();
    } catch {
      status = null; // starting up or shutting down: treat as not answering
    }
  }
  const control = status === null ? await pg.controldata().catch(() => null) : null;
  const conninfo = parseConf(await readAutoConf(dataDir).catch(() => '')).get('primary_conninfo') ?? '';
  const standbySignal = existsSync(join(dataDir, 'standby.signal'));
  // A base backup never started holds backup_label and its source's pg_control ("in production"): a standby's data, not a primary's.
  const unstartedCopy = existsSync(join(dataDir, 'backup_label'));
  const wasPrimary = status !== null ? !status.inRecovery : !unstartedCopy && control !== null && (control.clusterState === 'in production' || control.clusterState === 'shut down');
  return {
    state: {
      empty: false,
      systemId: status?.systemId ?? control?.systemId ?? null,
      running: running && status !== null,
      inRecovery: status === null ? null : status.inRecovery,
      following: standbySignal || status?.inRecovery ? memberAt(members, conninfoAddress(conninfo)) : null,
      wasPrimary,
      cleanShutdown: control !== null && isCleanShutdown(control.clusterState),
      hasFiles,
      bootstrapMarker,
      postmasterRunning: running,
    },
    status,
  };
}
