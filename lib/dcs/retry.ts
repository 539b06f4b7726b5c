// Retries a store call on throttling and network errors with exponential
// backoff and full jitter, never past the caller's deadline (retry_timeout
// for the agent). Every attempt is bounded by its abort signal alone: the
// HTTP client sets no request timeout of its own (lib/dcs/client.ts).
import { StoreUnavailableError } from './errors.js';

const RETRYABLE_NAMES = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'LimitExceededException',
  'TransactionConflictException',
  'TransactionInProgressException',
  'TimeoutError',
  'AbortError',
  'RequestTimeout',
  'RequestTimeoutException',
]);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND', 'ECONNABORTED', 'UND_ERR_SOCKET']);

export function isRetryable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { name?: string; code?: string; $metadata?: { httpStatusCode?: number }; $retryable?: unknown; cause?: unknown };
  if (e.name !== undefined && RETRYABLE_NAMES.has(e.name)) return true;
  if (e.code !== undefined && NETWORK_CODES.has(e.code)) return true;
  if (e.$retryable !== undefined) return true;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined && status >= 500) return true;
  if (e.cause !== undefined && e.cause !== err) return isRetryable(e.cause);
  return false;
}

export interface RetryPolicy {
  /** The caller's deadline for the whole call (retry_timeout for the agent). */
  readonly timeoutMs: number;
  /**
   * Upper bound of the first attempt, so a hung connection cannot eat the
   * whole deadline; each retry gets twice the one before (within the
   * deadline). Unset, it is FIRST_ATTEMPT_SHARE of the deadline: a store that
   * answers in half of retry_timeout is heard on the first attempt, with time
   * left for one retry on a fresh connection.
   */
  readonly attemptTimeoutMs?: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const FIRST_ATTEMPT_SHARE = 0.75;

export const DEFAULT_RETRY: RetryPolicy = { timeoutMs: 4000, baseDelayMs: 20, maxDelayMs: 400 };

/** The first attempt's bound under `policy`. */
export function firstAttemptMs(policy: RetryPolicy): number {
  return policy.attemptTimeoutMs ?? Math.max(1, Math.round(policy.timeoutMs * FIRST_ATTEMPT_SHARE));
}

export async function withRetry<T>(
  operation: string,
  policy: RetryPolicy,
  attempt: (signal: AbortSignal) => Promise<T>,
  retryable: (err: unknown) => boolean = isRetryable,
): Promise<T> {
  const started = Date.now();
  const deadline = started + policy.timeoutMs;
  const first = firstAttemptMs(policy);
  for (let n = 1; ; n++) {
    const remaining = deadline - Date.now();
    const signal = AbortSignal.timeout(Math.max(1, Math.min(remaining, first * 2 ** (n - 1))));
    try {
      return await attempt(signal);
    } catch (err) {
      if (!retryable(err)) throw err;
      const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (n - 1));
      const delay = Math.random() * cap;
      if (Date.now() + delay >= deadline) throw new StoreUnavailableError(operation, Date.now() - started, n, err);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
