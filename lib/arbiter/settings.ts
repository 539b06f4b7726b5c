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
  PGFLOAT_LOOP_LEASE_MS: ms(500, 120_000, 10_000),
  PGFLOAT_SCHEDULE_PERIOD_MS: ms(1000, 3_600_000, 60_000),
  PGFLOAT_HANDOVER_MARGIN_MS: ms(0, 60_000, 1500),
  PGFLOAT_STEP_TIMEOUT_MS: ms(100, 60_000, 3000),
  PGFLOAT_METRICS_EVERY_MS: ms(0, 3_600_000, 10_000),
});
export type ArbiterSettings = z.infer<typeof arbiterSettingsSchema>;

export function arbiterSettings(env: Record<string, string | undefined>): ArbiterSettings {
  const r = arbiterSettingsSchema.safeParse(env);
  if (!r.success) {
    const what = r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new InvalidArbiterSettingsError(`arbiter environment is invalid: ${what} (fix the function's environment variables)`);
  }
  return r.data;
}
