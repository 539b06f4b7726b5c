import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidArbiterEventError } from '../../lib/arbiter/errors.js';
import { parseArbiterEvent, planInvocation } from '../../lib/arbiter/events.js';
import { arbiterSettings } from '../../lib/arbiter/settings.js';

const settings = { tickMs: 1000, schedulePeriodMs: 60_000, handoverMarginMs: 1500 };
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

  test('a scheduled invocation runs until just before the next one, within what Lambda grants', () => {
    // Prepare
    const time = Date.parse('2026-11-21T10:00:00Z');
    // Act
    const roomy = planInvocation({ kind: 'scheduled', time }, time + 300, 900_000, settings);
    const tight = planInvocation({ kind: 'scheduled', time }, time + 300, 20_000, settings);
    // Assess
    assert.deepEqual(roomy, { clusters: 'all', runUntil: time + 60_000 - 1500, waitForLease: true });
    assert.equal(tight.runUntil, time + 300 + 20_000 - 1500);
  });

  test('an alarm asks for a few ticks and does not wait for a running loop', () => {
    // Act
    const plan = planInvocation({ kind: 'alarm', alarmName: 'x', clusters: 'all' }, 0, 60_000, settings);
    // Assess
    assert.deepEqual([plan.waitForLease, plan.maxTicks], [false, 5]);
  });

  test('settings name the variable and the fix when the table is missing', () => {
    // Act + Assess
    assert.throws(() => arbiterSettings({}), /PGFLOAT_TABLE: .*fix the function's environment variables/);
    assert.equal(arbiterSettings({ PGFLOAT_TABLE: 'pgfloat' }).PGFLOAT_TICK_MS, 1000);
  });
});
