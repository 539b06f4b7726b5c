// The local Lambda endpoint, driven by the real LambdaClient of
// @aws-sdk/client-lambda as an agent drives the arbiter: an Event invocation
// is answered 202 before the handler runs, a RequestResponse one with the
// handler's result, and the API's own errors arrive as the SDK's exceptions.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { InvokeCommand, LambdaClient, ResourceNotFoundException } from '@aws-sdk/client-lambda';
import type { Context } from 'aws-lambda';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lib/local/dynamodb-local.js';
import { functionNameOf, startLambdaEndpoint, type LambdaEndpoint } from '../../lib/local/lambda-endpoint.js';

type Call = { event: unknown; context: Context; remainingAtStart: number };
const calls: Call[] = [];
const asyncErrors: { name: string; event: unknown; message: string }[] = [];
let release: (() => void) | undefined;
let endpoint: LambdaEndpoint;
let client: LambdaClient;

const encode = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));
const decode = (b: Uint8Array | null | undefined): unknown => (b === undefined || b === null || b.length === 0 ? undefined : JSON.parse(new TextDecoder().decode(b)));

/** Polls until `check` holds; the cap bounds polls, generous for a loaded machine. */
async function until(what: string, check: () => boolean, polls = 400): Promise<void> {
  for (let i = 0; i < polls && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(check(), `gave up waiting for ${what}`);
}

before(async () => {
  endpoint = await startLambdaEndpoint({
    functions: {
      'pgfloat-arbiter': {
        timeoutMs: 130_000,
        handler: async (event, context) => {
          calls.push({ event, context, remainingAtStart: context.getRemainingTimeInMillis() });
          const e = event as { action?: string; hold?: boolean };
          if (e.hold === true) await new Promise<void>((r) => (release = r));
          if (e.action === 'fail') throw new TypeError('the handler failed');
          return { status: 'ran', echo: event };
        },
      },
    },
    region: LOCAL_REGION,
    onAsyncError: (name, event, err) => asyncErrors.push({ name, event, message: (err as Error).message }),
  });
  client = new LambdaClient({ endpoint: endpoint.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
});

after(async () => {
  release?.();
  client.destroy();
  await endpoint.close(2000);
});

describe('local Lambda endpoint', () => {
  test('listens on loopback only', () => {
    // Assess
    assert.match(endpoint.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  });

  test('an Event invocation is accepted with 202 before the handler ends, and the handler gets the JSON body and a Context', async () => {
    // Prepare
    calls.length = 0;
    const wake = { action: 'wake', cluster: 'pgfloat/local', member: 'node2', reason: 'leader-stale', hold: true };
    // Act: the handler holds until released, so the answer cannot have waited for it
    const out = await client.send(new InvokeCommand({ FunctionName: 'pgfloat-arbiter', InvocationType: 'Event', Payload: encode(wake) }));
    await until('the handler to start', () => calls.length === 1);
    const startedBeforeRelease = release !== undefined;
    release?.();
    release = undefined;
    // Assess
    assert.equal(out.StatusCode, 202);
    assert.equal(decode(out.Payload), undefined);
    assert.ok(startedBeforeRelease);
    const call = calls[0] as Call;
    assert.deepEqual(call.event, wake);
    assert.equal(call.context.functionName, 'pgfloat-arbiter');
    assert.match(call.context.awsRequestId, /^[0-9a-f-]{36}$/);
    assert.match(call.context.invokedFunctionArn, /^arn:aws:lambda:us-east-1:\d{12}:function:pgfloat-arbiter$/);
    assert.ok(call.remainingAtStart > 0 && call.remainingAtStart <= 130_000, 'the remaining time counts down from the timeout');
    assert.ok(endpoint.invocations.event >= 1);
  });

  test('a RequestResponse invocation answers 200 with the result, by name or by ARN', async () => {
    // Prepare
    const event = { action: 'tick', cluster: 'pgfloat/local' };
    // Act
    const byName = await client.send(new InvokeCommand({ FunctionName: 'pgfloat-arbiter', Payload: encode(event) }));
    const byArn = await client.send(
      new InvokeCommand({ FunctionName: 'arn:aws:lambda:us-east-1:000000000000:function:pgfloat-arbiter', InvocationType: 'RequestResponse', Payload: encode(event) }),
    );
    // Assess
    assert.equal(byName.StatusCode, 200);
    assert.equal(byName.FunctionError, undefined);
    assert.deepEqual(decode(byName.Payload), { status: 'ran', echo: event });
    assert.deepEqual(decode(byArn.Payload), { status: 'ran', echo: event });
    assert.equal(byName.ExecutedVersion, '$LATEST');
  });

  test("a handler's error is the function's error (200, Unhandled), or for an Event goes where a failure destination would", async () => {
    // Prepare
    asyncErrors.length = 0;
    // Act
    const sync = await client.send(new InvokeCommand({ FunctionName: 'pgfloat-arbiter', Payload: encode({ action: 'fail' }) }));
    const queued = await client.send(new InvokeCommand({ FunctionName: 'pgfloat-arbiter', InvocationType: 'Event', Payload: encode({ action: 'fail' }) }));
    await until('the failed Event to be reported', () => asyncErrors.length === 1);
    // Assess
    assert.deepEqual([sync.StatusCode, sync.FunctionError], [200, 'Unhandled']);
    assert.deepEqual((decode(sync.Payload) as { errorType: string; errorMessage: string }).errorType, 'TypeError');
    assert.equal(queued.StatusCode, 202);
    assert.deepEqual(asyncErrors, [{ name: 'pgfloat-arbiter', event: { action: 'fail' }, message: 'the handler failed' }]);
  });

  test('an unknown function is the SDK\'s ResourceNotFoundException, and a DryRun invokes nothing', async () => {
    // Prepare
    const before = calls.length;
    // Act
    const missing = await client.send(new InvokeCommand({ FunctionName: 'no-such-function', Payload: encode({}) })).then(
      () => null,
      (err: unknown) => err,
    );
    const dry = await client.send(new InvokeCommand({ FunctionName: 'pgfloat-arbiter', InvocationType: 'DryRun', Payload: encode({}) }));
    // Assess
    assert.ok(missing instanceof ResourceNotFoundException, String(missing));
    assert.match(missing.message, /no-such-function/);
    assert.equal(dry.StatusCode, 204);
    assert.equal(calls.length, before);
  });

  test('names a function from each form Lambda accepts', () => {
    // Act + Assess
    assert.equal(functionNameOf('pgfloat-arbiter'), 'pgfloat-arbiter');
    assert.equal(functionNameOf('pgfloat-arbiter%3Aprod'), 'pgfloat-arbiter');
    assert.equal(functionNameOf('123456789012:function:pgfloat-arbiter'), 'pgfloat-arbiter');
    assert.equal(functionNameOf(encodeURIComponent('arn:aws:lambda:eu-west-1:123456789012:function:pgfloat-arbiter:$LATEST')), 'pgfloat-arbiter');
  });
});
