// Errors of the store. A lost race is not an error (see WriteResult).
import type { ZodError } from 'zod';

export class DcsError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The store could not be reached within the caller's deadline, after retries. */
export class StoreUnavailableError extends DcsError {
  constructor(
    readonly operation: string,
    readonly elapsedMs: number,
    readonly attempts: number,
    cause: unknown,
  ) {
    const why = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(`store unavailable: ${operation} failed after ${attempts} attempt(s) in ${elapsedMs} ms (${why})`, { cause });
  }
}

/** The first failing field (dotted, `(item)` for the item itself) and every issue as "field: message; ...". */
export function describeIssues(issues: ZodError['issues']): { field: string; text: string } {
  const first = issues[0];
  const field = first && first.path.length > 0 ? first.path.join('.') : '(item)';
  const text = issues.map((i) => `${i.path.join('.') || '(item)'}: ${i.message}`).join('; ');
  return { field, text };
}

/** An item that does not match its schema, naming the cluster, key and first bad field. */
abstract class ItemSchemaError extends DcsError {
  readonly field: string;
  constructor(
    readonly cluster: string,
    readonly key: string,
    error: ZodError,
    what: (field: string) => string,
  ) {
    const { field, text } = describeIssues(error.issues);
    super(`${what(field)}: ${text}`, { cause: error });
    this.field = field;
  }
}

/** An item in the store does not match its schema. Never treated as absent. */
export class MalformedItemError extends ItemSchemaError {
  constructor(cluster: string, key: string, error: ZodError) {
    super(cluster, key, error, (field) => `malformed item in cluster ${cluster}, key ${key}, field ${field}`);
  }
}

/** A write was refused before it was sent: the new item would not match its schema. */
export class InvalidWriteError extends ItemSchemaError {
  constructor(cluster: string, key: string, error: ZodError) {
    super(cluster, key, error, (field) => `refused to write cluster ${cluster}, key ${key}, field ${field}`);
  }
}

/** The store broke its own invariants (for example a history row already taken for a new term). */
export class StoreInvariantError extends DcsError {}

/** The store refused a request for a reason retrying cannot fix: a missing table, missing permissions, a bad request. */
export class StoreRequestError extends DcsError {
  constructor(
    readonly operation: string,
    readonly table: string,
    cause: unknown,
  ) {
    const why = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(`store request ${operation} on table ${table} failed: ${why}`, { cause });
  }
}
