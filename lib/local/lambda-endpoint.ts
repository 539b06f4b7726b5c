// A loopback endpoint that speaks the Lambda Invoke API, so that code written
// for Lambda (an agent's `new LambdaClient({ endpoint })` and InvokeCommand)
// invokes a local handler in this process:
//
//   POST /2015-03-31/functions/{FunctionName}/invocations[?Qualifier=...]
//   X-Amz-Invocation-Type: RequestResponse (default) -> 200, the handler's result as JSON
//                                                      (a thrown error: 200, X-Amz-Function-Error: Unhandled)
//                          Event                      -> 202 at once; the handler runs after the answer
//                          DryRun                     -> 204
//
// FunctionName may be a name, a name with a qualifier, or an ARN. Errors of
// the API itself (unknown function, bad payload) are answered as Lambda does:
// a status, `x-amzn-ErrorType` and a JSON body, which the SDK turns into its
// typed exceptions. Signatures are not checked: any credentials work.
//
// Invariants: it listens on 127.0.0.1 only; close() stops accepting and waits
// (boundedly) for the invocations it started; a handler's failure never
// escapes as an unhandled rejection (an Event's goes to `onAsyncError`, as a
// failure destination would receive it).
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Context } from 'aws-lambda';

export type LocalHandler = (event: unknown, context: Context) => Promise<unknown>;

export interface LocalFunction {
  readonly handler: LocalHandler;
  /** The function's timeout: what getRemainingTimeInMillis counts down from (not enforced). */
  readonly timeoutMs: number;
  readonly memoryMb?: number;
}

export interface LambdaEndpointOptions {
  readonly functions: Readonly<Record<string, LocalFunction>>;
  /** 0 (the default): any free loopback port. */
  readonly port?: number;
  readonly region?: string;
  /** An asynchronous (Event) invocation failed: where a failure destination would get it. */
  readonly onAsyncError?: (functionName: string, event: unknown, err: unknown) => void;
}

export interface LambdaEndpoint {
  /** http://127.0.0.1:<port>: the `endpoint` of a LambdaClient. */
  readonly url: string;
  /** Invocations started, by type. */
  readonly invocations: { readonly event: number; readonly requestResponse: number };
  /** Stops accepting invocations and waits up to `waitMs` for the running ones. */
  close(waitMs?: number): Promise<void>;
}

/** The most a payload may be, as Lambda limits it (asynchronous 256 KB, synchronous 6 MB). */
const MAX_EVENT_PAYLOAD = 256 * 1024;
const MAX_SYNC_PAYLOAD = 6 * 1024 * 1024;
const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

