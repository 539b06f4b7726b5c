// Errors of the endpoint movers, and how an AWS error is classified.
// Every error names the AWS action and the resource it was about, so an
// operator reading the arbiter's log knows what to grant, create or fix.

export class EndpointError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The caller's credentials may not perform `action` on `resource`. Not retried. */
export class EndpointPermissionError extends EndpointError {
  constructor(
    readonly action: string,
    readonly resource: string,
    cause: unknown,
  ) {
    super(
      `permission denied: ${action} on ${resource} (${describeError(cause)}). ` +
        `Fix: allow ${action} on ${resource} in the IAM policy of the role the arbiter runs as`,
      { cause },
    );
  }
}

/** The configured resource (address, network interface, hosted zone, change) does not exist. Not retried. */
export class EndpointNotFoundError extends EndpointError {
  constructor(
    readonly action: string,
    readonly resource: string,
    cause: unknown,
  ) {
    super(
      `not found: ${resource} (${action}: ${describeError(cause)}). ` +
        `Fix: check the endpoint settings in the cluster config and the AWS region the arbiter uses`,
      { cause },
    );
  }
}

/** Throttling, server or network errors persisted past the caller's deadline. */
export class EndpointUnavailableError extends EndpointError {
  constructor(
    readonly action: string,
    readonly resource: string,
    readonly elapsedMs: number,
    readonly attempts: number,
    cause: unknown,
  ) {
    super(
      `endpoint unavailable: ${action} on ${resource} failed after ${attempts} attempt(s) in ${elapsedMs} ms (${describeError(cause)})`,
      { cause },
    );
  }
}

/** The member cannot be a target of this kind of endpoint (for example it reported no network interface). */
export class EndpointTargetError extends EndpointError {
  constructor(
    readonly member: string,
    message: string,
  ) {
    super(`member ${member}: ${message}`);
  }
}

/** The change was accepted but the endpoint still does not point at the target after bounded re-checks. */
export class EndpointVerifyError extends EndpointError {
  constructor(
    readonly resource: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`${resource} points at ${actual}, expected ${expected} after the change was accepted: another writer may have moved it`);
  }
}

export type ErrorClass = 'permission' | 'not-found' | 'retryable' | 'fatal';

const PERMISSION = new Set(['UnauthorizedOperation', 'AccessDenied', 'AccessDeniedException']);
const NOT_FOUND = new Set([
  'InvalidAllocationID.NotFound',
  'InvalidNetworkInterfaceID.NotFound',
  'InvalidAddress.NotFound',
  'InvalidAddressID.NotFound',
  'NoSuchHostedZone',
  'HostedZoneNotFound',
  'NoSuchChange',
]);
const RETRYABLE = new Set([
  'RequestLimitExceeded',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestThrottled',
  'RequestThrottledException',
  'PriorRequestNotComplete',
  'InternalError',
  'InternalFailure',
  'ServiceUnavailable',
  'Unavailable',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
]);
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ENETUNREACH',
  'EHOSTUNREACH',
]);

function field(err: unknown, key: string): unknown {
  return typeof err === 'object' && err !== null ? (err as Record<string, unknown>)[key] : undefined;
}

function httpStatus(err: unknown): number | undefined {
  const status = field(field(err, '$metadata'), 'httpStatusCode');
  return typeof status === 'number' ? status : undefined;
}

/** The AWS error code: the SDK puts it in `name` (and sometimes `Code`). */
export function errorCode(err: unknown): string {
  const name = field(err, 'name');
  const code = field(err, 'Code');
  if (typeof code === 'string' && code !== '') return code;
  return typeof name === 'string' ? name : '';
}

/** What to do about an error from an AWS call. */
export function classifyError(err: unknown): ErrorClass {
  const code = errorCode(err);
  const status = httpStatus(err);
  if (PERMISSION.has(code) || status === 403) return 'permission';
  if (NOT_FOUND.has(code) || code.endsWith('.NotFound')) return 'not-found';
  if (RETRYABLE.has(code)) return 'retryable';
  if (status !== undefined && (status >= 500 || status === 429)) return 'retryable';
  if (field(err, '$retryable') !== undefined) return 'retryable';
  const sysCode = field(err, 'code');
  if (typeof sysCode === 'string' && NETWORK_CODES.has(sysCode)) return 'retryable';
  return 'fatal';
}

export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = errorCode(err) || err.name;
    return err.message && err.message !== code ? `${code}: ${err.message}` : code;
  }
  if (typeof err === 'object' && err !== null) {
    const code = errorCode(err);
    const message = field(err, 'message');
    if (code && typeof message === 'string' && message !== '') return `${code}: ${message}`;
    if (code) return code;
  }
  return String(err);
}
