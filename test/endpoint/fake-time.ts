// A fake clock for the endpoint movers: sleep() advances it at once, so a
// 10 s retry budget runs in milliseconds and the test can read how much
// (fake) time a move spent.
import type { RetryTuning } from '../../lib/endpoint/retry.js';

export interface FakeTime {
  readonly tuning: Required<Pick<RetryTuning, 'sleep' | 'now' | 'random'>> & { readonly verifyIntervalMs: number };
  readonly sleeps: number[];
  elapsed(): number;
}

export function fakeTime(start = 1_000_000): FakeTime {
  let now = start;
  const sleeps: number[] = [];
  return {
    sleeps,
    elapsed: () => now - start,
    tuning: {
      now: () => now,
      sleep: async (ms: number) => {
        sleeps.push(ms);
        now += ms;
      },
      random: () => 0.5,
      verifyIntervalMs: 200,
    },
  };
}
