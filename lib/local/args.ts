// Command-line numbers of the local scripts and benchmarks: a bad value names
// the option and exits 2.
export function numberArg(name: string, raw: string | undefined, min: number, integer = false): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
    console.error(`--${name}: expected ${integer ? 'a whole number' : 'a number'} of at least ${min}, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return n;
}

/** Patroni's rule, as the cluster config enforces it: loop_wait + 2 * retry_timeout <= ttl. */
export function checkTiming(ttl: number, loopWait: number, retryTimeout: number): void {
  if (loopWait + 2 * retryTimeout > ttl) {
    console.error(`--ttl ${ttl} must be at least --loop-wait + 2 * --retry-timeout (${loopWait + 2 * retryTimeout}): raise --ttl or lower the others`);
    process.exit(2);
  }
}
