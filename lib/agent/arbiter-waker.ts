// Wakes the arbiter out of schedule: an asynchronous Lambda invocation of the
// arbiter function with a `wake` event (lib/arbiter/events.ts). The node role
// may invoke that one function only (infra/cluster-nodes.yml); the step
// machine decides when (lib/ha/agent-step.ts, wakeArbiter).
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { clusterPk, type ClusterId } from '../dcs/keys.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../local/dynamodb-local.js';
import { ArbiterWakeError } from './errors.js';

export interface ArbiterWaker {
  wake(w: { readonly cluster: ClusterId; readonly member: string; readonly reason: string }): Promise<void>;
}

/** The part of the Lambda client used here. */
export interface LambdaApi {
  send(command: InvokeCommand, options?: { abortSignal?: AbortSignal }): Promise<{ StatusCode?: number; FunctionError?: string }>;
}

export interface LambdaWakerOptions {
  readonly functionName: string;
  /** A Lambda-compatible endpoint (the local run's); unset on AWS. */
  readonly endpoint?: string;
  readonly region?: string;
  readonly timeoutMs?: number;
}

export class LambdaArbiterWaker implements ArbiterWaker {
  constructor(
    private readonly client: LambdaApi,
    private readonly functionName: string,
    private readonly timeoutMs = 2000,
  ) {}

  async wake(w: { readonly cluster: ClusterId; readonly member: string; readonly reason: string }): Promise<void> {
    const event = { action: 'wake', cluster: clusterPk(w.cluster), member: w.member, reason: w.reason };
    let out: { StatusCode?: number; FunctionError?: string };
    try {
      out = await this.client.send(
        new InvokeCommand({ FunctionName: this.functionName, InvocationType: 'Event', Payload: new TextEncoder().encode(JSON.stringify(event)) }),
        { abortSignal: AbortSignal.timeout(this.timeoutMs) },
      );
    } catch (err) {
      throw new ArbiterWakeError(`invoking the arbiter function ${this.functionName} failed: ${(err as Error).message} (check arbiter.function in agent.yml and the node role's lambda:InvokeFunction)`, { cause: err });
    }
    if (out.StatusCode !== 202) throw new ArbiterWakeError(`the arbiter function ${this.functionName} answered ${out.StatusCode ?? 'nothing'} to an asynchronous invocation (expected 202)`);
  }
}

/** A waker for a function named in agent.yml (`arbiter.function`), with its own client. */
export function lambdaWaker(o: LambdaWakerOptions): { waker: LambdaArbiterWaker; close: () => void } {
  const client = new LambdaClient({
    maxAttempts: 2,
    ...(o.region !== undefined ? { region: o.region } : {}),
    ...(o.endpoint !== undefined ? { endpoint: o.endpoint, region: o.region ?? LOCAL_REGION, credentials: LOCAL_CREDENTIALS } : {}),
  });
  return { waker: new LambdaArbiterWaker(client, o.functionName, o.timeoutMs), close: () => client.destroy() };
}
