// Short-lived SQL sessions. Invariants: every session has a connect timeout
// and a statement_timeout (plus a client-side query timeout a little longer),
// and is closed however the work ends.
import pg from 'pg';
import type { QueryResultRow } from 'pg';
import { ConnectionError, QueryError } from './errors.js';

export interface SessionOptions {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string | null;
  readonly database?: string;
  readonly connectTimeoutMs: number;
  readonly statementTimeoutMs: number;
  readonly applicationName?: string;
}

export interface Session {
  /** Runs one statement; failures become QueryError carrying the SQLSTATE. */
  query<R extends QueryResultRow = QueryResultRow>(sql: string, params?: readonly unknown[]): Promise<R[]>;
}

/** Headroom between the server's statement_timeout and the client giving up on a reply. */
const CLIENT_GRACE_MS = 2_000;

function summary(sql: string): string {
  const flat = sql.replace(/\s+/g, ' ').trim();
  return flat.length > 120 ? `${flat.slice(0, 117)}...` : flat;
}

/** Opens a session, runs `work`, and closes the session whatever happens. */
export async function withSession<T>(options: SessionOptions, work: (session: Session) => Promise<T>): Promise<T> {
  const target = `${options.host}:${options.port}`;
  const client = new pg.Client({
    host: options.host,
    port: options.port,
    user: options.user,
    ...(options.password !== null ? { password: options.password } : {}),
    database: options.database ?? 'postgres',
    application_name: options.applicationName ?? 'pgfloat',
    connectionTimeoutMillis: options.connectTimeoutMs,
    statement_timeout: options.statementTimeoutMs,
    query_timeout: options.statementTimeoutMs + CLIENT_GRACE_MS,
  });
  // A server that goes away between statements emits 'error' on the client; the next query reports it.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw new ConnectionError(options.host, options.port, error);
  }
  const session: Session = {
    async query<R extends QueryResultRow>(sql: string, params?: readonly unknown[]): Promise<R[]> {
      try {
        const result = await client.query<R>(sql, params ? [...params] : undefined);
        return result.rows;
      } catch (error) {
        const code = typeof (error as { code?: unknown }).code === 'string' ? (error as { code: string }).code : null;
        throw new QueryError(target, summary(sql), code, error);
      }
    },
  };
  try {
    return await work(session);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Runs one statement in its own session. */
export function queryOnce<R extends QueryResultRow = QueryResultRow>(
  options: SessionOptions,
  sql: string,
  params?: readonly unknown[],
): Promise<R[]> {
  return withSession(options, (session) => session.query<R>(sql, params));
}
