// The items of a cluster partition, as zod schemas. Every item is parsed with
// these when read and before it is written. `version` is the item's CAS
// token: it starts at 1 and every write of the item adds one.
// Times (`*At`) are epoch milliseconds of the writer's clock: shown to
// operators, never compared across machines by a decision.
import { z } from 'zod';
import { memberNameSchema } from './keys.js';

const version = z.number().int().min(1);
const lsn = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const epochMs = z.number().int().min(0);
const timeline = z.number().int().min(0);

/**
 * The bootstrap race: the first agent to create it runs initdb, then records
 * the new PostgreSQL system identifier (absent until then).
 */
export const initializeSchema = z.object({
  systemId: z.string().regex(/^\d{1,20}$/, 'systemId: the PostgreSQL system identifier, digits only').optional(),
  initializedBy: memberNameSchema,
  version,
});
export type InitializeItem = Readonly<z.infer<typeof initializeSchema>>;

export const endpointConfigSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('none') }),
  z.object({ kind: z.literal('elastic-ip'), allocationId: z.string().regex(/^eipalloc-[0-9a-f]+$/) }),
  z.object({ kind: z.literal('private-ip'), address: z.ipv4() }),
  z.object({
    kind: z.literal('route53'),
    hostedZoneId: z.string().regex(/^Z[A-Z0-9]+$/),
    recordName: z.string().min(1),
    ttl: z.number().int().min(1).max(86400).default(5),
    waitForSync: z.boolean().default(false),
  }),
  z.object({
    kind: z.literal('local-proxy'),
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(1).max(65535),
  }),
]);
export type EndpointConfig = z.infer<typeof endpointConfigSchema>;

const pgParameterValue = z.union([z.string(), z.number(), z.boolean()]);

const permanentSlotSchema = z.object({
  type: z
    .literal('physical', { error: (i) => `type ${JSON.stringify(i.input)} is not supported: permanent slots are physical only (logical slots are not supported)` })
    .default('physical'),
});

/** Cluster-wide settings, Patroni's dynamic configuration in camelCase. Seconds and bytes. */
export const clusterConfigSchema = z
  .object({
    ttl: z.number().positive().default(10),
    loopWait: z.number().positive().default(2),
    retryTimeout: z.number().positive().default(4),
    maximumLagOnFailover: z.number().int().min(0).default(1024 * 1024),
    synchronousMode: z.boolean().default(false),
    synchronousModeStrict: z.boolean().default(false),
    synchronousNodeCount: z.number().int().min(1).default(1),
    paused: z.boolean().default(false),
    /**
     * Patroni's failsafe_mode: a primary that cannot reach the store keeps its
     * role while every member of its failsafe set (the leader item's
     * `failsafe`) promises, over the agent API, not to promote.
     */
    failsafeMode: z.boolean().default(false),
    endpoint: endpointConfigSchema.default({ kind: 'none' }),
    /**
     * Patroni's permanent_slots, physical only: slots the primary keeps (and
     * creates when missing) whether or not a member streams through them.
     */
    permanentSlots: z.record(z.string().regex(/^[a-z0-9_]{1,63}$/, 'a slot name is 1-63 of a-z 0-9 _'), permanentSlotSchema).optional(),
    /**
     * Seconds a member's heartbeat may stay unchanged before the primary drops
     * its slot (and a slot of no member is dropped after being listed this
     * long); absent: max(1800, 10 * ttl).
     */
    slotGracePeriod: z.number().positive().optional(),
    postgresql: z
      .object({ parameters: z.record(z.string(), pgParameterValue).default({}) })
      .default({ parameters: {} }),
  })
  .superRefine((c, ctx) => {
    if (c.loopWait + 2 * c.retryTimeout > c.ttl) {
      ctx.addIssue({
        code: 'custom',
        path: ['ttl'],
        message: `ttl (${c.ttl}) must be at least loopWait + 2 * retryTimeout (${c.loopWait + 2 * c.retryTimeout}): raise ttl or lower loopWait/retryTimeout`,
      });
    }
  });
export type ClusterConfig = z.infer<typeof clusterConfigSchema>;
export const DEFAULT_CONFIG: ClusterConfig = clusterConfigSchema.parse({});

export const configSchema = z.object({ config: clusterConfigSchema, version });
export type ConfigItem = Readonly<z.infer<typeof configSchema>>;

