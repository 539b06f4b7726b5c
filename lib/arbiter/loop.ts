// The arbiter's tick loop. EventBridge fires at most once a minute, so one
// invocation ticks every `tickMs` until just before the next one starts.
//
// Invariants:
// - Only the holder of the shard's loop lease acts. The lease is an arbiter
//   item in a reserved partition, taken and renewed with CAS and counted from
//   the moment the write that took or renewed it was sent. It is renewed
//   before any tick in which it could run out, and a tick sends no write at
//   or after its end (tickCluster's `actUntil`).
// - A renew that fails, for whatever reason, ends acting at once: once the
//   lease runs out another invocation may take it. The loop then tries to
//   take it again each tick, and stops for good if another invocation has.
// - Nothing the store does ends the loop early or escapes it: every failure
//   is logged and counted, and the loop goes on until its planned end
//   (`runUntil`, `maxTicks`, the abort signal).
// - Per-cluster leases (lib/ha) are owned by the shard, not the invocation,
//   so the next invocation of the same shard takes over without waiting.
// - One cluster's failure is logged and counted and never stops the others.
import type { ArbiterItem } from '../dcs/items.js';
import { clusterLabel, type ClusterId } from '../dcs/keys.js';
import { describeMalformed, itemSlot } from '../dcs/snapshot.js';
import type { MalformedEntry } from '../dcs/store.js';
import { LoopStepError } from './errors.js';
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
  /**
   * ran: held the loop lease and ticked until the planned end;
   * lease-held: another invocation held the lease throughout;
   * lease-lost: another invocation took the lease over; this loop stopped;
   * store-unavailable: every attempt to take the lease failed.
   */
  readonly status: 'ran' | 'lease-held' | 'lease-lost' | 'store-unavailable';
  readonly leaseOwner?: string;
  readonly ticks: number;
  readonly clusterTicks: number;
  /** Failed cluster ticks, and cluster ticks that found malformed items. */
  readonly errors: number;
  /** Failures of the loop's own steps (its lease, the cluster list). */
  readonly loopErrors: number;
  readonly grants: number;
  readonly endpointMoves: number;
}

type Lease = { readonly version: number; readonly expiresAt: number };
type Take = { readonly kind: 'held'; readonly lease: Lease } | { readonly kind: 'other'; readonly item: ArbiterItem } | { readonly kind: 'failed' };

