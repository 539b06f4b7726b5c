// One arbiter invocation: the event decides which clusters and until when,
// then the loop runs under the shard's loop lease.
import { clusterLabel } from '../dcs/keys.js';
import type { Store } from '../dcs/store.js';
import { DynamoDbStore } from '../dcs/dynamodb-store.js';
import { createDynamoDbClient } from '../dcs/client.js';
import type { ArbiterEvent } from './events.js';
import { planInvocation } from './events.js';
import { runLoop, type LoopSummary } from './loop.js';
import type { MetricsSink } from './metrics.js';
import { moverCache, type MoverCache } from './movers.js';
import type { ArbiterSettings } from './settings.js';
import { systemClock, type Clock, type Log } from './tick.js';

export interface ArbiterRuntime {
  readonly settings: ArbiterSettings;
  readonly store: Store;
  readonly movers: MoverCache;
  readonly metrics: MetricsSink;
  readonly log: Log;
  readonly clock: Clock;
  /** Ends running loops after their current tick. */
  readonly signal: AbortSignal;
  /** Registers a running loop, so close() waits for it to end. */
  track(loop: Promise<unknown>): void;
  close(): Promise<void>;
}

export function createRuntime(settings: ArbiterSettings, log: Log, metrics: MetricsSink, clock: Clock = systemClock): ArbiterRuntime {
  const client = createDynamoDbClient(
    settings.PGFLOAT_DYNAMODB_ENDPOINT !== undefined ? { endpoint: settings.PGFLOAT_DYNAMODB_ENDPOINT } : {},
  );
  const movers = moverCache({}, undefined, (cluster, err) =>
    log.warn(`${cluster}: closing the old endpoint mover failed: ${err instanceof Error ? err.message : String(err)}`, { cluster }),
  );
  const stopping = new AbortController();
  const running = new Set<Promise<unknown>>();
  return {
    settings,
    store: new DynamoDbStore({ client, tableName: settings.PGFLOAT_TABLE }),
    movers,
    metrics,
    log,
    clock,
    signal: stopping.signal,
    track: (p) => {
      running.add(p);
      // Both branches handled: the caller awaits `p` for its result; this only forgets it.
      const forget = (): void => {
        running.delete(p);
      };
      p.then(forget, forget);
    },
    close: async () => {
      stopping.abort();
      await Promise.allSettled([...running]);
      await movers.close();
      client.destroy();
    },
  };
}

export async function runInvocation(rt: ArbiterRuntime, event: ArbiterEvent, remainingMs: number, invocationId: string): Promise<LoopSummary> {
  const s = rt.settings;
  const plan = planInvocation(event, rt.clock.now(), remainingMs, {
    tickMs: s.PGFLOAT_TICK_MS,
    handoverMarginMs: s.PGFLOAT_HANDOVER_MARGIN_MS,
  });
  const why = event.kind === 'wake' ? ` (woken by ${clusterLabel(event.cluster)} ${event.member}: ${event.reason})` : '';
  rt.log.info(
    `arbiter ${event.kind} invocation${why}: ${plan.clusters === 'all' ? 'all clusters' : plan.clusters.length + ' cluster(s)'} until ${new Date(plan.runUntil).toISOString()}`,
    event.kind === 'wake' ? { cluster: clusterLabel(event.cluster), member: event.member, reason: event.reason } : {},
  );
  if (event.kind === 'scheduled' && remainingMs < s.PGFLOAT_SCHEDULE_PERIOD_MS + s.PGFLOAT_HANDOVER_MARGIN_MS + s.PGFLOAT_TICK_MS) {
    rt.log.warn(
      `the invocation has ${remainingMs} ms, less than a schedule period (${s.PGFLOAT_SCHEDULE_PERIOD_MS} ms) and the margin: the shard goes unjudged until the next invocation (raise the function's timeout to 2 periods and a margin)`,
    );
  }
  const loop = runLoop(
    {
      store: rt.store,
      movers: rt.movers,
      clock: rt.clock,
      log: rt.log,
      metrics: rt.metrics,
      arbiterId: s.PGFLOAT_SHARD,
      invocationId,
      leaseMs: s.PGFLOAT_CLUSTER_LEASE_MS,
      loopLeaseMs: s.PGFLOAT_LOOP_LEASE_MS,
      stepTimeoutMs: s.PGFLOAT_STEP_TIMEOUT_MS,
    },
    { ...plan, tickMs: s.PGFLOAT_TICK_MS, metricsEveryMs: s.PGFLOAT_METRICS_EVERY_MS, signal: rt.signal },
  );
  rt.track(loop);
  const summary = await loop;
  rt.log.info(`arbiter invocation ${summary.status}`, { ...summary });
  return summary;
}
