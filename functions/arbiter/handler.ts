// The arbiter Lambda function: parse the event, run the tick loop.
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { parseArbiterEvent } from '../../lib/arbiter/events.js';
import { createRuntime, runInvocation, type ArbiterRuntime } from '../../lib/arbiter/invocation.js';
import { METRICS_NAMESPACE, PowertoolsMetricsSink } from '../../lib/arbiter/metrics.js';
import { arbiterSettings } from '../../lib/arbiter/settings.js';

const logger = new Logger({ serviceName: 'pgfloat-arbiter' });
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'pgfloat-arbiter' });
let runtime: ArbiterRuntime | undefined;

/** Closes the warm runtime (endpoint movers, DynamoDB connections): for local runs and tests. */
export async function closeArbiter(): Promise<void> {
  const rt = runtime;
  runtime = undefined;
  await rt?.close();
}

export const handler = middy(async (event: unknown, context: Context) => {
  try {
    const parsed = parseArbiterEvent(event);
    runtime ??= createRuntime(arbiterSettings(process.env), logger, new PowertoolsMetricsSink(metrics));
    return await runInvocation(runtime, parsed, context.getRemainingTimeInMillis(), context.awsRequestId);
  } catch (err) {
    logger.error('arbiter invocation failed', err as Error);
    throw err;
  }
})
  // Metrics are published per cluster as they are measured (lib/arbiter/metrics.ts), so no flush middleware.
  .use(injectLambdaContext(logger));
