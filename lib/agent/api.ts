// The agent's health HTTP API, with Patroni's paths and status codes so load
// balancers and HAProxy configs written for Patroni work unchanged.
// Every request reads the agent's status afresh: a primary that starts
// demoting answers 503 on /primary from its very next request. The server
// keeps no state of its own, and no request can make it throw.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { checkBasicAuth } from './api-auth.js';
import {
  failoverBodySchema,
  failsafeBodySchema,
  parseBody,
  parseJsonObject,
  readBody,
  reinitBodySchema,
  restartBodySchema,
  switchoverBodySchema,
  type FailsafeBody,
  type RestartRequest,
} from './api-body.js';
import { evaluateCheck, livenessCheck, readinessCheck, type HealthCheck } from './api-checks.js';
import { clusterJson, patroniJson } from './api-json.js';
import { ApiRequestError, HealthApiListenError } from './errors.js';
import type { AgentStatus, ClusterView } from './status.js';

export interface MutationResult {
  readonly status: number;
  readonly message: string;
}

export interface SwitchoverArgs {
  readonly leader?: string;
  readonly candidate?: string;
  /** Epoch ms of `scheduled_at`. */
  readonly scheduledAt?: number;
}

export interface HealthApiOptions {
  /** Read on every request. */
  readonly status: () => AgentStatus;
  readonly cluster: () => ClusterView;
  /** Monotonic ms, the clock of `status().lastLoopAt`. */
  readonly now: () => number;
  /** HTTP Basic credentials of the mutating endpoints; null disables them (403). */
  readonly auth: { username: string; password: string } | null;
  readonly onSwitchover?: (req: SwitchoverArgs) => Promise<MutationResult>;
  readonly onFailover?: (req: { candidate: string }) => Promise<MutationResult>;
  /** failsafe_mode: 200 for a promise given, 409 for one refused. */
  readonly onFailsafe?: (req: FailsafeBody) => MutationResult;
  /** POST /restart: now (200 once done, 503 refused or failed) or scheduled (202). */
  readonly onRestart?: (req: RestartRequest) => Promise<MutationResult>;
  /** DELETE /restart: a scheduled restart cancelled (200), or none (404). */
  readonly onCancelRestart?: () => Promise<MutationResult>;
  /** POST /reload: the configuration applied again and PostgreSQL reloaded. */
  readonly onReload?: () => Promise<MutationResult>;
  /** POST /reinitialize: this node re-created from the leader (202: started). */
  readonly onReinitialize?: () => Promise<MutationResult>;
  /** A mutating request refused before its handler ran (authentication, body): logged by the caller. */
  readonly onRefused?: (what: string, status: number, why: string) => void;
}

type Route =
  | { readonly kind: 'check'; readonly check: HealthCheck }
  | { readonly kind: 'liveness' | 'readiness' | 'patroni' | 'cluster' }
  | { readonly kind: Mutation };

type Mutation = 'switchover' | 'failover' | 'failsafe' | 'restart' | 'reload' | 'reinitialize';
const MUTATIONS: ReadonlySet<string> = new Set<Mutation>(['switchover', 'failover', 'failsafe', 'restart', 'reload', 'reinitialize']);
/** Bodies that may be empty: Patroni's clients send none to these. */
const EMPTY_BODY_OK: ReadonlySet<string> = new Set(['restart', 'reload', 'reinitialize']);

const check = (c: HealthCheck): Route => ({ kind: 'check', check: c });