export async function runLoop(deps: LoopDeps, opts: LoopOptions): Promise<LoopSummary> {
  const { clock, store, log } = deps;
  const shard = { namespace: LOOP_LEASE_NAMESPACE, scope: deps.arbiterId };
  const shardLabel = clusterLabel(shard);
  const summary = { ticks: 0, clusterTicks: 0, errors: 0, loopErrors: 0, grants: 0, endpointMoves: 0 };
  const o = { timeoutMs: deps.stepTimeoutMs };
  const maxTicks = opts.maxTicks ?? Infinity;

  const loopError = (step: LoopStepError['step'], err: unknown): void => {
    summary.loopErrors += 1;
    const e = new LoopStepError(shardLabel, step, err);
    log.error(e.message, { shard: shardLabel, step });
    deps.metrics.loopError?.(shardLabel);
  };

  /** Takes the lease, or renews the one held: CAS on the version held, else on the version read. */
  const take = async (held: Lease | null, retried = false): Promise<Take> => {
    const sentAt = clock.now();
    try {
      let expected: number | null;
      if (held !== null) {
        expected = held.version;
      } else {
        const slot = itemSlot(await store.readCluster(shard, o), 'arbiter');
        // Never written over: a newer arbiter may have written what this one cannot read.
        if (slot.state === 'malformed') throw new Error(`the loop lease item is malformed: ${describeMalformed(slot.entry)}: ${slot.entry.message}`);
        const item = slot.state === 'present' ? slot.item : null;
        if (item !== null && item.owner !== deps.invocationId && item.leaseExpiresAt > clock.now()) return { kind: 'other', item };
        expected = item?.version ?? null;
      }
      const expiresAt = sentAt + deps.loopLeaseMs;
      const r = await store.putArbiter(shard, { owner: deps.invocationId, leaseExpiresAt: expiresAt, leader: null, members: {} }, expected, o);
      if (r.ok) return { kind: 'held', lease: { version: r.item.version, expiresAt } };
      if (r.current !== null && r.current.owner !== deps.invocationId && r.current.leaseExpiresAt > clock.now()) return { kind: 'other', item: r.current };
      // Our own write whose answer was lost, or a lease run out under a racing taker: read and try once more.
      if (!retried) return await take(null, true);
      throw new Error(`the loop lease changed under two attempts in a row (version ${r.current?.version ?? 'none'})`);
    } catch (err) {
      loopError(held === null ? 'take lease' : 'renew lease', err);
      return { kind: 'failed' };
    }
  };

  let lease: Lease | null = null;
  let everHeld = false;
  let heldBy: ArbiterItem | null = null;
  let slots = 0;
  let clusters: readonly ClusterId[] = [];
  let listedAt = -Infinity;
  const publishedAt = new Map<string, number>();
  const reported = new Map<string, string>();
  const listEveryMs = opts.listEveryMs ?? 10_000;
  const metricsEveryMs = opts.metricsEveryMs ?? 10_000;
  const renewWithin = Math.max(deps.loopLeaseMs / 2, opts.tickMs * 2);
  const sleepUntil = async (at: number): Promise<void> => {
    const wait = at - clock.now();
    if (wait > 0) await clock.sleep(wait);
  };

  try {
    while (clock.now() + opts.tickMs <= opts.runUntil && slots < maxTicks && opts.signal?.aborted !== true) {
      const started = clock.now();
      if (lease === null || lease.expiresAt - started < renewWithin) {
        const t = await take(lease);
        if (t.kind === 'held') {
          lease = t.lease;
          everHeld = true;
          heldBy = null;
        } else {
          lease = null;
          if (t.kind === 'other') {
            if (everHeld) {
              log.warn(`loop lease lost to ${t.item.owner}; stopping`, { owner: t.item.owner });
              return { status: 'lease-lost', leaseOwner: t.item.owner, ...summary };
            }
            if (!opts.waitForLease) return { status: 'lease-held', leaseOwner: t.item.owner, ...summary };
            if (heldBy?.owner !== t.item.owner) log.info(`loop lease held by ${t.item.owner}; waiting`, { owner: t.item.owner });
            heldBy = t.item;
          } else {
            // Failed: not acting this tick, and the slot counts towards maxTicks so a short invocation still ends.
            slots += 1;
          }
          if (slots < maxTicks) await sleepUntil(started + opts.tickMs);
          continue;
        }
      }
      slots += 1;
      if (opts.clusters !== 'all') {
        clusters = opts.clusters;
      } else if (started - listedAt >= listEveryMs) {
        try {
          clusters = await store.listClusters(o);
          listedAt = started;
        } catch (err) {
          // The last list stands until the next one succeeds.
          loopError('list clusters', err);
        }
      }
      const outcomes = await tickAll(deps, clusters, opts.concurrency ?? 16, summary, lease.expiresAt);
      for (const out of outcomes) {
        summary.grants += out.grants;
        summary.endpointMoves += out.endpointMoves;
        const last = publishedAt.get(out.cluster) ?? -Infinity;
        const publish = out.grants > 0 || out.endpointMoves > 0 || started - last >= metricsEveryMs;
        if (publish) {
          deps.metrics.cluster(out.cluster, out.metrics);
          publishedAt.set(out.cluster, started);
        }
        reportMalformed(deps, out, publish, reported, summary);
      }
      summary.ticks += 1;
      opts.onTick?.(outcomes);
      // While leadership moves, tick again soon: each step (grant, promotion, endpoint) waits on the next tick.
      const period = outcomes.some((x) => x.transition) ? Math.min(opts.tickMs, TRANSITION_TICK_MS) : opts.tickMs;
      if (slots < maxTicks) await sleepUntil(started + period);
    }
  } finally {
    // Hand over at once: the next invocation need not wait for the lease to run out.
    if (lease !== null) {
      const r = await store
        .putArbiter(shard, { owner: deps.invocationId, leaseExpiresAt: clock.now(), leader: null, members: {} }, lease.version, o)
        .catch((err: unknown) => err);
      if (r instanceof Error) loopError('hand over lease', r);
    }
  }
  if (!everHeld && heldBy !== null) return { status: 'lease-held', leaseOwner: heldBy.owner, ...summary };
  if (!everHeld && summary.loopErrors > 0) return { status: 'store-unavailable', ...summary };
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
  actUntil: number,
): Promise<TickOutcome[]> {
  const outcomes: TickOutcome[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < clusters.length) {
      const c = clusters[next++] as ClusterId;
      summary.clusterTicks += 1;
      try {
        outcomes.push(await tickCluster(deps, c, actUntil));
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
