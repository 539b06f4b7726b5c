// Retries of AWS calls within one deadline. A move or check has a single
// deadline (timeoutMs, default 10 s) shared by every call it makes: each call
// is retried on throttling, 5xx and network errors with exponential backoff
// and jitter, and gives up with EndpointUnavailableError rather than sleep
// past the deadline. Permission and not-found errors are thrown at once.
// Sleep, clock and randomness are injectable so tests run in milliseconds.
import {
  EndpointError,
  EndpointNotFoundError,
  EndpointPermissionError,
  EndpointUnavailableError,
  classifyError,
  describeError,
  errorCode,
} from './errors.js';

export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export const DEFAULT_TIMEOUT_MS = 10_000;

/** Timing knobs of a mover. Every field has a production default. */
export interface RetryTuning {
  /** Deadline of a move or check when the caller gives none. */
  readonly defaultTimeoutMs?: number;
  /** First backoff delay; doubles per attempt up to maxDelayMs. */
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  readonly sleep?: Sleep;
  readonly now?: () => number;
  /** In [0, 1): the jitter source. */
  readonly random?: () => number;
}

export const realSleep: Sleep = (ms, signal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** The time budget of one move or check, and the caller's abort signal. */
export class Deadline {
  readonly startedAt: number;
  readonly at: number;
  readonly sleep: Sleep;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly signal: AbortSignal | undefined;
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(
    options: { readonly timeoutMs?: number; readonly signal?: AbortSignal } | undefined,
    tuning: RetryTuning = {},
  ) {
    this.now = tuning.now ?? Date.now;
    this.random = tuning.random ?? Math.random;
    this.sleep = tuning.sleep ?? realSleep;
    this.baseDelayMs = tuning.baseDelayMs ?? 100;
    this.maxDelayMs = tuning.maxDelayMs ?? 2_000;
    this.signal = options?.signal;
    this.startedAt = this.now();
    this.at = this.startedAt + (options?.timeoutMs ?? tuning.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS);
  }

  remaining(): number {
    return this.at - this.now();
  }

  elapsed(): number {
    return this.now() - this.startedAt;
  }

  /** Throws the caller's abort reason if it aborted. */
  checkAborted(): void {
    this.signal?.throwIfAborted();
  }

  /** Backoff before retry number `attempt` (1-based): exponential, half of it jittered. */
  backoff(attempt: number): number {
    const ceiling = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
    return Math.round(ceiling / 2 + (ceiling / 2) * this.random());
  }

  /**
   * A signal for one request: aborts with the caller or when the deadline
   * passes. Call release() when the request is over.
   */
  requestSignal(): { readonly signal: AbortSignal; release(): void } {
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(this.signal?.reason);
    this.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(
      () => controller.abort(new DOMException('endpoint deadline passed', 'TimeoutError')),
      Math.max(1, Math.ceil(this.remaining())),
    );
    return {
      signal: controller.signal,
      release: () => {
        clearTimeout(timer);
        this.signal?.removeEventListener('abort', onAbort);
      },
    };
  }
}

export interface Operation {
  /** The IAM action, e.g. "ec2:AssociateAddress". */
  readonly action: string;
  /** What it acts on, e.g. "elastic IP eipalloc-1 / network interface eni-2". */
  readonly resource: string;
}

/**
 * Runs `call` until it succeeds, retrying throttling, 5xx and network errors
 * within the deadline. Throws EndpointPermissionError, EndpointNotFoundError,
 * EndpointUnavailableError, EndpointError (anything else, with the AWS error
 * as cause) or the caller's abort reason.
 */
export async function withRetry<T>(op: Operation, d: Deadline, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    d.checkAborted();
    if (d.remaining() <= 0) {
      throw new EndpointUnavailableError(op.action, op.resource, d.elapsed(), attempt - 1, new Error('deadline passed'));
    }
    const request = d.requestSignal();
    let delay: number;
    try {
      return await call(request.signal);
    } catch (err) {
      d.checkAborted();
      const kind = classifyError(err);
      if (kind === 'permission') throw new EndpointPermissionError(op.action, op.resource, err);
      if (kind === 'not-found') throw new EndpointNotFoundError(op.action, op.resource, err);
      // An AbortError the caller did not cause is the deadline's own.
      const timedOut = d.remaining() <= 0 || errorCode(err) === 'AbortError';
      if (kind === 'fatal' && !timedOut) {
        throw new EndpointError(`${op.action} on ${op.resource} failed: ${describeError(err)}`, { cause: err });
      }
      delay = d.backoff(attempt);
      if (timedOut || d.remaining() <= delay) {
        throw new EndpointUnavailableError(op.action, op.resource, d.elapsed(), attempt, err);
      }
    } finally {
      request.release();
    }
    await d.sleep(delay, d.signal);
  }
}

/**
 * Calls `check` until it returns a value other than undefined, at most
 * `attempts` times `intervalMs` apart and never past the deadline. Returns
 * the last value checked (`done` true when it satisfied the check).
 */
export async function recheck<T>(
  d: Deadline,
  limits: { readonly attempts: number; readonly intervalMs: number },
  check: () => Promise<{ readonly done: boolean; readonly value: T }>,
): Promise<{ readonly done: boolean; readonly value: T }> {
  for (let n = 1; ; n++) {
    const r = await check();
    if (r.done || n >= limits.attempts || d.remaining() <= limits.intervalMs) return r;
    await d.sleep(limits.intervalMs, d.signal);
  }
}
