// Patroni's callbacks and pre_promote. A callback runs as Patroni runs it,
// `<script> <action> <role> <scope>`, as the PostgreSQL OS user when the
// agent is root, and is never waited for. pre_promote runs with no arguments
// (as Patroni's) and is waited for: its answer decides a promotion.
//
// Invariants:
// - Nothing here throws or rejects: a script that fails, hangs or cannot be
//   spawned is logged (warn) and, for pre_promote, answered as a veto.
// - Every run is bounded by the timeout: a hung script's process group is
//   killed at it.
// - fire() returns at once: the lease loop and the fence never wait for a
//   callback.
// - At most one run of each action at a time. One fired while another of the
//   same action runs waits for it, and only the newest such waits: the script
//   hears the last state (on_role_change's role in particular) without runs
//   piling up behind a slow script; the ones in between are dropped.
import { CommandFailedError, CommandTimeoutError } from '../postgres/errors.js';
import { runCommand } from '../postgres/exec.js';
import { runAsFor } from '../postgres/os-user.js';
import type { PgOp } from '../ha/agent-effects.js';

export const CALLBACK_ACTIONS = ['on_start', 'on_stop', 'on_restart', 'on_reload', 'on_role_change'] as const;
export type CallbackAction = (typeof CALLBACK_ACTIONS)[number];
/** Patroni 3's names: the primary is `primary`, never `master`. */
export type CallbackRole = 'primary' | 'replica';

export interface CallbackSettings {
  readonly scripts: Readonly<Partial<Record<CallbackAction, string>>>;
  readonly prePromote?: string;
  readonly timeoutMs: number;
  readonly scope: string;
  /** The OS user scripts run as when the agent is root. */
  readonly osUser: string;
}

export interface CallbackLog {
  info(message: string): void;
  warn(message: string): void;
}

/** Characters of each stream logged. */
const OUTPUT_MAX = 4096;

type Role = CallbackRole | (() => Promise<CallbackRole>);

export class Callbacks {
  readonly #running = new Map<CallbackAction, Promise<void>>();
  readonly #waiting = new Map<CallbackAction, Role>();
  #lastRole: CallbackRole | null = null;

  constructor(
    private readonly settings: CallbackSettings,
    private readonly log: CallbackLog,
  ) {}

  get prePromoteConfigured(): boolean {
    return this.settings.prePromote !== undefined;
  }

  /** Runs `action`'s script, if one is configured, beside the caller; `role` may be read when it starts. */
  fire(action: CallbackAction, role: Role): void {
    if (this.settings.scripts[action] === undefined) return;
    if (this.#running.has(action)) {
      this.#waiting.set(action, role);
      return;
    }
    this.#start(action, role);
  }

  /**
   * The agent's own PostgreSQL operation `op` ended (`ok`: it succeeded):
   * on_start, on_stop or on_restart fires for one that succeeded. `now` reads
   * the role a server just started has; `before` is the role last read.
   */
  afterPg(op: PgOp['op'], ok: boolean, now: () => Promise<CallbackRole>, before: CallbackRole): void {
    if (!ok) return;
    if (op === 'start') this.fire('on_start', now);
    else if (op === 'startStandby' || op === 'reinit') this.fire('on_start', 'replica');
    else if (op === 'restart') this.fire('on_restart', now);
    else if (op === 'stop') this.fire('on_stop', before);
  }

  /** The role PostgreSQL reports this loop (null: not running): on_role_change fires when it differs from the last one known. */
  observeRole(role: CallbackRole | null): void {
    if (role === null) return;
    const last = this.#lastRole;
    this.#lastRole = role;
    if (last !== null && last !== role) this.fire('on_role_change', role);
  }

  /** Resolves once no callback runs nor waits (for tests and a clean exit). */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.all([...this.#running.values()]);
  }

  /** Runs pre_promote to its end: ok only for exit status 0 within the timeout; never rejects. */
  async prePromote(): Promise<{ ok: boolean; message: string }> {
    const script = this.settings.prePromote;
    if (script === undefined) return { ok: true, message: 'no pre_promote script' };
    const r = await this.#run(script, []);
    if (r.ok) this.log.info(`pre_promote ${script}: ${r.message}${r.output}`);
    else this.log.warn(`pre_promote ${script}: ${r.message}${r.output}`);
    return { ok: r.ok, message: r.message };
  }

  #start(action: CallbackAction, role: Role): void {
    const run = (async () => {
      const script = this.settings.scripts[action];
      if (script === undefined) return;
      let resolved: CallbackRole;
      try {
        resolved = typeof role === 'function' ? await role() : role;
      } catch {
        resolved = this.#lastRole ?? 'replica';
      }
      const args = [action, resolved, this.settings.scope];
      const r = await this.#run(script, args);
      const line = `callback ${script} ${args.join(' ')}: ${r.message}${r.output}`;
      if (r.ok) this.log.info(line);
      else this.log.warn(line);
    })()
      .catch((err: Error) => this.log.warn(`callback ${action}: ${err.message}`))
      .finally(() => {
        this.#running.delete(action);
        const next = this.#waiting.get(action);
        this.#waiting.delete(action);
        if (next !== undefined) this.#start(action, next);
      });
    this.#running.set(action, run);
  }

  async #run(script: string, args: readonly string[]): Promise<{ ok: boolean; message: string; output: string }> {
    const timeoutMs = this.settings.timeoutMs;
    try {
      const runAs = await runAsFor(this.settings.osUser);
      const r = await runCommand(script, args, { timeoutMs, runAs });
      return { ok: true, message: `exited with status 0 in ${r.durationMs.toFixed(0)} ms`, output: output(r.stdout, r.stderr) };
    } catch (err) {
      if (err instanceof CommandTimeoutError) return { ok: false, message: `killed after the timeout of ${timeoutMs / 1000} s`, output: output('', err.stderr) };
      if (err instanceof CommandFailedError) {
        const how = err.signal !== null ? `killed by ${err.signal}` : `exited with status ${err.exitCode}`;
        return { ok: false, message: how, output: output(err.stdout, err.stderr) };
      }
      return { ok: false, message: `could not run: ${(err as Error).message}`, output: '' };
    }
  }
}

function output(stdout: string, stderr: string): string {
  const part = (name: string, s: string): string => {
    const t = s.trim();
    if (t === '') return '';
    return `; ${name}: ${t.length > OUTPUT_MAX ? `${t.slice(0, OUTPUT_MAX)}... (${t.length - OUTPUT_MAX} more characters)` : t}`;
  };
  return part('stdout', stdout) + part('stderr', stderr);
}