/**
 * granted  -> the arbiter chose `holder` for `term`; it must promote, then confirm.
 * active   -> `holder` runs as primary and renews.
 * handover -> the arbiter asked `holder` to hand over to `candidate` (switchover).
 * demoted  -> `holder` stopped taking writes; `finalLsn` is its last WAL position.
 * released -> `holder` let the lease go (clean shutdown); anyone may be granted at once.
 */
export const LEADER_PHASES = ['granted', 'active', 'handover', 'demoted', 'released'] as const;
export type LeaderPhase = (typeof LEADER_PHASES)[number];

export const leaderSchema = z.object({
  holder: memberNameSchema,
  term: z.number().int().min(1),
  phase: z.enum(LEADER_PHASES),
  lastLsn: lsn,
  timeline,
  previous: memberNameSchema.nullable(),
  reason: z.string(),
  candidate: memberNameSchema.optional(),
  finalLsn: lsn.optional(),
  /**
   * failsafe_mode: the members the holder of this term asks, when the store is
   * out of its reach, to promise not to promote. Written by its renews; no
   * other member may be granted while it stands.
   */
  failsafe: z.array(memberNameSchema).optional(),
  /**
   * Maintenance mode: the holder renewed while paused and no longer fences
   * PostgreSQL (its fence keeper and timer are off). No automatic grant while
   * it stands; every renew writes it, so a renew out of pause clears it, and
   * only after the holder's fence is armed again.
   */
  unfenced: z.boolean().optional(),
  version,
});
export type LeaderItem = Readonly<z.infer<typeof leaderSchema>>;

export const MEMBER_ROLES = ['primary', 'replica', 'uninitialized'] as const;
export const MEMBER_STATES = [
  'running',
  'starting',
  'stopping',
  'stopped',
  'crashed',
  'initializing',
  'cloning',
  'rewinding',
  'demoting',
  'unknown',
] as const;

export const memberTagsSchema = z.object({
  nofailover: z.boolean().default(false),
  failoverPriority: z.number().int().min(0).default(1),
  nosync: z.boolean().default(false),
  noloadbalance: z.boolean().default(false),
});
export type MemberTags = z.infer<typeof memberTagsSchema>;

export const memberStatusSchema = z.object({
  name: memberNameSchema,
  role: z.enum(MEMBER_ROLES),
  state: z.enum(MEMBER_STATES),
  timeline,
  /** Primary: current write position. Replica: the furthest of received and replayed. */
  lsn: lsn.nullable(),
  /** Replica: last replayed position. */
  replayLsn: lsn.nullable().default(null),
  tags: memberTagsSchema.default({ nofailover: false, failoverPriority: 1, nosync: false, noloadbalance: false }),
  connUrl: z.string(),
  apiUrl: z.string(),
  systemId: z.string().nullable().default(null),
  instanceId: z.string().optional(),
  networkInterfaceId: z.string().optional(),
  privateIp: z.string().optional(),
  /** failsafe_mode: this member promised `holder` (of `term`) not to promote, and the promise still holds. */
  failsafe: z.object({ holder: memberNameSchema, term: z.number().int().min(1) }).optional(),
  /** This member's pre_promote script refused a promotion lately: the arbiter grants it nothing while it says so. */
  promotionVetoed: z.boolean().optional(),
  /** Store calls of this agent that failed (unreachable, timed out) since it started. */
  storeErrors: z.number().int().min(0).optional(),
  /** The node's memory, bytes: bounds what edit-config accepts for shared_buffers. */
  memoryBytes: z.number().int().min(0).optional(),
  /** A running replica's WAL receiver (pg_stat_wal_receiver.status), `none` when it has none. */
  receiver: z.string().max(32).optional(),
  /** server_version_num of the running server. */
  serverVersion: z.number().int().min(0).optional(),
  agentVersion: z.string().max(40).optional(), // the agent's pgfloat version
  /** Parameters changed in the files whose new value waits for a restart. */
  pendingRestart: z.array(z.string().max(200)).max(400).optional(),
  /** pg_rewind against the current leader failed every attempt: the node waits for an operator (pgfloat reinit). */
  rewindFailed: z.boolean().optional(),
  /** The primary's permanent slots and their restart_lsn: the positions replicas advance their copies to. */
  permanentSlotLsns: z.record(z.string().max(63), lsn).optional(),
  /** Cluster-wide parameters this node refused to write, with why. */
  parameterProblems: z.array(z.string().max(1000)).max(400).optional(),
  /** The primary's largest WAL retention over its replication slots, bytes. */
  slotRetainedBytes: z.number().int().min(0).optional(),
  heartbeatAt: epochMs,
});
export type MemberStatus = z.infer<typeof memberStatusSchema>;

