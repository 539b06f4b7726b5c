import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  EndpointError,
  EndpointNotFoundError,
  EndpointPermissionError,
  EndpointUnavailableError,
} from '../../lib/endpoint/errors.js';
import { Deadline, realSleep, withRetry, type Sleep } from '../../lib/endpoint/retry.js';
import { fakeTime } from './fake-time.js';

const op = { action: 'ec2:AssociateAddress', resource: 'elastic IP eipalloc-1' };
const throttled = (): Error => Object.assign(new Error('Request limit exceeded.'), { name: 'RequestLimitExceeded', $metadata: { httpStatusCode: 503 } });

describe('withRetry', () => {
  it('retries throttling with growing, jittered backoff, then returns the result', async () => {
    const ft = fakeTime();
    let calls = 0;
    const result = await withRetry(op, new Deadline({ timeoutMs: 10_000 }, ft.tuning), async () => {
      calls++;
      if (calls <= 3) throw throttled();
      return 'ok';
    });
    assert.equal(result, 'ok');
    assert.equal(calls, 4);
    // random() = 0.5: three quarters of 100, 200, 400.
    assert.deepEqual(ft.sleeps, [75, 150, 300]);
  });

  it('caps the backoff and jitters within [half, full] of it', () => {
    for (const r of [0, 0.999]) {
      const d = new Deadline({}, { random: () => r, baseDelayMs: 100, maxDelayMs: 2000 });
      const delays = [1, 2, 3, 4, 5, 6, 10].map((n) => d.backoff(n));
      const ceilings = [100, 200, 400, 800, 1600, 2000, 2000];
      delays.forEach((ms, i) => {
        assert.ok(ms >= ceilings[i]! / 2 && ms <= ceilings[i]!, `attempt ${i}: ${ms}`);
      });
    }
  });

  it('gives up with EndpointUnavailableError before the deadline when throttling persists', async () => {
    const ft = fakeTime();
    let calls = 0;
    const err = await withRetry(op, new Deadline({ timeoutMs: 3_000 }, ft.tuning), async () => {
      calls++;
      throw throttled();
    }).catch((e: unknown) => e);
    assert.ok(err instanceof EndpointUnavailableError);
    assert.ok(ft.elapsed() <= 3_000, `spent ${ft.elapsed()} ms`);
    assert.ok(calls > 3);
    assert.equal(err.attempts, calls);
    assert.match(err.message, /ec2:AssociateAddress on elastic IP eipalloc-1/);
    assert.match(err.message, /RequestLimitExceeded/);
  });

  it('with the real clock, never sleeps past the deadline and gives up once the next backoff would cross it', async () => {
    // Prepare: the real clock and the real sleep, each reading of the clock and each sleep recorded in order
    const events: ({ kind: 'now'; at: number } | { kind: 'sleep'; ms: number })[] = [];
    const now = (): number => {
      const at = Date.now();
      events.push({ kind: 'now', at });
      return at;
    };
    const sleep: Sleep = (ms, signal) => {
      events.push({ kind: 'sleep', ms });
      return realSleep(ms, signal);
    };
    const deadline = new Deadline({ timeoutMs: 300 }, { baseDelayMs: 10, now, sleep, random: () => 0.5 });
    let calls = 0;

    // Act
    const err = await withRetry(op, deadline, async () => {
      calls++;
      throw throttled();
    }).catch((e: unknown) => e);

    // Assess: each sleep was decided on the clock reading just before it, and ends before the deadline
    assert.ok(err instanceof EndpointUnavailableError);
    assert.equal(err.attempts, calls);
    const sleeps = events.flatMap((e, i) => (e.kind === 'sleep' ? [{ ms: e.ms, decidedAt: events.slice(0, i).findLast((x) => x.kind === 'now') }] : []));
    for (const s of sleeps) {
      assert.ok(s.decidedAt?.kind === 'now', 'the clock was read before the sleep');
      assert.ok(s.decidedAt.at + s.ms < deadline.at, `a ${s.ms} ms sleep decided at ${s.decidedAt.at} ends past the deadline ${deadline.at}`);
    }
    assert.ok(sleeps.length >= 1, 'it retried at least once');
    assert.equal(sleeps.length, calls - 1, 'one backoff between two calls');
    // It gave up on the last call: its backoff would have crossed the deadline, or the deadline had passed.
    const lastReading = events.findLast((e) => e.kind === 'now');
    assert.ok(lastReading?.kind === 'now');
    assert.ok(lastReading.at + deadline.backoff(calls) >= deadline.at, `gave up at ${lastReading.at} with ${deadline.at - lastReading.at} ms left`);
  });

  it('does not retry permission, not-found or unknown errors', async () => {
    const ft = fakeTime();
    const cases: [unknown, new (...a: never[]) => Error][] = [
      [{ name: 'UnauthorizedOperation', $metadata: { httpStatusCode: 403 }, message: 'no' }, EndpointPermissionError],
      [{ name: 'InvalidAllocationID.NotFound', $metadata: { httpStatusCode: 400 } }, EndpointNotFoundError],
      [{ name: 'InvalidParameterValue', $metadata: { httpStatusCode: 400 } }, EndpointError],
    ];
    for (const [thrown, type] of cases) {
      let calls = 0;
      await assert.rejects(
        withRetry(op, new Deadline({}, ft.tuning), async () => {
          calls++;
          throw thrown;
        }),
        type,
      );
      assert.equal(calls, 1);
    }
    assert.deepEqual(ft.sleeps, []);
  });

  it("stops with the caller's abort reason", async () => {
    const controller = new AbortController();
    const reason = new Error('arbiter shutting down');
    const ft = fakeTime();
    await assert.rejects(
      withRetry(op, new Deadline({ signal: controller.signal }, ft.tuning), async () => {
        controller.abort(reason);
        throw throttled();
      }),
      (e) => e === reason,
    );
  });

  it('gives each request a signal that aborts at the deadline', async () => {
    let seen: AbortSignal | undefined;
    const err = await withRetry(op, new Deadline({ timeoutMs: 50 }), (signal) => {
      seen = signal;
      return new Promise((_, reject) => signal.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' }))));
    }).catch((e: unknown) => e);
    assert.ok(seen?.aborted);
    assert.ok(err instanceof EndpointUnavailableError);
  });
});
