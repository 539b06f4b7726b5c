// The arbiter's tick loop. EventBridge fires at most once a minute, so one
// invocation ticks every `tickMs` until just before the next one starts.
//
// Invariants:
// - Only the holder of the shard's loop lease ticks. The lease is an arbiter
//   item in a reserved partition, taken and renewed with CAS; it is renewed
//   before any tick in which it could expire, so a loop that was paused past
//   its lease stops instead of acting.
// - Per-cluster leases (lib/ha) are owned by the shard, not the invocation,
//   so the next invocation of the same shard takes over without waiting.
// - One cluster's failure is logged and counted and never stops the others.
import type { ArbiterItem } from '../dcs/items.js';
import type { MalformedEntry } from '../dcs/store.js';
import { clusterLabel, type ClusterId } from '../dcs/keys.js';
import type { MetricsSink } from './metrics.js';
import { tickCluster, type TickDeps, type TickOutcome } from './tick.js';

/** Tick period while a cluster's leadership is moving. */
export const TRANSITION_TICK_MS = 50;

/** The reserved partition of loop leases; no cluster may use this namespace. */
export const LOOP_LEASE_NAMESPACE = '_pgfloat';

export interface LoopDeps extends TickDeps {
  readonly metrics: MetricsSink;
  /** This invocation: the loop lease's owner. */
  readonly invocationId: string;
  readonly loopLeaseMs: number;
}

export interface LoopOptions {
  /** Arbiter-clock time before which the last tick must end. */
  readonly runUntil: number;
  readonly tickMs: number;
  readonly clusters: readonly ClusterId[] | 'all';
  /** Wait for another loop's lease (a scheduled invocation) or return at once (an alarm or a direct call). */
  readonly waitForLease: boolean;
  /** At most this many ticks (a direct call asks for a few). */
  readonly maxTicks?: number;
  readonly listEveryMs?: number;
  readonly metricsEveryMs?: number;
  readonly concurrency?: number;
  /** Ends the loop after the current tick (local runs). */
  readonly signal?: AbortSignal;
  /** Called after every tick, for progress and tests. */
  readonly onTick?: (outcomes: readonly TickOutcome[]) => void;
}

export interface LoopSummary {
  readonly status: 'ran' | 'lease-held' | 'lease-lost';
  readonly leaseOwner?: string;
  readonly ticks: number;
  readonly clusterTicks: number;
  readonly errors: number;
  readonly grants: number;
  readonly endpointMoves: number;
}

type Lease = { version: number; expiresAt: number };

