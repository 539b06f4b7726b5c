// Keys of the single DynamoDB table. One partition per cluster,
// pk = "<namespace>/<scope>", one item per sort key. Leadership history lives
// in a sibling partition, pk = "<namespace>/<scope>#history", so reading a
// cluster costs the same after ten thousand failovers as after one.
import { z } from 'zod';

export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
export const NAMESPACE_PATTERN = /^[A-Za-z0-9_.-][A-Za-z0-9_./-]{0,62}$/;

export const clusterIdSchema = z.object({
  namespace: z
    .string()
    .regex(NAMESPACE_PATTERN, 'namespace: 1-63 of A-Z a-z 0-9 _ . - / (fix: e.g. "pgfloat")'),
  scope: z
    .string()
    .regex(NAME_PATTERN, 'scope: 1-63 of A-Z a-z 0-9 _ . -, starting with a letter or digit (fix: e.g. "orders")'),
});
export type ClusterId = Readonly<z.infer<typeof clusterIdSchema>>;

export const memberNameSchema = z
  .string()
  .regex(NAME_PATTERN, 'member name: 1-63 of A-Z a-z 0-9 _ . -, starting with a letter or digit');

export const SK = {
  initialize: 'initialize',
  config: 'config',
  leader: 'leader',
  failover: 'failover',
  sync: 'sync',
  arbiter: 'arbiter',
  endpoint: 'endpoint',
} as const;

export const MEMBER_PREFIX = 'member#';
export const HISTORY_PREFIX = 'history#';
const HISTORY_PARTITION_SUFFIX = '#history';
const TERM_DIGITS = 12;

export function clusterPk(c: ClusterId): string {
  return `${c.namespace}/${c.scope}`;
}

export function historyPk(c: ClusterId): string {
  return `${clusterPk(c)}${HISTORY_PARTITION_SUFFIX}`;
}

export function memberSk(name: string): string {
  return `${MEMBER_PREFIX}${name}`;
}

/** Zero-padded so that history rows sort by term. */
export function historySk(term: number): string {
  return `${HISTORY_PREFIX}${String(term).padStart(TERM_DIGITS, '0')}`;
}

/** The cluster a state partition key names; null for any other partition. */
export function parseClusterPk(pk: string): ClusterId | null {
  if (pk.endsWith(HISTORY_PARTITION_SUFFIX)) return null;
  const slash = pk.lastIndexOf('/');
  if (slash <= 0) return null;
  const parsed = clusterIdSchema.safeParse({ namespace: pk.slice(0, slash), scope: pk.slice(slash + 1) });
  return parsed.success ? parsed.data : null;
}

export function clusterLabel(c: ClusterId): string {
  return clusterPk(c);
}
