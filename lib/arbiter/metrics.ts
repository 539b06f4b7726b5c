// The arbiter's CloudWatch metrics. Names and namespace live here once: the
// alarms of the deployment are checked against them.
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { ClusterMetrics } from '../ha/actions.js';

type Unit = (typeof MetricUnit)[keyof typeof MetricUnit];

export const METRICS_NAMESPACE = 'pgfloat';
export const CLUSTER_DIMENSION = 'Cluster';

export const CLUSTER_METRICS = {
  leaderPresent: { name: 'LeaderPresent', unit: MetricUnit.Count },
  secondsWithoutLeader: { name: 'SecondsWithoutLeader', unit: MetricUnit.Seconds },
  failovers: { name: 'Failovers', unit: MetricUnit.Count },
  maxReplicationLagBytes: { name: 'MaxReplicationLagBytes', unit: MetricUnit.Bytes },
  healthyMembers: { name: 'HealthyMembers', unit: MetricUnit.Count },
  endpointInSync: { name: 'EndpointInSync', unit: MetricUnit.Count },
  malformedItems: { name: 'MalformedItems', unit: MetricUnit.Count },
  failsafePromises: { name: 'FailsafePromises', unit: MetricUnit.Count },
  memberStoreErrors: { name: 'MemberStoreErrors', unit: MetricUnit.Count },
  rewindFailedMembers: { name: 'RewindFailedMembers', unit: MetricUnit.Count },
  slotRetainedBytes: { name: 'SlotRetainedBytes', unit: MetricUnit.Bytes },
} as const satisfies Record<keyof ClusterMetrics, { name: string; unit: Unit }>;

/** Per-cluster failures of a tick (a malformed item, a store error, a failed AWS call). */
export const CLUSTER_ERRORS_METRIC = { name: 'ArbiterErrors', unit: MetricUnit.Count } as const;

/** Failures of the loop itself (its lease, the cluster list): while they last no cluster is judged. */
export const LOOP_ERRORS_METRIC = { name: 'ArbiterLoopErrors', unit: MetricUnit.Count } as const;
export const SHARD_DIMENSION = 'Shard';

/**
 * Published by an invocation when it takes a shard's loop lease: the time
 * since the shard's previous tick (recorded on the lease item), i.e. how long
 * the shard went unjudged across a hand-over, a takeover or a missed schedule.
 */
export const TICK_GAP_METRIC = { name: 'ArbiterTickGap', unit: MetricUnit.Seconds } as const;

export interface MetricsSink {
  cluster(cluster: string, metrics: ClusterMetrics): void;
  clusterError(cluster: string): void;
  loopError?(shard: string): void;
  /** Seconds since the shard's previous tick, when an invocation takes its loop lease. */
  tickGap?(shard: string, seconds: number): void;
}

/** Embedded Metric Format through Powertools: one EMF document per cluster and publish. */
export class PowertoolsMetricsSink implements MetricsSink {
  constructor(private readonly metrics: Metrics) {}

  cluster(cluster: string, m: ClusterMetrics): void {
    this.metrics.addDimensions({ [CLUSTER_DIMENSION]: cluster });
    for (const key of Object.keys(CLUSTER_METRICS) as (keyof ClusterMetrics)[]) {
      const { name, unit } = CLUSTER_METRICS[key];
      const value = m[key];
      // An optional gauge nobody reports is left out, not published as 0.
      if (value !== undefined) this.metrics.addMetric(name, unit, value);
    }
    this.metrics.publishStoredMetrics();
  }

  clusterError(cluster: string): void {
    this.metrics.addDimensions({ [CLUSTER_DIMENSION]: cluster });
    this.metrics.addMetric(CLUSTER_ERRORS_METRIC.name, CLUSTER_ERRORS_METRIC.unit, 1);
    this.metrics.publishStoredMetrics();
  }

  loopError(shard: string): void {
    this.metrics.addDimensions({ [SHARD_DIMENSION]: shard });
    this.metrics.addMetric(LOOP_ERRORS_METRIC.name, LOOP_ERRORS_METRIC.unit, 1);
    this.metrics.publishStoredMetrics();
  }

  tickGap(shard: string, seconds: number): void {
    this.metrics.addDimensions({ [SHARD_DIMENSION]: shard });
    this.metrics.addMetric(TICK_GAP_METRIC.name, TICK_GAP_METRIC.unit, seconds);
    this.metrics.publishStoredMetrics();
  }
}
