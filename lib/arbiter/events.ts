// The events the arbiter function accepts, and what each asks of it.
// Anything else is rejected before anything is read or written.
import { z } from 'zod';
import { memberNameSchema, parseClusterPk, type ClusterId } from '../dcs/keys.js';
import { InvalidArbiterEventError } from './errors.js';
import type { WhenHeld } from './loop.js';

const clusterRef = z.string().transform((s, ctx) => {
  const c = parseClusterPk(s);
  if (c === null) {
    ctx.addIssue({ code: 'custom', message: `"${s}" is not a cluster: write "<namespace>/<scope>", e.g. "pgfloat/orders"` });
    return z.NEVER;
  }
  return c;
});

/** EventBridge schedule (rate(1 minute)). */
export const scheduledEventSchema = z.object({
  source: z.literal('aws.events'),
  'detail-type': z.literal('Scheduled Event'),
  id: z.string(),
  time: z.iso.datetime(),
  resources: z.array(z.string()).default([]),
});

const alarmMetrics = z
  .array(
    z.object({
      metricStat: z
        .object({ metric: z.object({ dimensions: z.record(z.string(), z.string()).default({}) }).loose() })
        .loose()
        .optional(),
    }).loose(),
  )
  .default([]);
const alarmState = z.object({ value: z.enum(['OK', 'ALARM', 'INSUFFICIENT_DATA']) }).loose();

/** A CloudWatch alarm state change delivered by EventBridge. */
export const alarmEventSchema = z.object({
  source: z.literal('aws.cloudwatch'),
  'detail-type': z.literal('CloudWatch Alarm State Change'),
  time: z.iso.datetime(),
  detail: z
    .object({
      alarmName: z.string(),
      state: alarmState,
      configuration: z.object({ metrics: alarmMetrics }).loose().optional(),
    })
    .loose(),
});

/** A CloudWatch alarm invoking the function directly (alarm Lambda action). */
export const alarmActionEventSchema = z.object({
  source: z.literal('aws.cloudwatch'),
  alarmArn: z.string(),
  time: z.iso.datetime().optional(),
  alarmData: z
    .object({
      alarmName: z.string(),
      state: alarmState,
      configuration: z.object({ metrics: alarmMetrics }).loose().optional(),
    })
    .loose(),
});

/** An operator or agent asking for prompt ticks of one cluster: `{"action":"tick","cluster":"pgfloat/orders"}`. */
export const directEventSchema = z.object({
  action: z.literal('tick'),
  cluster: clusterRef,
  ticks: z.number().int().min(1).max(60).default(5),
});

/**
 * An agent waking the arbiter out of schedule (its leader looks stale, a
 * grant is pending): `{"action":"wake","cluster":"pgfloat/orders","member":"node2","reason":"leader-stale"}`.
 * Sent as an asynchronous Lambda invocation (InvocationType Event). It runs a
 * full loop when the shard's loop is not running, and returns at once when it is.
 */
export const wakeEventSchema = z.object({
  action: z.literal('wake'),
  cluster: clusterRef,
  member: memberNameSchema,
  /** Why the agent woke the arbiter, a short code for the logs, e.g. "leader-stale". */
  reason: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, 'a short code: letters, digits, "_", ".", ":", "-", at most 64'),
});

export type ArbiterEvent =
  | { readonly kind: 'scheduled'; readonly time: number }
  | { readonly kind: 'alarm'; readonly alarmName: string; readonly clusters: readonly ClusterId[] | 'all' }
  | { readonly kind: 'direct'; readonly cluster: ClusterId; readonly ticks: number }
  | { readonly kind: 'wake'; readonly cluster: ClusterId; readonly member: string; readonly reason: string };

function alarmClusters(metrics: z.infer<typeof alarmMetrics> | undefined): readonly ClusterId[] | 'all' {
  const named = (metrics ?? [])
    .map((m) => m.metricStat?.metric.dimensions.Cluster)
    .filter((x): x is string => x !== undefined)
    .map(parseClusterPk)
    .filter((c): c is ClusterId => c !== null);
  return named.length > 0 ? named : 'all';
}

/** Parses the Lambda event, or throws InvalidArbiterEventError naming what is wrong and what is accepted. */
export function parseArbiterEvent(event: unknown): ArbiterEvent {
  const tries = [
    ['scheduled', scheduledEventSchema],
    ['alarm', alarmEventSchema],
    ['alarm action', alarmActionEventSchema],
    ['direct', directEventSchema],
    ['wake', wakeEventSchema],
  ] as const;
  const problems: string[] = [];
  for (const [name, schema] of tries) {
    const r = schema.safeParse(event);
    if (!r.success) {
      problems.push(`${name}: ${r.error.issues.map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`).join('; ')}`);
      continue;
    }
    const d = r.data;
    if ('detail-type' in d && d.source === 'aws.events') return { kind: 'scheduled', time: Date.parse(d.time) };
    if ('detail' in d) return { kind: 'alarm', alarmName: d.detail.alarmName, clusters: alarmClusters(d.detail.configuration?.metrics) };
    if ('alarmData' in d) return { kind: 'alarm', alarmName: d.alarmData.alarmName, clusters: alarmClusters(d.alarmData.configuration?.metrics) };
    if ('action' in d && d.action === 'wake') return { kind: 'wake', cluster: d.cluster, member: d.member, reason: d.reason };
    if ('action' in d && d.action === 'tick') return { kind: 'direct', cluster: d.cluster, ticks: d.ticks };
  }
  throw new InvalidArbiterEventError(
    `the arbiter accepts an EventBridge scheduled event, a CloudWatch alarm state change, {"action":"tick","cluster":"<namespace>/<scope>"} or {"action":"wake","cluster":"<namespace>/<scope>","member":"<name>","reason":"<code>"}; this event is none of them (${problems.join(' | ')})`,
  );
}

/** An alarm asks for prompt attention: a few ticks, then the schedule carries on. */
export const ALARM_TICKS = 5;

export interface InvocationPlan {
  readonly clusters: readonly ClusterId[] | 'all';
  readonly runUntil: number;
  readonly whenHeld: WhenHeld;
  /** A scheduled invocation's scheduled time: it succeeds invocations of earlier schedules. */
  readonly schedule?: number;
  readonly maxTicks?: number;
}

export interface PlanSettings {
  readonly tickMs: number;
  /** Left at the end of what Lambda grants, for the last tick's writes and the hand-over. */
  readonly handoverMarginMs: number;
}

/**
 * What an invocation does and until when; `remainingMs` is what Lambda grants it.
 * A scheduled invocation and a wake run as the shard's loop until a successor
 * takes over (a scheduled invocation of a later schedule) or their time runs
 * out: the function's timeout, not the schedule, bounds them, so a late
 * successor finds the loop still running.
 */
export function planInvocation(event: ArbiterEvent, now: number, remainingMs: number, s: PlanSettings): InvocationPlan {
  const hardStop = now + remainingMs - s.handoverMarginMs;
  switch (event.kind) {
    case 'scheduled':
      return { clusters: 'all', runUntil: hardStop, whenHeld: 'succeed', schedule: event.time };
    case 'wake':
      return { clusters: 'all', runUntil: hardStop, whenHeld: 'watch' };
    case 'alarm':
      return { clusters: event.clusters, runUntil: hardStop, whenHeld: 'return', maxTicks: ALARM_TICKS };
    case 'direct':
      return { clusters: [event.cluster], runUntil: hardStop, whenHeld: 'return', maxTicks: event.ticks };
  }
}
