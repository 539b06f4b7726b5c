// Virtual time for the simulation. Every party is a process: an async
// function whose only waits are `sleep` on the scheduler (or a call through a
// simulated party that sleeps), so one event runs at a time and the order is
// a function of the seed alone. A crashed process's pending events are
// dropped (its coroutine never resumes); a stalled one's are held back.
export class Proc {
  gen = 0;
  stalledUntil = 0;
  /** Resolved when the process blocks again: the end of its current slice. */
  blocked: (() => void) | null = null;
  constructor(readonly name: string) {}
}

interface Ev {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void | Promise<void>;
  readonly proc: Proc | null;
  readonly gen: number;
}

/** The process was killed while it waited: its coroutine must not go on. */
export class ProcessKilled extends Error {}

export class Scheduler {
  now = 0;
  events = 0;
  private heap: Ev[] = [];
  private seq = 0;

  at(at: number, fn: () => void | Promise<void>, proc: Proc | null = null): void {
    this.push({ at: Math.max(at, this.now), seq: this.seq++, fn, proc, gen: proc?.gen ?? 0 });
  }

  /** Waits `ms` of virtual time as `proc`; ends the process's current slice. */
  sleep(proc: Proc, ms: number): Promise<void> {
    const done = proc.blocked;
    proc.blocked = null;
    return new Promise<void>((resolve) => {
      this.at(
        this.now + Math.max(0, ms),
        () =>
          new Promise<void>((sliceDone) => {
            proc.blocked = sliceDone;
            resolve();
          }),
        proc,
      );
      done?.();
    });
  }

  /** Starts `body` as `proc` at `at`. */
  spawn(proc: Proc, at: number, body: () => Promise<void>): void {
    this.at(
      at,
      () =>
        new Promise<void>((sliceDone) => {
          proc.blocked = sliceDone;
          body().then(
            () => this.finish(proc),
            () => this.finish(proc),
          );
        }),
      proc,
    );
  }

  kill(proc: Proc): void {
    proc.gen += 1;
  }

  stall(proc: Proc, until: number): void {
    proc.stalledUntil = Math.max(proc.stalledUntil, until);
  }

  /** Runs events until `until` or none is left; `after` runs after each. */
  async run(until: number, after: () => void): Promise<void> {
    for (;;) {
      const e = this.heap[0];
      if (e === undefined || e.at > until) break;
      this.pop();
      if (e.proc !== null && e.gen !== e.proc.gen) continue;
      if (e.proc !== null && e.proc.stalledUntil > e.at) {
        this.push({ ...e, at: e.proc.stalledUntil, seq: this.seq++ });
        continue;
      }
      this.now = e.at;
      this.events += 1;
      const r = e.fn();
      if (r !== undefined) await r;
      after();
    }
    this.now = Math.max(this.now, until);
  }

  private finish(proc: Proc): void {
    const done = proc.blocked;
    proc.blocked = null;
    done?.();
  }

  private push(e: Ev): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(h[i] as Ev, h[p] as Ev)) break;
      [h[i], h[p]] = [h[p] as Ev, h[i] as Ev];
      i = p;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop() as Ev;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && less(h[l] as Ev, h[m] as Ev)) m = l;
      if (r < h.length && less(h[r] as Ev, h[m] as Ev)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m] as Ev, h[i] as Ev];
      i = m;
    }
  }
}

function less(a: Ev, b: Ev): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
