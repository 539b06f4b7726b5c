import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidArbiterEventError } from '../../lib/arbiter/errors.js';
import { parseArbiterEvent, planInvocation } from '../../lib/arbiter/events.js';
import { arbiterSettings } from '../../lib/arbiter/settings.js';

const settings = { tickMs: 1000, handoverMarginMs: 1500 };
const metric = (cluster: string) => ({ metricStat: { metric: { namespace: 'pgfloat', name: 'LeaderPresent', dimensions: { Cluster: cluster } } } });

describe('arbiter events', () => {
  const cases: [string, unknown, ReturnType<typeof parseArbiterEvent>][] = [
    [
      'an EventBridge schedule',
      { source: 'aws.events', 'detail-type': 'Scheduled Event', id: '1', time: '2026-11-21T10:00:00Z', resources: ['arn:aws:events:::rule/x'], detail: {} },
      { kind: 'scheduled', time: Date.parse('2026-11-21T10:00:00Z') },
    ],
    [
      'an alarm state change through EventBridge names the cluster of its metric',
      {
        source: 'aws.cloudwatch',
        'detail-type': 'CloudWatch Alarm State Change',
        time: '2026-11-21T10:00:00Z',
        detail: { alarmName: 'pgfloat-no-leader', state: { value: 'ALARM' }, configuration: { metrics: [metric('pgfloat/orders')] } },
      },
      { kind: 'alarm', alarmName: 'pgfloat-no-leader', clusters: [{ namespace: 'pgfloat', scope: 'orders' }] },
    ],
    [
      'an alarm action invoking the function directly, with no cluster dimension, covers all clusters',
      { source: 'aws.cloudwatch', alarmArn: 'arn:aws:cloudwatch:::alarm:x', alarmData: { alarmName: 'x', state: { value: 'ALARM' } } },
      { kind: 'alarm', alarmName: 'x', clusters: 'all' },
    ],
    ['a direct call naming a cluster', { action: 'tick', cluster: 'pgfloat/orders' }, { kind: 'direct', cluster: { namespace: 'pgfloat', scope: 'orders' }, ticks: 5 }],
    [
      "an agent's wake naming its cluster, itself and why",
      { action: 'wake', cluster: 'pgfloat/orders', member: 'node2', reason: 'leader-stale' },
      { kind: 'wake', cluster: { namespace: 'pgfloat', scope: 'orders' }, member: 'node2', reason: 'leader-stale' },
    ],
  ];
  for (const [name, event, expected] of cases) {
    test(`accepts ${name}`, () => {
      // Act
      const parsed = parseArbiterEvent(event);
      // Assess
      assert.deepEqual(parsed, expected);
    });
  }

  test('rejects a direct call with too many ticks, naming the field', () => {
    // Act + Assess
    assert.throws(() => parseArbiterEvent({ action: 'tick', cluster: 'pgfloat/orders', ticks: 1000 }), (err: unknown) => err instanceof InvalidArbiterEventError && /direct: ticks/.test(err.message));
  });

  test('rejects a wake without a member or with a reason that is not a short code, naming the field', () => {
    // Act + Assess
    assert.throws(() => parseArbiterEvent({ action: 'wake', cluster: 'pgfloat/orders', reason: 'leader-stale' }), /wake: member/);
    assert.throws(() => parseArbiterEvent({ action: 'wake', cluster: 'pgfloat/orders', member: 'node2', reason: 'a b' }), /wake: reason: a short code/);
    assert.throws(() => parseArbiterEvent({ action: 'wake', cluster: 'orders', member: 'node2', reason: 'x' }), /wake: cluster/);
  });

  test('a scheduled invocation runs as the shard loop until what Lambda grants ends, past the next schedule, succeeding earlier ones', () => {
    // Prepare
    const time = Date.parse('2026-11-21T10:00:00Z');
    // Act
    const plan = planInvocation({ kind: 'scheduled', time }, time + 300, 130_000, settings);
    const tight = planInvocation({ kind: 'scheduled', time }, time + 300, 20_000, settings);
    // Assess
    assert.deepEqual(plan, { clusters: 'all', runUntil: time + 300 + 130_000 - 1500, whenHeld: 'succeed', schedule: time });
    assert.ok(plan.runUntil > time + 60_000, 'it outlasts the next schedule, so a late successor finds it running');
    assert.equal(tight.runUntil, time + 300 + 20_000 - 1500);
  });

  test('a wake plans a full loop that watches a held lease instead of succeeding it', () => {
    // Act
    const plan = planInvocation({ kind: 'wake', cluster: { namespace: 'pgfloat', scope: 'orders' }, member: 'node2', reason: 'leader-stale' }, 1000, 130_000, settings);
    // Assess
    assert.deepEqual(plan, { clusters: 'all', runUntil: 1000 + 130_000 - 1500, whenHeld: 'watch' });
  });

  test('an alarm asks for a few ticks and does not wait for a running loop', () => {
    // Act
    const plan = planInvocation({ kind: 'alarm', alarmName: 'x', clusters: 'all' }, 0, 60_000, settings);
    // Assess
    assert.deepEqual([plan.whenHeld, plan.maxTicks, plan.schedule], ['return', 5, undefined]);
  });

  test('settings name the variable and the fix when the table is missing', () => {
    // Act + Assess
    assert.throws(() => arbiterSettings({}), /PGFLOAT_TABLE: .*fix the function's environment variables/);
    assert.equal(arbiterSettings({ PGFLOAT_TABLE: 'pgfloat' }).PGFLOAT_TICK_MS, 1000);
  });

  test('the loop lease defaults to three ticks and must be at least two', () => {
    // Act + Assess
    assert.equal(arbiterSettings({ PGFLOAT_TABLE: 'pgfloat' }).PGFLOAT_LOOP_LEASE_MS, 3000);
    assert.equal(arbiterSettings({ PGFLOAT_TABLE: 'pgfloat', PGFLOAT_TICK_MS: '200' }).PGFLOAT_LOOP_LEASE_MS, 600);
    assert.equal(arbiterSettings({ PGFLOAT_TABLE: 'pgfloat', PGFLOAT_LOOP_LEASE_MS: '5000' }).PGFLOAT_LOOP_LEASE_MS, 5000);
    assert.throws(() => arbiterSettings({ PGFLOAT_TABLE: 'pgfloat', PGFLOAT_LOOP_LEASE_MS: '1500' }), /PGFLOAT_LOOP_LEASE_MS \(1500\) must be at least two ticks/);
  });
});
