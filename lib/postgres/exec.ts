// Runs an external command with a deadline. Invariants: every run has a
// timeout; on expiry the command's whole process group is killed (so helper
// processes such as pg_basebackup's WAL streamer die with it); a failure
// carries the tail of the command's stderr. Servers that daemonize
// (pg_ctl start) leave the group with setsid and are not affected.
import { spawn } from 'node:child_process';
import { CommandFailedError, CommandSpawnError, CommandTimeoutError } from './errors.js';
import type { OsUser } from './os-user.js';

export interface RunOptions {
  /** Kill the command after this many milliseconds. */
  readonly timeoutMs: number;
  /** Run as this user (needs root), or as ourselves when null/absent. */
  readonly runAs?: OsUser | null;
  /** Variables added to the sanitized environment (e.g. PGPASSWORD). */
  readonly env?: Readonly<Record<string, string>>;
  /** Exit codes that count as success; default [0]. */
  readonly okExitCodes?: readonly number[];
  readonly cwd?: string;
}

export interface RunResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
}

/** Output kept per stream; older output is dropped. */
const MAX_CAPTURE = 256 * 1024;
/** Characters of stderr quoted in an error. */
const ERROR_TAIL = 2_000;
/** After killing on timeout, wait at most this long for the pipes to close. */
const KILL_GRACE_MS = 2_000;

function tail(text: string, max: number): string {
  return text.length <= max ? text : `...${text.slice(text.length - max)}`;
}

/**
 * The environment of a command: ours without libpq variables (PGHOST, PGDATA,
 * ... would silently redirect the tools), with messages in English so their
 * output can be parsed, and HOME set to the user the command runs as.
 */
function commandEnv(runAs: OsUser | null | undefined, extra: Readonly<Record<string, string>> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('PG') && !key.startsWith('LC_') && key !== 'LANG' && key !== 'LANGUAGE') env[key] = value;
  }
  env.LC_ALL = 'C';
  env.LANG = 'C';
  if (runAs) {
    env.HOME = runAs.home;
    env.USER = runAs.name;
    env.LOGNAME = runAs.name;
  }
  return { ...env, ...extra };
}

export function runCommand(command: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  const started = performance.now();
  const okExitCodes = options.okExitCodes ?? [0];
  return new Promise<RunResult>((resolve, reject) => {
    let child;
    try {
      child = spawn(command, [...args], {
        cwd: options.cwd ?? '/',
        env: commandEnv(options.runAs, options.env),
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
        ...(options.runAs ? { uid: options.runAs.uid, gid: options.runAs.gid } : {}),
      });
    } catch (error) {
      reject(new CommandSpawnError(command, args, error));
      return;
    }
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let settled = false;
    let graceTimer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout = tail(stdout + chunk, MAX_CAPTURE);
    });
    child.stderr.on('data', (chunk: string) => {
      stderr = tail(stderr + chunk, MAX_CAPTURE);
    });

    const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(graceTimer);
      if (timedOut) {
        reject(new CommandTimeoutError(command, args, options.timeoutMs, tail(stderr, ERROR_TAIL)));
      } else if (code !== null && okExitCodes.includes(code)) {
        resolve({ exitCode: code, stdout, stderr, durationMs: performance.now() - started });
      } else {
        reject(new CommandFailedError(command, args, code, signal, tail(stderr, ERROR_TAIL), tail(stdout, ERROR_TAIL)));
      }
    };

    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
      // A process outside the group may still hold our pipes: do not wait for them forever.
      graceTimer = setTimeout(() => finish(null, 'SIGKILL'), KILL_GRACE_MS);
    }, options.timeoutMs);

    child.once('error', (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(graceTimer);
      reject(new CommandSpawnError(command, args, error));
    });
    child.once('close', finish);
  });
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}
