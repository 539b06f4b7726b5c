// The arbiter's tick loop. EventBridge fires at most once a minute, so one
// invocation ticks every `tickMs` until its successor has arrived, and hands
// the shard over to it (docs/arbiter.md).
//
// Invariants:
// - Only the holder of the shard's loop lease acts. The lease is an arbiter
//   item in a reserved partition, taken and renewed with CAS and counted from
//   the moment the write that took or renewed it was sent. It is renewed at
//   the start of every tick period (a few ticks long, so one slow renew does
//   not lose it), and a tick sends no write at or after its end
//   (tickCluster's `actUntil`).
// - A renew that fails, for whatever reason, ends acting at once: once the
//   lease runs out another invocation may take it. The loop then tries to
//   take it again each tick, and stops for good if another invocation has.
// - Hand-over: a scheduled invocation that finds the lease held by an
//   invocation of an earlier schedule (or of none: a wake, an alarm, a direct
//   call) announces itself on the lease item (`successor`, CAS, owner and
//   expiry unchanged). That write changes the version, so the holder's next
//   renew fails its CAS and finds the announcement: it releases the lease and
//   stops. The successor polls quickly once announced and takes the released
//   lease by CAS. Two holders never act at once: the successor acts only
//   under a lease it took by CAS after the holder released or let it run out.
// - Takeover: an invocation waiting for the lease takes it as soon as it runs
//   out; a watcher (a wake, a duplicated schedule) returns as soon as it sees
//   the lease renewed by a live owner instead.
// - Each renew records the tick's start (`lastTickAt`), so an invocation that
//   takes the lease knows, and publishes, how long the shard went unjudged.
// - Nothing the store does ends the loop early or escapes it: every failure
//   is logged and counted, and the loop goes on until its planned end
//   (`runUntil`, `maxTicks`, the abort signal, a hand-over).
// - Per-cluster leases (lib/ha) are owned by the shard, not the invocation,
//   so the next invocation of the same shard takes over without waiting.
// - One cluster's failure is logged and counted and never stops the others.
import type { ArbiterItem, ArbiterState } from '../dcs/items.js';
import { clusterLabel, type ClusterId } from '../dcs/keys.js';
import { describeMalformed, itemSlot } from '../dcs/snapshot.js';
import type { MalformedEntry } from '../dcs/store.js';
import { LoopStepError } from './errors.js';
import type { MetricsSink } from './metrics.js';
import { tickCluster, type TickDeps, type TickOutcome } from './tick.js';

/** Tick period while a cluster's leadership is moving. */
export const TRANSITION_TICK_MS = 50;

/** How often an announced successor looks whether the holder has released the lease. */
export const HANDOVER_POLL_MS = 50;

/** The reserved partition of loop leases; no cluster may use this namespace. */
export const LOOP_LEASE_NAMESPACE = '_pgfloat';

export interface LoopDeps extends TickDeps {
  readonly metrics: MetricsSink;
  /** This invocation: the loop lease's owner. */
  readonly invocationId: string;
  readonly loopLeaseMs: number;
}

/**
 * What an invocation does while another holds the loop lease:
 * - succeed: a scheduled invocation. When the holder's schedule is earlier
 *   (or it has none), announce itself as successor and take the lease once it
 *   is handed over or runs out; otherwise (a duplicate) watch.
 * - watch: watch the lease; return as soon as a live owner renews it, take it
 *   as soon as it runs out (at most a loop lease and a tick of watching).
 * - wait: wait until the lease is free or runs out, however long it is renewed.
 * - return: return at once (an alarm, a direct call).
 */
export type WhenHeld = 'succeed' | 'watch' | 'wait' | 'return';

