// The local evidence of this node's own bootstrap: a marker file beside the
// data directory, written before initdb and removed once the new system's
// identifier is recorded in the store.
//
// Invariant: the agent empties a non-empty data directory only when this
// marker is there. The store's word ("your bootstrap is unfinished") alone
// never destroys data; a directory this node did not initdb itself is never
// emptied.
import { access, chown, mkdir, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { OsUser } from '../postgres/os-user.js';

/** `<parent>/.<data dir name>.pgfloat-bootstrap`: outside the data directory, which initdb needs empty. */
export function bootstrapMarker(dataDir: string): string {
  return join(dirname(dataDir), `.${basename(dataDir)}.pgfloat-bootstrap`);
}

export async function writeBootstrapMarker(dataDir: string, owner: OsUser | null): Promise<void> {
  const path = bootstrapMarker(dataDir);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify({ dataDir, startedAt: new Date().toISOString() })}\n`, { mode: 0o600 });
  if (owner !== null) await chown(path, owner.uid, owner.gid);
}

export async function hasBootstrapMarker(dataDir: string): Promise<boolean> {
  return access(bootstrapMarker(dataDir)).then(
    () => true,
    () => false,
  );
}

export async function clearBootstrapMarker(dataDir: string): Promise<void> {
  await rm(bootstrapMarker(dataDir), { force: true });
}