const ROUTES: ReadonlyMap<string, Route> = new Map<string, Route>([
  ['/', check('primary')],
  ['/primary', check('primary')],
  ['/master', check('primary')],
  ['/read-write', check('primary')],
  ['/leader', check('leader')],
  ['/standby-leader', check('standby-leader')],
  ['/standby_leader', check('standby-leader')],
  ['/replica', check('replica')],
  ['/read-only', check('read-only')],
  ['/read-only-sync', check('read-only-sync')],
  ['/read-only-synchronous', check('read-only-sync')],
  ['/read-only-quorum', check('read-only-quorum')],
  ['/synchronous', check('sync')],
  ['/sync', check('sync')],
  ['/asynchronous', check('async')],
  ['/async', check('async')],
  ['/quorum', check('quorum')],
  ['/health', check('health')],
  ['/liveness', { kind: 'liveness' }],
  ['/readiness', { kind: 'readiness' }],
  ['/patroni', { kind: 'patroni' }],
  ['/cluster', { kind: 'cluster' }],
  ['/switchover', { kind: 'switchover' }],
  ['/failover', { kind: 'failover' }],
  ['/failsafe', { kind: 'failsafe' }],
  ['/restart', { kind: 'restart' }],
  ['/reload', { kind: 'reload' }],
  ['/reinitialize', { kind: 'reinitialize' }],
]);

const READ_METHODS = ['GET', 'HEAD', 'OPTIONS'] as const;
const WRITE_METHODS = ['POST'] as const;

const REALM = 'Basic realm="pgfloat"';

/** The health API server, not listening yet (see listenHealthApi). */
export function createHealthApi(o: HealthApiOptions): Server {
  const server = createServer({ connectionsCheckingInterval: 1_000 }, (req, res) => {
    handle(o, req, res).catch((err: unknown) => internalError(res, err));
  });
  // Health checkers send small requests: a slow or stuck client is cut off soon.
  server.headersTimeout = 5_000;
  server.requestTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  return server;
}

/** Binds `server` to host:port (0: any free port) and resolves the bound port. */
export function listenHealthApi(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      server.off('listening', onListening);
      reject(new HealthApiListenError(host, port, err));
    };
    const onListening = (): void => {
      server.off('error', onError);
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? (address as AddressInfo).port : port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function send(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(code, {
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(text)),
    'Cache-Control': 'no-store',
    ...headers,
  });
  // For HEAD, Node sends the headers (Content-Length included) and drops the body.
  res.end(text);
}

function internalError(res: ServerResponse, err: unknown): void {
  try {
    if (res.headersSent) res.destroy();
    else send(res, 500, { error: `health API internal error: ${describe(err)}` });
  } catch {
    res.destroy();
  }
}

function splitUrl(raw: string | undefined): { path: string; query: URLSearchParams } {
  let target = raw ?? '/';
  if (/^https?:\/\//i.test(target)) {
    try {
      const url = new URL(target);
      target = url.pathname + url.search;
    } catch {
      target = '/?';
    }
  }
  const q = target.indexOf('?');
  let path = q < 0 ? target : target.slice(0, q);
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  return { path, query: new URLSearchParams(q < 0 ? '' : target.slice(q + 1)) };
}

async function handle(o: HealthApiOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { path, query } = splitUrl(req.url);
  const route = ROUTES.get(path);
  if (route === undefined) {
    send(res, 404, { error: `no endpoint ${path}: health checks are /primary, /replica, /read-only, /health, /liveness, /readiness; status is /patroni and /cluster` });
    return;
  }
  const mutating = MUTATIONS.has(route.kind);
  const allowed: readonly string[] = route.kind === 'restart' ? ['POST', 'DELETE'] : mutating ? WRITE_METHODS : READ_METHODS;
  const method = req.method ?? 'GET';
  if (!allowed.includes(method)) {
    send(res, 405, { error: `${method} ${path} is not supported: use ${allowed.join(', ')}` }, { Allow: allowed.join(', ') });
    return;
  }
  if (mutating) {
    await mutate(o, route.kind as Mutation, req, res);
    return;
  }
  const answer = read(o, route, query);
  if (method === 'OPTIONS') {
    // HAProxy's `option httpchk OPTIONS /primary` reads only the status code.
    send(res, answer.code, undefined, { Allow: allowed.join(', ') });
  } else {
    send(res, answer.code, answer.body);
  }
}

