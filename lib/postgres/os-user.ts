// The unprivileged OS user PostgreSQL runs as. PostgreSQL refuses root, so a
// root process runs every PostgreSQL binary as that user and hands it the
// directories and files it creates. Invariant: when this process is not root,
// nothing here changes users or owners (the agent already runs as postgres).
import { execFile } from 'node:child_process';
import { chown, chmod, mkdir, open, readFile, rename, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { InvalidConfigError } from './errors.js';

export interface OsUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function parsePasswdLine(line: string): OsUser | null {
  const [name, , uid, gid, , home] = line.split(':');
  if (!name || uid === undefined || gid === undefined) return null;
  const u = Number(uid);
  const g = Number(gid);
  if (!Number.isInteger(u) || !Number.isInteger(g)) return null;
  return { name, uid: u, gid: g, home: home || '/' };
}

function getent(name: string): Promise<string | null> {
  return new Promise((resolve) => {
    execFile('getent', ['passwd', name], { timeout: 5_000 }, (error, stdout) => {
      resolve(error ? null : stdout);
    });
  });
}

async function lookup(name: string): Promise<OsUser> {
  const viaNss = await getent(name);
  const lines = viaNss ?? (await readFile('/etc/passwd', 'utf8').catch(() => ''));
  for (const line of lines.split('\n')) {
    const user = parsePasswdLine(line.trim());
    if (user && user.name === name) return user;
  }
  throw new InvalidConfigError('osUser', `no OS user named ${JSON.stringify(name)} (fix: install PostgreSQL, which creates "postgres", or set osUser)`);
}

const cache = new Map<string, Promise<OsUser>>();

/** The passwd entry of `name`, looked up once per process. */
export function lookupOsUser(name: string): Promise<OsUser> {
  let found = cache.get(name);
  if (!found) {
    found = lookup(name);
    found.catch(() => cache.delete(name));
    cache.set(name, found);
  }
  return found;
}

/** The user to run PostgreSQL binaries as: `name` when this process is root, else null (run as ourselves). */
export async function runAsFor(name: string): Promise<OsUser | null> {
  return isRoot() ? lookupOsUser(name) : null;
}

/** Creates `path` (and missing parents) and gives the leaf to `owner` with `mode`. */
export async function ensureOwnedDir(path: string, owner: OsUser | null, mode = 0o700): Promise<void> {
  await mkdir(path, { recursive: true, mode });
  await chmod(path, mode);
  if (owner) await chown(path, owner.uid, owner.gid);
}

/** Creates `path` (and missing parents) for `owner` unless it exists; an existing directory is left as it is. */
export async function ensureDir(path: string, owner: OsUser | null, mode = 0o755): Promise<void> {
  try {
    await mkdir(path, { mode });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return;
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    await mkdir(dirname(path), { recursive: true });
    await mkdir(path, { mode });
  }
  await chmod(path, mode);
  if (owner) await chown(path, owner.uid, owner.gid);
}

/** Creates an empty file for `owner` unless it exists (a log the server appends to). */
export async function ensureOwnedFile(path: string, owner: OsUser | null, mode = 0o600): Promise<void> {
  let handle;
  try {
    handle = await open(path, 'wx', mode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw error;
  } finally {
    await handle?.close();
  }
  if (owner) await chown(path, owner.uid, owner.gid);
}

/** Writes a file atomically (temporary file, then rename) owned by `owner`. */
export async function writeOwnedFile(path: string, content: string, owner: OsUser | null, mode = 0o600): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.pgfloat-${process.pid}.tmp`);
  await writeFile(temporary, content, { mode });
  await chmod(temporary, mode);
  if (owner) await chown(temporary, owner.uid, owner.gid);
  await rename(temporary, path);
}
