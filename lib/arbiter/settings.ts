// The arbiter function's settings, from its environment, validated.
import { z } from 'zod';
import { InvalidArbiterSettingsError } from './errors.js';

const ms = (min: number, max: number, dflt: number) => z.coerce.number().int().min(min).max(max).default(dflt);

export const arbiterSettingsSchema = z.object({
  PGFLOAT_TABLE: z.string().regex(/^[A-Za-z0-9_.-]{3,255}$/, 'the DynamoDB table name of the store'),
  /** DynamoDB Local, for local clusters and tests; unset on AWS. */
  PGFLOAT_DYNAMODB_ENDPOINT: z.url().optional(),
  /** This arbiter's shard: owner of the per-cluster leases and name of its loop lease. */
  PGFLOAT_SHARD: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/).default('shard-0'),
  PGFLOAT_TICK_MS: ms(50, 10_000, 1000),
  PGFLOAT_CLUSTER_LEASE_MS: ms(500, 120_000, 10_000),
  /**
   * The shard's loop lease, renewed every tick: how long a dead invocation
   * keeps the shard before a waiting invocation takes over. Default 3 ticks;
   * at least 2, so one slow renew does not lose it.
   */
  PGFLOAT_LOOP_LEASE_MS: z.coerce.number().int().min(100).max(120_000).optional(),
  PGFLOAT_SCHEDULE_PERIOD_MS: ms(1000, 3_600_000, 60_000),
  PGFLOAT_HANDOVER_MARGIN_MS: ms(0, 60_000, 1500),
  PGFLOAT_STEP_TIMEOUT_MS: ms(100, 60_000, 3000),
  PGFLOAT_METRICS_EVERY_MS: ms(0, 3_600_000, 10_000),
});
export type ArbiterSettings = Omit<z.infer<typeof arbiterSettingsSchema>, 'PGFLOAT_LOOP_LEASE_MS'> & { readonly PGFLOAT_LOOP_LEASE_MS: number };

/** The loop lease, in ticks, when PGFLOAT_LOOP_LEASE_MS is not set. */
export const LOOP_LEASE_TICKS = 3;

export function arbiterSettings(env: Record<string, string | undefined>): ArbiterSettings {
  const r = arbiterSettingsSchema.safeParse(env);
  if (!r.success) {
    const what = r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new InvalidArbiterSettingsError(`arbiter environment is invalid: ${what} (fix the function's environment variables)`);
  }
  const tick = r.data.PGFLOAT_TICK_MS;
  const loopLease = r.data.PGFLOAT_LOOP_LEASE_MS ?? LOOP_LEASE_TICKS * tick;
  if (loopLease < 2 * tick) {
    throw new InvalidArbiterSettingsError(
      `arbiter environment is invalid: PGFLOAT_LOOP_LEASE_MS (${loopLease}) must be at least two ticks (PGFLOAT_TICK_MS ${tick}): it is renewed once a tick (fix the function's environment variables)`,
    );
  }
  return { ...r.data, PGFLOAT_LOOP_LEASE_MS: loopLease };
}