export async function runLoop(deps: LoopDeps, opts: LoopOptions): Promise<LoopSummary> {
  const { clock, store, log } = deps;
  const shard = { namespace: LOOP_LEASE_NAMESPACE, scope: deps.arbiterId };
  const summary = { ticks: 0, clusterTicks: 0, errors: 0, grants: 0, endpointMoves: 0 };

  const takeLease = async (): Promise<Lease | ArbiterItem> => {
    const held = (await store.readCluster(shard, { timeoutMs: deps.stepTimeoutMs })).arbiter;
    const now = clock.now();
    if (held !== null && held.owner !== deps.invocationId && held.leaseExpiresAt > now) return held;
    return putLease(held?.version ?? null, now + deps.loopLeaseMs);
  };
  const putLease = async (expected: number | null, expiresAt: number): Promise<Lease | ArbiterItem> => {
    const r = await store.putArbiter(
      shard,
      { owner: deps.invocationId, leaseExpiresAt: expiresAt, leader: null, members: {} },
      expected,
      { timeoutMs: deps.stepTimeoutMs },
    );
    if (r.ok) return { version: r.item.version, expiresAt };
    if (r.current === null) throw new Error(`loop lease ${clusterLabel(shard)} vanished while being taken`);
    return r.current;
  };
  const isLease = (x: Lease | ArbiterItem): x is Lease => !('owner' in x);

  let lease: Lease | ArbiterItem = await takeLease();
  while (!isLease(lease) && opts.waitForLease && clock.now() + opts.tickMs < opts.runUntil) {
    log.info(`loop lease held by ${lease.owner}; waiting`, { owner: lease.owner });
    await clock.sleep(opts.tickMs);
    lease = await takeLease();
  }
  if (!isLease(lease)) return { status: 'lease-held', leaseOwner: lease.owner, ...summary };

  let clusters: readonly ClusterId[] = [];
  let listedAt = -Infinity;
  const publishedAt = new Map<string, number>();
  const reported = new Map<string, string>();
  const listEveryMs = opts.listEveryMs ?? 10_000;
  const metricsEveryMs = opts.metricsEveryMs ?? 10_000;

  try {
    while (clock.now() + opts.tickMs <= opts.runUntil && summary.ticks < (opts.maxTicks ?? Infinity) && opts.signal?.aborted !== true) {
      const started = clock.now();
      if (lease.expiresAt - started < Math.max(deps.loopLeaseMs / 2, opts.tickMs * 2)) {
        const renewed = await putLease(lease.version, started + deps.loopLeaseMs);
        if (!isLease(renewed)) {
          log.warn(`loop lease lost to ${renewed.owner}; stopping`, { owner: renewed.owner });
          return { status: 'lease-lost', leaseOwner: renewed.owner, ...summary };
        }
        lease = renewed;
      }
      if (opts.clusters === 'all' && started - listedAt >= listEveryMs) {
        clusters = await store.listClusters({ timeoutMs: deps.stepTimeoutMs });
        listedAt = started;
      } else if (opts.clusters !== 'all') {
        clusters = opts.clusters;
      }
      const outcomes = await tickAll(deps, clusters, opts.concurrency ?? 16, summary);
      for (const o of outcomes) {
        summary.grants += o.grants;
        summary.endpointMoves += o.endpointMoves;
        const last = publishedAt.get(o.cluster) ?? -Infinity;
        const publish = o.grants > 0 || o.endpointMoves > 0 || started - last >= metricsEveryMs;
        if (publish) {
          deps.metrics.cluster(o.cluster, o.metrics);
          publishedAt.set(o.cluster, started);
        }
        reportMalformed(deps, o, publish, reported, summary);
      }
      summary.ticks += 1;
      opts.onTick?.(outcomes);
      // While leadership moves, tick again soon: each step (grant, promotion, endpoint) waits on the next tick.
      const period = outcomes.some((o) => o.transition) ? Math.min(opts.tickMs, TRANSITION_TICK_MS) : opts.tickMs;
      const wait = started + period - clock.now();
      if (wait > 0 && summary.ticks < (opts.maxTicks ?? Infinity)) await clock.sleep(wait);
    }
  } finally {
    // Hand over at once: the next invocation need not wait for the lease to run out.
    if (isLease(lease)) await putLease(lease.version, clock.now()).catch(() => undefined);
  }
  return { status: 'ran', ...summary };
}

/**
 * A cluster with malformed items counts an error each tick; each item is
 * logged when first found (or changed) and again whenever the cluster's
 * metrics are published.
 */
function reportMalformed(
  deps: LoopDeps,
  out: TickOutcome,
  publish: boolean,
  reported: Map<string, string>,
  summary: { errors: number },
): void {
  if (out.malformed.length === 0) {
    reported.delete(out.cluster);
    return;
  }
  summary.errors += 1;
  deps.metrics.clusterError(out.cluster);
  const signature = out.malformed.map((e: MalformedEntry) => `${e.key}:${e.field}:${e.message}`).join('\n');
  if (!publish && reported.get(out.cluster) === signature) return;
  reported.set(out.cluster, signature);
  for (const e of out.malformed) {
    deps.log.warn(`${out.cluster}: malformed item ${e.key}, field ${e.field}, set aside: ${e.message}`, {
      cluster: out.cluster,
      key: e.key,
      field: e.field,
    });
  }
}

async function tickAll(
  deps: LoopDeps,
  clusters: readonly ClusterId[],
  concurrency: number,
  summary: { clusterTicks: number; errors: number },
): Promise<TickOutcome[]> {
  const outcomes: TickOutcome[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < clusters.length) {
      const c = clusters[next++] as ClusterId;
      summary.clusterTicks += 1;
      try {
        outcomes.push(await tickCluster(deps, c));
      } catch (err) {
        summary.errors += 1;
        const label = clusterLabel(c);
        deps.log.error(err instanceof Error ? err.message : String(err), { cluster: label });
        deps.metrics.clusterError(label);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, clusters.length) }, worker));
  return outcomes;
}