export interface LoopOptions {
  /** Arbiter-clock time before which the last tick must end. */
  readonly runUntil: number;
  readonly tickMs: number;
  readonly clusters: readonly ClusterId[] | 'all';
  /** Default: from waitForLease. */
  readonly whenHeld?: WhenHeld;
  /** The older form of whenHeld: true is 'wait', false 'return'. */
  readonly waitForLease?: boolean;
  /** The scheduled time of a scheduled invocation: later schedules succeed earlier ones. */
  readonly schedule?: number;
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
   * handed-over: held the lease until a successor announced itself, then released it to it;
   * lease-held: another invocation held the lease throughout (or a later successor was already announced);
   * lease-lost: another invocation took the lease over; this loop stopped;
   * store-unavailable: every attempt to take the lease failed.
   */
  readonly status: 'ran' | 'handed-over' | 'lease-held' | 'lease-lost' | 'store-unavailable';
  readonly leaseOwner?: string;
  readonly ticks: number;
  readonly clusterTicks: number;
  /** Failed cluster ticks, and cluster ticks that found malformed items. */
  readonly errors: number;
  /** Failures of the loop's own steps (its lease, the cluster list). */
  readonly loopErrors: number;
  readonly grants: number;
  readonly endpointMoves: number;
  /** Arbiter-clock start of the first and the last tick, and end of the last. */
  readonly firstTickAt?: number;
  readonly lastTickAt?: number;
  readonly lastTickEndedAt?: number;
  /** When this loop took the lease: the time since the shard's previous recorded tick. */
  readonly tickGapMs?: number;
  /** The successor the lease was handed over to. */
  readonly handedOverTo?: string;
}

type Lease = { readonly version: number; readonly expiresAt: number; readonly sentAt: number };
type Take =
  | { readonly kind: 'held'; readonly lease: Lease; readonly previous: ArbiterItem | null }
  | { readonly kind: 'other'; readonly item: ArbiterItem }
  | { readonly kind: 'handover'; readonly item: ArbiterItem & { readonly successor: NonNullable<ArbiterItem['successor']> } }
  | { readonly kind: 'failed' };

/** The lease item's fields other than its version, without the announcement. */
function leaseState(item: ArbiterItem): ArbiterState {
  const { version: _v, successor: _s, ...state } = item;
  return state;
}

