// The CloudWatch alarms of each cluster the arbiter judges, one set per entry
// of the stage parameter `clusters` ("<namespace>/<scope>", comma separated).
// serverless.yml merges what this returns into its resources.
//
// Metric names, namespace and dimensions are the arbiter's
// (lib/arbiter/metrics.ts; Powertools adds the dimension `service`, named in
// functions/arbiter/handler.ts). test/infra packages the service and checks
// every alarm against what the bundled arbiter really emits.
'use strict';

const { createHash } = require('node:crypto');

const NAMESPACE = 'pgfloat';
const SERVICE = 'pgfloat-arbiter';
/** lib/dcs/keys.ts: namespace (may hold "/"), then "/", then scope. */
const CLUSTER = /^[A-Za-z0-9_.-][A-Za-z0-9_./-]{0,62}\/[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/**
 * Metrics are published every PGFLOAT_METRICS_EVERY_MS (10 s) per cluster.
 * Missing data means the arbiter is not judging the cluster: for "no leader"
 * that is breaching (nobody would fail it over), for the others it is not.
 */
const ALARMS = [
  {
    id: 'NoLeader',
    title: 'no leader',
    metric: 'LeaderPresent',
    statistic: 'Maximum',
    comparison: 'LessThanThreshold',
    threshold: () => 1,
    periods: 2,
    missing: 'breaching',
    describe: (c) => `No member has held the leader lease of ${c} for two whole minutes, or the arbiter has stopped reporting it.`,
  },
  {
    id: 'Failover',
    title: 'failover',
    metric: 'Failovers',
    statistic: 'Sum',
    comparison: 'GreaterThanOrEqualToThreshold',
    threshold: () => 1,
    periods: 1,
    missing: 'notBreaching',
    noOk: true,
    describe: (c) => `Leadership of ${c} moved (failover or switchover); its history partition says why.`,
  },
  {
    id: 'ReplicationLag',
    title: 'replication lag',
    metric: 'MaxReplicationLagBytes',
    statistic: 'Minimum',
    comparison: 'GreaterThanThreshold',
    threshold: (o) => o.lagBytes,
    periods: 3,
    missing: 'notBreaching',
    describe: (c, o) => `The most lagging replica of ${c} stayed over ${o.lagBytes} bytes behind for 3 minutes.`,
  },
  {
    // Reported by the primary's agent only: no data while it does not (an
    // older agent, no primary), which is no alarm.
    id: 'SlotRetention',
    title: 'slot WAL retention',
    metric: 'SlotRetainedBytes',
    statistic: 'Minimum',
    comparison: 'GreaterThanThreshold',
    threshold: (o) => o.slotBytes,
    periods: 3,
    missing: 'notBreaching',
    describe: (c, o) =>
      `A replication slot on the primary of ${c} held back over ${o.slotBytes} bytes of WAL for 3 minutes: a replica stopped consuming it; its agent drops a slot nobody uses after slot_grace_period, max_slot_wal_keep_size caps the rest.`,
  },
  {
    id: 'RewindFailed',
    title: 'rewind failed',
    metric: 'RewindFailedMembers',
    statistic: 'Maximum',
    comparison: 'GreaterThanOrEqualToThreshold',
    threshold: () => 1,
    periods: 1,
    missing: 'notBreaching',
    describe: (c) => `A member of ${c} failed pg_rewind every attempt and waits for an operator: pgfloat reinit <member> re-creates it from the leader.`,
  },
  {
    id: 'EndpointOutOfSync',
    title: 'endpoint out of sync',
    metric: 'EndpointInSync',
    statistic: 'Maximum',
    comparison: 'LessThanThreshold',
    threshold: () => 1,
    periods: 2,
    missing: 'notBreaching',
    describe: (c) => `The endpoint of ${c} has not pointed at the leader for two whole minutes; the arbiter retries every tick, its logs name the failing call.`,
  },
  {
    id: 'ArbiterErrors',
    title: 'arbiter errors',
    metric: 'ArbiterErrors',
    statistic: 'Sum',
    comparison: 'GreaterThanOrEqualToThreshold',
    threshold: () => 1,
    periods: 3,
    missing: 'notBreaching',
    describe: (c) => `The arbiter failed ticks of ${c} (store, malformed item or endpoint call) for 3 minutes running; its logs say why.`,
  },
  {
    // The members' own store errors: each agent counts its failed store calls
    // since it started (lib/ha/metrics.ts sums them), so the alarm watches the
    // count grow, not its level (an agent restart resets it: a fall is no alarm).
    id: 'MemberStoreErrors',
    title: 'member store errors',
    metric: 'MemberStoreErrors',
    statistic: 'Maximum',
    growth: true,
    comparison: 'GreaterThanThreshold',
    threshold: () => 0,
    periods: 3,
    datapoints: 2,
    missing: 'notBreaching',
    describe: (c) =>
      `Members of ${c} failed store calls in 2 of the last 3 minutes (the count each agent reports grew): an agent losing the store cannot renew or heartbeat; its log and /patroni's store_errors say which.`,
  },
  {
    id: 'Failsafe',
    title: 'failsafe',
    metric: 'FailsafePromises',
    statistic: 'Maximum',
    comparison: 'GreaterThanOrEqualToThreshold',
    threshold: () => 1,
    periods: 1,
    missing: 'notBreaching',
    describe: (c) =>
      `The primary of ${c} is cut off from the store and keeps its role on its members' failsafe promises (failsafe_mode): no failover can happen while they hold; restore its path to DynamoDB.`,
  },
];

/** A CloudFormation logical id for a cluster: its letters and digits, plus a hash that keeps "a/b-c" and "a/bc" apart. */
function logicalSuffix(cluster) {
  const words = cluster
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join('');
  return `${words.slice(0, 120)}${createHash('sha256').update(cluster).digest('hex').slice(0, 6)}`;
}

function parseClusters(raw) {
  const clusters = String(raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const c of clusters) {
    if (!CLUSTER.test(c)) {
      throw new Error(`param "clusters": "${c}" is not "<namespace>/<scope>" (fix: e.g. --param="clusters=pgfloat/orders,pgfloat/billing")`);
    }
  }
  if (new Set(clusters).size !== clusters.length) throw new Error(`param "clusters" names a cluster twice: ${clusters.join(',')}`);
  return clusters;
}

/** The alarm resources for `clusters`, notifying `topic` (a CloudFormation value). */
function clusterAlarms(clusters, { stage, lagBytes, slotBytes, topic }) {
  const Resources = {};
  for (const cluster of clusters) {
    for (const a of ALARMS) {
      const metric = {
        Namespace: NAMESPACE,
        MetricName: a.metric,
        Dimensions: [
          { Name: 'service', Value: SERVICE },
          { Name: 'Cluster', Value: cluster },
        ],
      };
      // A growth alarm compares each minute's value with the one before (metric math DIFF).
      const watched = a.growth
        ? {
            Metrics: [
              { Id: 'count', MetricStat: { Metric: metric, Period: 60, Stat: a.statistic }, ReturnData: false },
              { Id: 'growth', Expression: 'DIFF(count)', Label: `${a.metric} growth per minute`, ReturnData: true },
            ],
          }
        : { ...metric, Statistic: a.statistic, Period: 60 };
      Resources[`${a.id}Alarm${logicalSuffix(cluster)}`] = {
        Type: 'AWS::CloudWatch::Alarm',
        Properties: {
          AlarmName: `pgfloat ${cluster} ${a.title} (${stage})`,
          AlarmDescription: a.describe(cluster, { lagBytes, slotBytes }),
          ...watched,
          EvaluationPeriods: a.periods,
          DatapointsToAlarm: a.datapoints ?? a.periods,
          Threshold: a.threshold({ lagBytes, slotBytes }),
          ComparisonOperator: a.comparison,
          TreatMissingData: a.missing,
          AlarmActions: [topic],
          ...(a.noOk ? {} : { OKActions: [topic] }),
        },
      };
    }
  }
  return Resources;
}

/** serverless.yml: resources: - ${file(./infra/cluster-alarms.cjs)} */
module.exports = async ({ resolveVariable }) => {
  const clusters = parseClusters(await resolveVariable('param:clusters'));
  const stage = await resolveVariable('sls:stage');
  const lagBytes = Number(await resolveVariable('param:replicationLagAlarmBytes'));
  if (!Number.isInteger(lagBytes) || lagBytes <= 0) {
    throw new Error(`param "replicationLagAlarmBytes" must be a positive whole number of bytes, not ${lagBytes}`);
  }
  const slotBytes = Number(await resolveVariable('param:slotRetainedAlarmBytes'));
  if (!Number.isInteger(slotBytes) || slotBytes <= 0) {
    throw new Error(`param "slotRetainedAlarmBytes" must be a positive whole number of bytes, not ${slotBytes}`);
  }
  return { Resources: clusterAlarms(clusters, { stage, lagBytes, slotBytes, topic: { Ref: 'AlarmTopic' } }) };
};
module.exports.parseClusters = parseClusters;
module.exports.clusterAlarms = clusterAlarms;