function read(o: HealthApiOptions, route: Route, query: URLSearchParams): { code: number; body: unknown } {
  let s: AgentStatus;
  try {
    if (route.kind === 'cluster') return { code: 200, body: clusterJson(o.cluster()) };
    s = o.status();
  } catch (err) {
    const what = route.kind === 'cluster' ? 'cluster view' : 'agent status';
    return { code: 503, body: { error: `${what} unavailable: ${describe(err)}` } };
  }
  try {
    switch (route.kind) {
      case 'check':
        return { code: evaluateCheck(route.check, s, query).code, body: patroniJson(s) };
      case 'liveness': {
        const r = livenessCheck(s, o.now());
        return { code: r.code, body: { alive: r.code === 200, reason: r.reason } };
      }
      case 'readiness': {
        const r = readinessCheck(s, query);
        return { code: r.code, body: { ready: r.code === 200, reason: r.reason } };
      }
      default:
        return { code: 200, body: patroniJson(s) };
    }
  } catch (err) {
    if (err instanceof ApiRequestError) return { code: err.statusCode, body: { error: err.message } };
    return { code: 503, body: { error: `agent status unreadable: ${describe(err)}` } };
  }
}

async function mutate(o: HealthApiOptions, kind: Mutation, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const refuse = (status: number, error: string, headers: Record<string, string> = {}): void => {
    o.onRefused?.(kind, status, error);
    send(res, status, { error }, headers);
  };
  if (o.auth === null) {
    refuse(403, 'mutating endpoints are disabled: set restapi.authentication');
    return;
  }
  const auth = checkBasicAuth(req.headers.authorization, o.auth);
  if (auth !== 'ok') {
    const error = auth === 'missing' ? 'authentication required: send the HTTP Basic credentials of restapi.authentication' : 'wrong username or password';
    refuse(401, error, { 'WWW-Authenticate': REALM });
    return;
  }
  let call: (() => Promise<MutationResult>) | undefined;
  let what: string = kind;
  try {
    const raw = await readBody(req);
    const body = EMPTY_BODY_OK.has(kind) && raw.toString('utf8').trim() === '' ? {} : parseJsonObject(raw);
    if (kind === 'restart' && req.method === 'DELETE') {
      const handler = o.onCancelRestart;
      what = 'cancelling a scheduled restart';
      call = handler && (() => handler());
    } else if (kind === 'restart') {
      const args = parseBody(restartBodySchema, body);
      const handler = o.onRestart;
      call = handler && (() => handler(args));
    } else if (kind === 'reload') {
      parseBody(z.strictObject({}), body);
      const handler = o.onReload;
      call = handler && (() => handler());
    } else if (kind === 'reinitialize') {
      parseBody(reinitBodySchema, body);
      const handler = o.onReinitialize;
      call = handler && (() => handler());
    } else if (kind === 'failsafe') {
      const args = parseBody(failsafeBodySchema, body);
      const handler = o.onFailsafe;
      call = handler && (async () => handler(args));
    } else if (kind === 'switchover') {
      const args = parseBody(switchoverBodySchema, body);
      const handler = o.onSwitchover;
      call = handler && (() => handler(args));
    } else {
      const f = parseBody(failoverBodySchema, body);
      if (f.leader !== undefined) {
        // Patroni's /failover with a leader is a switchover.
        const handler = o.onSwitchover;
        const args = { leader: f.leader, candidate: f.candidate };
        what = 'switchover';
        call = handler && (() => handler(args));
      } else {
        const handler = o.onFailover;
        const args = { candidate: f.candidate };
        call = handler && (() => handler(args));
      }
    }
  } catch (err) {
    if (err instanceof ApiRequestError) {
      refuse(err.statusCode, err.message, err.statusCode === 413 ? { Connection: 'close' } : {});
      return;
    }
    throw err;
  }
  if (call === undefined) {
    send(res, 501, { error: `${what} is not available on this agent` });
    return;
  }
  let result: MutationResult;
  try {
    result = await call();
  } catch (err) {
    send(res, 503, { error: `${what} failed: ${describe(err)}` });
    return;
  }
  if (!Number.isInteger(result?.status) || result.status < 200 || result.status > 599 || typeof result.message !== 'string') {
    send(res, 500, { error: `${what} handler returned no valid status and message` });
    return;
  }
  send(res, result.status, { message: result.message });
}