export const memberSchema = memberStatusSchema.extend({ version });
export type MemberItem = Readonly<z.infer<typeof memberSchema>>;

export const failoverRequestSchema = z
  .object({
    kind: z.enum(['switchover', 'failover']),
    /** The leader the operator saw; the request is void if someone else leads. */
    from: memberNameSchema.optional(),
    /** The member to promote; absent lets the arbiter choose. */
    to: memberNameSchema.optional(),
    scheduledAt: epochMs.optional(),
    /** failover only: the operator stopped the holder's PostgreSQL, so a lease held unfenced (paused) may be taken. */
    holderStopped: z.boolean().optional(),
    requestedAt: epochMs,
    requestedBy: z.string().default('unknown'),
  })
  .superRefine((r, ctx) => {
    if (r.kind === 'failover' && r.to === undefined) {
      ctx.addIssue({ code: 'custom', path: ['to'], message: 'a failover names its candidate: set to' });
    }
  });
export type FailoverRequest = z.infer<typeof failoverRequestSchema>;
export const failoverSchema = z.object({ request: failoverRequestSchema, version });
export type FailoverItem = Readonly<z.infer<typeof failoverSchema>>;

export const syncStateSchema = z.object({
  leader: memberNameSchema,
  term: z.number().int().min(1),
  standbys: z.array(memberNameSchema),
});
export type SyncState = z.infer<typeof syncStateSchema>;
export const syncSchema = syncStateSchema.extend({ version });
export type SyncItem = Readonly<z.infer<typeof syncSchema>>;

export const HISTORY_KINDS = ['bootstrap', 'failover', 'switchover', 'manual-failover', 'release'] as const;
export const historyEntrySchema = z.object({
  term: z.number().int().min(1),
  kind: z.enum(HISTORY_KINDS),
  from: memberNameSchema.nullable(),
  to: memberNameSchema,
  reason: z.string(),
  lsn,
  timeline,
  grantedAt: epochMs,
  promotedAt: epochMs.optional(),
  endpointMovedAt: epochMs.optional(),
});
export type HistoryEntry = z.infer<typeof historyEntrySchema>;
export const historySchema = historyEntrySchema.extend({ version });
export type HistoryItem = Readonly<z.infer<typeof historySchema>>;
export const HISTORY_STEPS = ['promotedAt', 'endpointMovedAt'] as const;
export type HistoryStep = (typeof HISTORY_STEPS)[number];

/** What the arbiter saw, by its own clock: the first time it saw each version. */
export const observationSchema = z.object({ version, seenAt: epochMs });
export const arbiterStateSchema = z.object({
  owner: z.string().min(1),
  leaseExpiresAt: epochMs,
  leader: observationSchema.extend({ term: z.number().int().min(1) }).nullable(),
  members: z.record(memberNameSchema, observationSchema),
  /** The pending switchover or failover request, first seen at. */
  request: observationSchema.nullable().optional(),
  /** Loop lease only: the scheduled time of the holder's invocation (absent: a wake, an alarm or a direct call). */
  schedule: epochMs.optional(),
  /** Loop lease only: arbiter time at which the shard's loop last renewed its lease, at the start of a tick. */
  lastTickAt: epochMs.optional(),
  /** Loop lease only: a scheduled invocation waiting to take over; the holder hands over when it sees it. */
  successor: z.object({ owner: z.string().min(1), schedule: epochMs, at: epochMs }).optional(),
});
export type ArbiterState = z.infer<typeof arbiterStateSchema>;
export const arbiterSchema = arbiterStateSchema.extend({ version });
export type ArbiterItem = Readonly<z.infer<typeof arbiterSchema>>;

export const endpointRecordSchema = z.object({
  member: memberNameSchema,
  term: z.number().int().min(1),
  /** What the endpoint now points at: a network interface, an address, a record value. */
  target: z.string(),
  movedAt: epochMs,
});
export type EndpointRecord = z.infer<typeof endpointRecordSchema>;
export const endpointSchema = endpointRecordSchema.extend({ version });
export type EndpointItem = Readonly<z.infer<typeof endpointSchema>>;