export async function runLoop(deps: LoopDeps, opts: LoopOptions): Promise<LoopSummary> {
  const { clock, store, log } = deps;
  const me = deps.invocationId;
  const shard = { namespace: LOOP_LEASE_NAMESPACE, scope: deps.arbiterId };
  const shardLabel = clusterLabel(shard);
  const summary: {
    ticks: number;
    clusterTicks: number;
    errors: number;
    loopErrors: number;
    grants: number;
    endpointMoves: number;
    firstTickAt?: number;
    lastTickAt?: number;
    lastTickEndedAt?: number;
    tickGapMs?: number;
    handedOverTo?: string;
  } = { ticks: 0, clusterTicks: 0, errors: 0, loopErrors: 0, grants: 0, endpointMoves: 0 };
  const o = { timeoutMs: deps.stepTimeoutMs };
  const maxTicks = opts.maxTicks ?? Infinity;
  const whenHeld: WhenHeld = opts.whenHeld ?? (opts.waitForLease === true ? 'wait' : 'return');
  const fresh = (item: ArbiterItem): boolean => item.owner !== me && item.leaseExpiresAt > clock.now();
  const ownState = (expiresAt: number, tickAt: number | undefined): ArbiterState => ({
    owner: me,
    leaseExpiresAt: expiresAt,
    leader: null,
    members: {},
    ...(opts.schedule !== undefined ? { schedule: opts.schedule } : {}),
    ...(tickAt !== undefined ? { lastTickAt: tickAt } : {}),
  });

  const loopError = (step: LoopStepError['step'], err: unknown): void => {
    summary.loopErrors += 1;
    const e = new LoopStepError(shardLabel, step, err);
    log.error(e.message, { shard: shardLabel, step });
    deps.metrics.loopError?.(shardLabel);
  };

  const announced = (item: ArbiterItem): Take | null =>
    item.owner === me && item.successor !== undefined && item.successor.owner !== me ? { kind: 'handover', item: item as Extract<Take, { kind: 'handover' }>['item'] } : null;

  /**
   * Takes the lease, or renews the one held: CAS on the version held, else on
   * the version read. `tickAt` is recorded as the shard's last tick. A renew
   * that finds a successor announced returns 'handover'.
   */
  const take = async (held: Lease | null, tickAt: number, retried = false): Promise<Take> => {
    const sentAt = clock.now();
    try {
      let expected: number | null;
      let previous: ArbiterItem | null = null;
      if (held !== null) {
        expected = held.version;
      } else {
        const slot = itemSlot(await store.readCluster(shard, o), 'arbiter');
        // Never written over: a newer arbiter may have written what this one cannot read.
        if (slot.state === 'malformed') throw new Error(`the loop lease item is malformed: ${describeMalformed(slot.entry)}: ${slot.entry.message}`);
        previous = slot.state === 'present' ? slot.item : null;
        if (previous !== null && fresh(previous)) return { kind: 'other', item: previous };
        const handover = previous !== null ? announced(previous) : null;
        if (handover !== null) return handover;
        expected = previous?.version ?? null;
      }
      const expiresAt = sentAt + deps.loopLeaseMs;
      const r = await store.putArbiter(shard, ownState(expiresAt, tickAt), expected, o);
      if (r.ok) return { kind: 'held', lease: { version: r.item.version, expiresAt, sentAt }, previous };
      if (r.current !== null && fresh(r.current)) return { kind: 'other', item: r.current };
      const handover = r.current !== null ? announced(r.current) : null;
      if (handover !== null) return handover;
      // Our own write whose answer was lost, or a lease run out under a racing taker: read and try once more.
      if (!retried) return await take(null, tickAt, true);
      throw new Error(`the loop lease changed under two attempts in a row (version ${r.current?.version ?? 'none'})`);
    } catch (err) {
      loopError(held === null ? 'take lease' : 'renew lease', err);
      return { kind: 'failed' };
    }
  };

  /** Announces this invocation as the holder's successor: CAS on the version read, the holder's lease unchanged. */
  const announce = async (item: ArbiterItem): Promise<boolean> => {
    try {
      const successor = { owner: me, schedule: opts.schedule ?? 0, at: clock.now() };
      const r = await store.putArbiter(shard, { ...leaseState(item), successor }, item.version, o);
      return r.ok;
    } catch (err) {
      loopError('announce successor', err);
      return false;
    }
  };

  /** What a waiting invocation does about a lease another holds. */
  const waitingRole = (item: ArbiterItem): 'announce' | 'announced' | 'watch' | 'wait' | 'step aside' => {
    if (whenHeld === 'wait') return 'wait';
    if (whenHeld !== 'succeed' || opts.schedule === undefined) return 'watch';
    const s = item.successor;
    if (s?.owner === me) return 'announced';
    if (s !== undefined && s.schedule > opts.schedule) return 'step aside';
    if (opts.schedule > (item.schedule ?? -Infinity) && (s === undefined || opts.schedule > s.schedule)) return 'announce';
    // A duplicate of the holder's schedule, or of the announced successor's: watch, in case it has died.
    return 'watch';
  };

  let lease: Lease | null = null;
  let everHeld = false;
  let heldBy: ArbiterItem | null = null;
  /** A watcher's first sight of the lease: a renew past it proves a live owner. */
  let watched: { owner: string; expiresAt: number } | null = null;
  let isSuccessor = false;
  let stoppedBy: 'handed-over' | 'lease-held' | 'lease-lost' | null = null;
  let slots = 0;
  let clusters: readonly ClusterId[] = [];
  let listedAt = -Infinity;
  const publishedAt = new Map<string, number>();
  const reported = new Map<string, string>();
  const listEveryMs = opts.listEveryMs ?? 10_000;
  const metricsEveryMs = opts.metricsEveryMs ?? 10_000;
  // Renewed at the start of every tick period; transition ticks in between need not renew.
  const renewAfter = opts.tickMs / 2;
  const sleepUntil = async (at: number): Promise<void> => {
    const wait = at - clock.now();
    if (wait > 0) await clock.sleep(wait);
  };

  try {
    while (clock.now() + opts.tickMs <= opts.runUntil && slots < maxTicks && opts.signal?.aborted !== true) {
      const started = clock.now();
      if (lease === null || started - lease.sentAt >= renewAfter || lease.expiresAt - started < opts.tickMs) {
        const wasHeld = lease !== null;
        const t = await take(lease, started);
        if (t.kind === 'handover') {
          // Released in `finally`, on the version the announcement wrote.
          lease = { version: t.item.version, expiresAt: t.item.leaseExpiresAt, sentAt: started };
          summary.handedOverTo = t.item.successor.owner;
          log.info(`loop lease handed over to ${t.item.successor.owner}`, { successor: t.item.successor.owner, schedule: t.item.successor.schedule });
          stoppedBy = 'handed-over';
          break;
        }
        if (t.kind === 'held') {
          lease = t.lease;
          if (!wasHeld) {
            const prev = t.previous;
            if (prev?.lastTickAt !== undefined) {
              summary.tickGapMs = Math.max(0, started - prev.lastTickAt);
              deps.metrics.tickGap?.(shardLabel, summary.tickGapMs / 1000);
              log.info(`loop lease taken ${(summary.tickGapMs / 1000).toFixed(3)} s after the shard's last tick (by ${prev.owner})`, {
                previousOwner: prev.owner,
                tickGapMs: summary.tickGapMs,
              });
            }
          }
          everHeld = true;
          heldBy = null;
        } else {
          lease = null;
          let next = started + opts.tickMs;
          if (t.kind === 'other') {
            const item = t.item;
            if (everHeld) {
              log.warn(`loop lease lost to ${item.owner}; stopping`, { owner: item.owner });
              stoppedBy = 'lease-lost';
              heldBy = item;
              break;
            }
            if (whenHeld === 'return') {
              stoppedBy = 'lease-held';
              heldBy = item;
              break;
            }
            if (heldBy?.owner !== item.owner) log.info(`loop lease held by ${item.owner}; waiting`, { owner: item.owner });
            heldBy = item;
            let role = waitingRole(item);
            if (role === 'announce') {
              if (await announce(item)) {
                role = 'announced';
                log.info(`announced as successor of ${item.owner}`, { owner: item.owner });
              }
            }
            if (role === 'step aside') {
              log.info(`a later schedule's invocation (${item.successor?.owner ?? '?'}) succeeds ${item.owner}; stepping aside`);
              stoppedBy = 'lease-held';
              break;
            }
            if (role === 'announced') {
              isSuccessor = true;
              next = Math.min(next, clock.now() + HANDOVER_POLL_MS);
            } else if (role === 'watch' && !isSuccessor) {
              if (watched === null) {
                watched = { owner: item.owner, expiresAt: item.leaseExpiresAt };
              } else if (item.owner !== watched.owner || item.leaseExpiresAt > watched.expiresAt) {
                log.info(`loop lease renewed by ${item.owner}; not needed`, { owner: item.owner });
                stoppedBy = 'lease-held';
                break;
              }
            }
            // Take over as soon as the lease runs out.
            next = Math.min(next, item.leaseExpiresAt + 1);
          } else {
            // Failed: not acting this tick, and the slot counts towards maxTicks so a short invocation still ends.
            slots += 1;
          }
          if (slots < maxTicks) await sleepUntil(Math.max(next, clock.now() + 1));
          continue;
        }
      }
      slots += 1;
      summary.firstTickAt ??= started;
      summary.lastTickAt = started;
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
      summary.lastTickEndedAt = clock.now();
      opts.onTick?.(outcomes);
      // While leadership moves, tick again soon: each step (grant, promotion, endpoint) waits on the next tick.
      const period = outcomes.some((x) => x.transition) ? Math.min(opts.tickMs, TRANSITION_TICK_MS) : opts.tickMs;
      if (slots < maxTicks) await sleepUntil(started + period);
    }
  } finally {
    // Hand over at once: the next invocation need not wait for the lease to run out.
    if (lease !== null) await release(lease.version);
  }
  if (stoppedBy === 'handed-over') return { status: 'handed-over', ...summary };
  if (stoppedBy === 'lease-lost') return { status: 'lease-lost', leaseOwner: heldBy?.owner, ...summary };
  if (stoppedBy === 'lease-held' || (!everHeld && heldBy !== null)) return { status: 'lease-held', leaseOwner: heldBy?.owner, ...summary };
  if (!everHeld && summary.loopErrors > 0) return { status: 'store-unavailable', ...summary };
  return { status: 'ran', ...summary };

  /** Releases the lease: run out now, the last tick kept; once more on the version read if an announcement came in between. */
  async function release(version: number): Promise<void> {
    const state = ownState(clock.now(), summary.lastTickAt);
    try {
      const r = await store.putArbiter(shard, state, version, o);
      if (!r.ok && r.current !== null && r.current.owner === me) {
        await store.putArbiter(shard, { ...state, leaseExpiresAt: clock.now() }, r.current.version, o);
      }
    } catch (err) {
      loopError('hand over lease', err);
    }
  }
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
