// The arbiter runtime's own promises: a failed loop or a failed mover close
// reaches whoever awaits it, never the process as an unhandled rejection.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createRuntime } from '../../lib/arbiter/invocation.js';
import { moverCache } from '../../lib/arbiter/movers.js';
import { arbiterSettings } from '../../lib/arbiter/settings.js';
import type { Log } from '../../lib/arbiter/tick.js';
import { StoreUnavailableError } from '../../lib/dcs/errors.js';
import type { EndpointConfig } from '../../lib/dcs/items.js';
import type { EndpointMover } from '../../lib/endpoint/mover.js';

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};
before(() => process.on('unhandledRejection', onUnhandled));
after(() => process.removeListener('unhandledRejection', onUnhandled));

const quiet: Log = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const noMetrics = { cluster: () => undefined, clusterError: () => undefined };
/** Node reports unhandled rejections once the microtask queue has drained. */
const drain = (): Promise<void> => new Promise((r) => setTimeout(r, 20));

describe('arbiter runtime', () => {
  test('a tracked loop that fails reaches its caller only, not the process', async () => {
    // Prepare
    const rt = createRuntime(arbiterSettings({ PGFLOAT_TABLE: 'pgfloat-test', PGFLOAT_DYNAMODB_ENDPOINT: 'http://127.0.0.1:1' }), quiet, noMetrics);
    unhandled.length = 0;
    const loop = Promise.reject(new StoreUnavailableError('putArbiter', 6000, 4, new Error('stalled')));
    // Act
    rt.track(loop);
    await assert.rejects(loop, StoreUnavailableError);
    await rt.close();
    await drain();
    // Assess
    assert.deepEqual(unhandled, []);
  });

  test('a replaced endpoint mover whose close fails is reported and dropped, not thrown', async () => {
    // Prepare: movers whose close always fails
    const reported: string[] = [];
    const failingMover = (config: EndpointConfig): EndpointMover => ({
      kind: config.kind,
      move: async () => ({ target: 'x' }),
      pointsAt: async () => true,
      close: async () => {
        throw new Error(`cannot close ${config.kind}`);
      },
    });
    const cache = moverCache({}, failingMover, (cluster, err) => reported.push(`${cluster}: ${(err as Error).message}`));
    const c = { namespace: 'pgfloat', scope: 'orders' };
    unhandled.length = 0;
    // Act
    cache.get(c, { kind: 'none' });
    cache.get(c, { kind: 'local-proxy', host: '127.0.0.1', port: 1 });
    await cache.close();
    await drain();
    // Assess
    assert.deepEqual(reported, ['pgfloat/orders: cannot close none', 'pgfloat/orders: cannot close local-proxy']);
    assert.deepEqual(unhandled, []);
  });
});