/** A Lambda Context for a local invocation of `functionName`, counting down from `timeoutMs`. */
export function localContext(functionName: string, requestId: string, timeoutMs: number, o: { region?: string; memoryMb?: number } = {}): Context {
  const deadline = Date.now() + timeoutMs;
  return {
    awsRequestId: requestId,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${o.region ?? 'local'}:000000000000:function:${functionName}`,
    memoryLimitInMB: String(o.memoryMb ?? 256),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** The function's name from a FunctionName path segment: a name, "name:qualifier", or an ARN (full or partial). */
export function functionNameOf(segment: string): string {
  const s = decodeURIComponent(segment);
  const parts = s.split(':');
  const at = parts.indexOf('function');
  if (at >= 0 && parts[at + 1] !== undefined) return parts[at + 1] as string;
  return parts[0] as string;
}

function apiError(res: ServerResponse, requestId: string, status: number, type: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': type, 'x-amzn-requestid': requestId });
  res.end(JSON.stringify({ Type: 'User', message }));
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    // Read to the end regardless, so the connection can answer.
    if (size <= limit) chunks.push(chunk);
  }
  return size > limit ? null : Buffer.concat(chunks);
}

function describeError(err: unknown): { errorType: string; errorMessage: string; trace: string[] } {
  if (err instanceof Error) return { errorType: err.name, errorMessage: err.message, trace: (err.stack ?? '').split('\n') };
  return { errorType: 'Error', errorMessage: String(err), trace: [] };
}

/** Starts the endpoint on 127.0.0.1 and returns once it listens. */
export async function startLambdaEndpoint(o: LambdaEndpointOptions): Promise<LambdaEndpoint> {
  const running = new Set<Promise<unknown>>();
  const counts = { event: 0, requestResponse: 0 };
  let closing = false;

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = randomUUID();
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const match = INVOKE_PATH.exec(url.pathname);
    if (match === null) return apiError(res, requestId, 404, 'UnknownOperationException', `no such operation: ${req.method} ${url.pathname}`);
    if (req.method !== 'POST') return apiError(res, requestId, 405, 'UnknownOperationException', `Invoke is a POST, not ${req.method}`);
    const name = functionNameOf(match[1] as string);
    const fn = Object.hasOwn(o.functions, name) ? o.functions[name] : undefined;
    const type = String(req.headers['x-amz-invocation-type'] ?? 'RequestResponse');
    if (!['RequestResponse', 'Event', 'DryRun'].includes(type)) {
      return apiError(res, requestId, 400, 'InvalidParameterValueException', `X-Amz-Invocation-Type must be RequestResponse, Event or DryRun, not ${type}`);
    }
    const body = await readBody(req, type === 'Event' ? MAX_EVENT_PAYLOAD : MAX_SYNC_PAYLOAD);
    if (fn === undefined) return apiError(res, requestId, 404, 'ResourceNotFoundException', `Function not found: ${name} (this endpoint has ${Object.keys(o.functions).join(', ')})`);
    if (closing) return apiError(res, requestId, 503, 'ServiceException', 'the local Lambda endpoint is shutting down');
    if (body === null) return apiError(res, requestId, 413, 'RequestTooLargeException', `the ${type} payload is larger than Lambda accepts`);
    let event: unknown = {};
    if (body.length > 0) {
      try {
        event = JSON.parse(body.toString('utf8'));
      } catch (err) {
        return apiError(res, requestId, 400, 'InvalidRequestContentException', `could not parse the request body as JSON: ${(err as Error).message}`);
      }
    }
    const headers = { 'x-amzn-requestid': requestId, 'x-amz-executed-version': '$LATEST' };
    if (type === 'DryRun') {
      res.writeHead(204, headers);
      res.end();
      return;
    }
    const context = localContext(name, requestId, fn.timeoutMs, { region: o.region, memoryMb: fn.memoryMb });
    if (type === 'Event') {
      counts.event += 1;
      res.writeHead(202, headers);
      res.end();
      // After the answer, as Lambda's queue would; the failure goes where a failure destination would.
      const run = Promise.resolve()
        .then(() => fn.handler(event, context))
        .catch((err: unknown) => o.onAsyncError?.(name, event, err));
      running.add(run);
      void run.finally(() => running.delete(run));
      return;
    }
    counts.requestResponse += 1;
    const run = Promise.resolve().then(() => fn.handler(event, context));
    running.add(run);
    try {
      const result = await run;
      res.writeHead(200, { ...headers, 'content-type': 'application/json' });
      res.end(JSON.stringify(result ?? null));
    } catch (err) {
      res.writeHead(200, { ...headers, 'content-type': 'application/json', 'x-amz-function-error': 'Unhandled' });
      res.end(JSON.stringify(describeError(err)));
    } finally {
      running.delete(run);
    }
  };

  const server = createServer((req, res) => {
    serve(req, res).catch((err: unknown) => {
      if (!res.headersSent) apiError(res, 'none', 500, 'ServiceException', describeError(err).errorMessage);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    invocations: counts,
    close: async (waitMs = 10_000) => {
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, waitMs);
        timer.unref();
      });
      await Promise.race([Promise.allSettled([...running]).then(() => undefined), bound]);
      clearTimeout(timer);
      server.closeAllConnections();
      await closed;
    },
  };
}

/** The local arbiter function's name (the deployed one is "<service>-<stage>-arbiter"). */
export const LOCAL_ARBITER_FUNCTION = 'pgfloat-arbiter';

/**
 * What an agent is given to wake the arbiter: the endpoint of its
 * LambdaClient and the function to invoke. On AWS the agent has neither
 * variable and reads `arbiter.function` from agent.yml.
 */
export const ARBITER_ENDPOINT_ENV = 'PGFLOAT_ARBITER_ENDPOINT';
export const ARBITER_FUNCTION_ENV = 'PGFLOAT_ARBITER_FUNCTION';

export interface LocalArbiterEndpoint {
  readonly url: string;
  readonly functionName: string;
  /** The agents' environment: PGFLOAT_ARBITER_ENDPOINT and PGFLOAT_ARBITER_FUNCTION. */
  readonly env: Readonly<Record<string, string>>;
  close(waitMs?: number): Promise<void>;
}

/** Starts the local Lambda endpoint serving the arbiter's handler; its url is what agents' LambdaClient is pointed at. */
export async function startLocalArbiterEndpoint(o: {
  handler: LocalHandler;
  timeoutMs: number;
  functionName?: string;
  port?: number;
  region?: string;
  onAsyncError?: LambdaEndpointOptions['onAsyncError'];
}): Promise<LocalArbiterEndpoint> {
  const functionName = o.functionName ?? LOCAL_ARBITER_FUNCTION;
  const ep = await startLambdaEndpoint({
    functions: { [functionName]: { handler: o.handler, timeoutMs: o.timeoutMs } },
    ...(o.port !== undefined ? { port: o.port } : {}),
    ...(o.region !== undefined ? { region: o.region } : {}),
    ...(o.onAsyncError !== undefined ? { onAsyncError: o.onAsyncError } : {}),
  });
  return {
    url: ep.url,
    functionName,
    env: { [ARBITER_ENDPOINT_ENV]: ep.url, [ARBITER_FUNCTION_ENV]: functionName },
    close: (waitMs) => ep.close(waitMs),
  };
}
