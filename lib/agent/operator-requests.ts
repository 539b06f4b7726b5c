// The operator's requests to this node over its API: restart (now or at a
// scheduled time, with Patroni's conditions), reload and reinitialize. The
// conditions are checked when the request would run; the work itself runs in
// the step machine (agent-step.ts), between the loop's own actions.
import type { RestartRequest } from './api-body.js';
import type { MutationResult } from './api.js';
import type { OperatorOp } from '../ha/agent-effects.js';

export interface OperatorHost {
  /** Runs `op` in the next steady loop; resolves when it has begun (`begun`) or ended (`done`), or was refused. */
  run(op: OperatorOp, answer: 'begun' | 'done'): Promise<MutationResult>;
  role(): 'primary' | 'replica' | 'uninitialized';
  pendingRestart(): readonly string[];
  /** Applies the configuration again and reloads a running PostgreSQL. */
  reload(): Promise<void>;
  readonly log: { info(m: string): void; warn(m: string): void };
  /** Wall clock, epoch ms: schedules are operators' times. */
  now(): number;
}

export interface ScheduledRestart {
  readonly at: number;
  readonly role?: 'primary' | 'replica';
  readonly pendingOnly?: boolean;
}

/** Longest a scheduled restart may be set ahead: a week, as a guard against a wrong year. */
const MAX_AHEAD_MS = 7 * 24 * 3600_000;

export class OperatorRequests {
  #scheduled: { readonly req: ScheduledRestart; readonly timer: NodeJS.Timeout } | null = null;

  constructor(private readonly host: OperatorHost) {}

  get scheduled(): ScheduledRestart | null {
    return this.#scheduled?.req ?? null;
  }

  async restart(req: RestartRequest): Promise<MutationResult> {
    const conditions = { ...(req.role !== undefined ? { role: req.role } : {}), ...(req.pendingOnly === true ? { pendingOnly: true } : {}) };
    if (req.scheduledAt === undefined) return this.restartNow(conditions);
    const now = this.host.now();
    if (req.scheduledAt <= now) return { status: 400, message: 'schedule: that time has passed; give a future time, or none to restart now' };
    if (req.scheduledAt - now > MAX_AHEAD_MS) return { status: 400, message: 'schedule: more than a week ahead; give a nearer time' };
    if (this.#scheduled !== null) return { status: 409, message: `a restart is already scheduled for ${new Date(this.#scheduled.req.at).toISOString()}: cancel it first (DELETE /restart)` };
    const scheduled: ScheduledRestart = { at: req.scheduledAt, ...conditions };
    const timer = setTimeout(() => {
      this.#scheduled = null;
      void this.restartNow(conditions).then((r) => (r.status === 200 ? this.host.log.info(`scheduled restart: ${r.message}`) : this.host.log.warn(`scheduled restart not done: ${r.message}`)));
    }, req.scheduledAt - now);
    timer.unref?.();
    this.#scheduled = { req: scheduled, timer };
    this.host.log.info(`restart scheduled for ${new Date(req.scheduledAt).toISOString()}`);
    return { status: 202, message: `restart scheduled for ${new Date(req.scheduledAt).toISOString()}` };
  }

  async cancelRestart(): Promise<MutationResult> {
    if (this.#scheduled === null) return { status: 404, message: 'no restart is scheduled' };
    clearTimeout(this.#scheduled.timer);
    this.#scheduled = null;
    this.host.log.info('scheduled restart cancelled');
    return { status: 200, message: 'scheduled restart cancelled' };
  }

  async reload(): Promise<MutationResult> {
    await this.host.reload();
    return { status: 200, message: 'configuration applied and PostgreSQL reloaded' };
  }

  async reinitialize(): Promise<MutationResult> {
    return this.host.run('reinit', 'begun');
  }

  close(): void {
    if (this.#scheduled !== null) clearTimeout(this.#scheduled.timer);
    this.#scheduled = null;
  }

  private async restartNow(c: { role?: 'primary' | 'replica'; pendingOnly?: boolean }): Promise<MutationResult> {
    const role = this.host.role();
    if (c.role !== undefined && c.role !== role) return { status: 503, message: `restart conditions are not satisfied: this node is a ${role}, not a ${c.role}` };
    if (c.pendingOnly === true && this.host.pendingRestart().length === 0) return { status: 503, message: 'restart conditions are not satisfied: no setting waits for a restart' };
    return this.host.run('restart', 'done');
  }
}
