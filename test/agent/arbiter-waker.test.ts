// The agent's wake of the arbiter: one asynchronous invocation of the named
// function with a `wake` event, and a named error for every failure.
import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import { InvokeCommand, LambdaClient, LambdaServiceException } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { LambdaArbiterWaker } from '../../lib/agent/arbiter-waker.js';
import { ArbiterWakeError } from '../../lib/agent/errors.js';
import { parseAgentConfig } from '../../lib/agent/config.js';

const lambdaMock = mockClient(LambdaClient);
const lambda = new LambdaClient({ region: 'eu-west-1' });
const cluster = { namespace: 'pgfloat', scope: 'orders' };

describe('LambdaArbiterWaker', () => {
  beforeEach(() => lambdaMock.reset());

  test('invokes the arbiter function asynchronously with a wake event naming the cluster, the member and the reason', async () => {
    // Prepare
    lambdaMock.on(InvokeCommand).resolves({ StatusCode: 202 });
    const waker = new LambdaArbiterWaker(lambda, 'pgfloat-prod-arbiter');
    // Act
    await waker.wake({ cluster, member: 'node2', reason: 'arbiter_wake' });
    // Assess: exactly one request, exactly this one
    const calls = lambdaMock.commandCalls(InvokeCommand);
    assert.equal(calls.length, 1);
    const input = calls[0]?.args[0].input;
    assert.equal(input?.FunctionName, 'pgfloat-prod-arbiter');
    assert.equal(input?.InvocationType, 'Event');
    assert.deepEqual(JSON.parse(new TextDecoder().decode(input?.Payload as Uint8Array)), { action: 'wake', cluster: 'pgfloat/orders', member: 'node2', reason: 'arbiter_wake' });
  });

  test('an invocation refused (no permission) is an ArbiterWakeError naming the function and the fix', async () => {
    // Prepare
    lambdaMock.on(InvokeCommand).rejects(new LambdaServiceException({ name: 'AccessDeniedException', $fault: 'client', $metadata: { httpStatusCode: 403 }, message: 'not authorized to perform lambda:InvokeFunction' }));
    const waker = new LambdaArbiterWaker(lambda, 'pgfloat-prod-arbiter');
    // Act + Assess
    await assert.rejects(waker.wake({ cluster, member: 'node2', reason: 'arbiter_wake' }), (err: Error) => {
      assert.ok(err instanceof ArbiterWakeError);
      assert.match(err.message, /pgfloat-prod-arbiter/);
      assert.match(err.message, /lambda:InvokeFunction/);
      return true;
    });
  });

  test('an answer other than 202 to an asynchronous invocation is an ArbiterWakeError', async () => {
    // Prepare
    lambdaMock.on(InvokeCommand).resolves({ StatusCode: 200 });
    const waker = new LambdaArbiterWaker(lambda, 'pgfloat-prod-arbiter');
    // Act + Assess
    await assert.rejects(waker.wake({ cluster, member: 'node2', reason: 'arbiter_wake' }), /answered 200 .*expected 202/);
  });
});

describe('agent.yml arbiter', () => {
  const base = 'scope: orders\nname: node1\ndcs: { table: pgfloat }\nrestapi: { listen: 127.0.0.1:8008, connect_address: 127.0.0.1:8008 }\npostgresql: { data_dir: /var/lib/pg, listen: 127.0.0.1:5432, connect_address: 127.0.0.1:5432 }\n';

  test('a function name or ARN is taken', () => {
    // Act
    const byName = parseAgentConfig(`${base}arbiter: { function: pgfloat-prod-arbiter }\n`);
    const byArn = parseAgentConfig(`${base}arbiter: { function: 'arn:aws:lambda:eu-west-1:123456789012:function:pgfloat-prod-arbiter' }\n`);
    // Assess
    assert.equal(byName.arbiter.function, 'pgfloat-prod-arbiter');
    assert.match(byArn.arbiter.function ?? '', /^arn:aws:lambda:/);
  });

  test('a function that is no Lambda name is refused with the key named', () => {
    // Act + Assess
    assert.throws(() => parseAgentConfig(`${base}arbiter: { function: 'my arbiter; rm -rf /' }\n`), /arbiter\.function: the arbiter Lambda function name or ARN/);
  });
});
