// One arbiter invocation in a process of its own, so a test can kill it
// mid-tick as Lambda would end a dead execution environment: SIGKILL, no
// finally, no hand-over. The environment holds the arbiter's settings;
// PGFLOAT_TEST_INVOCATION_ID names the invocation, PGFLOAT_TEST_EVENT is its
// event (JSON), PGFLOAT_TEST_REMAINING_MS what Lambda grants it.
import type { Context } from 'aws-lambda';
import { localContext } from '../../lib/local/lambda-endpoint.js';

const { handler } = (await import('../../functions/arbiter/handler.js')) as unknown as { handler: (event: unknown, context: Context) => Promise<unknown> };
const id = process.env.PGFLOAT_TEST_INVOCATION_ID ?? 'child';
const event = JSON.parse(process.env.PGFLOAT_TEST_EVENT ?? '{}') as unknown;
const summary = await handler(event, localContext('pgfloat-arbiter', id, Number(process.env.PGFLOAT_TEST_REMAINING_MS ?? 60_000)));
process.stdout.write(`${JSON.stringify(summary)}\n`);
process.exit(0);
