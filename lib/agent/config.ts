// The agent's configuration file (YAML). Key names follow Patroni's where the
// concept is the same. Every mapping is closed: an unknown key is an error, as
// is a value out of its range. Errors name the key's YAML path and the fix.
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { totalmem } from 'node:os';
import { z } from 'zod';
import { checkParameters } from '../postgres/parameters.js';
import { clusterConfigSchema, DEFAULT_CONFIG, endpointConfigSchema } from '../dcs/items.js';
import { memberNameSchema, NAME_PATTERN, NAMESPACE_PATTERN } from '../dcs/keys.js';
import { validate, yamlSyntaxMessage } from './config-errors.js';

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):(\d+)$/;

/** host:port with a TCP port 1-65535; key is the YAML path, example a valid value. */
const hostPort = (key: string, example: string) =>
  z.string({ error: (iss) => (iss.input === undefined ? undefined : `${key}: write host:port, e.g. ${example}`) }).superRefine((s, ctx) => {
    const m = HOST_PORT.exec(s);
    if (m === null) {
      ctx.addIssue({ code: 'custom', message: `${key}: write host:port, e.g. ${example}` });
      return;
    }
    const port = Number(m[2]);
    if (!(port >= 1 && port <= 65535)) {
      ctx.addIssue({ code: 'custom', message: `${key}: port ${m[2]} is not a TCP port (1-65535), e.g. ${example}` });
    }
  });

const credentials = z.strictObject({
  username: z.string().min(1, 'a role name, e.g. postgres'),
  password: z.string().default(''),
});

// Unix socket paths are limited to 107 bytes; the longest this directory holds is "/.s.PGSQL.65535" (15).
const SOCKET_DIR_MAX = 107 - '/.s.PGSQL.65535'.length;

/** An absolute path to an executable; key is the YAML path. */
const scriptPath = (key: string) =>
  z.string({ error: (iss) => (iss.input === undefined ? undefined : `${key}: an absolute path to an executable, e.g. /usr/local/bin/pg-hook`) }).startsWith('/', `${key}: an absolute path to an executable, e.g. /usr/local/bin/pg-hook`);

const pgParameter = z.union([z.string(), z.number(), z.boolean()], {
  error: 'a string, number or boolean, e.g. shared_buffers: 1GB',
});

const [epNone, epElasticIp, epPrivateIp, epRoute53, epLocalProxy] = endpointConfigSchema.options;
const ENDPOINT_KINDS = endpointConfigSchema.options.map((o) => o.shape.kind.value).join(', ');
/** The store's endpoint config, each kind closed to the keys it declares. */
const endpointSchema = z.discriminatedUnion(
  'kind',
  [epNone.strict(), epElasticIp.strict(), epPrivateIp.strict(), epRoute53.strict(), epLocalProxy.strict()],
  { error: (iss) => (iss.code === 'invalid_union' ? `one of ${ENDPOINT_KINDS}, e.g. { kind: elastic-ip, allocationId: eipalloc-0123456789abcdef0 }` : undefined) },
);

const bootstrapDcs = z
  .strictObject({
    ttl: z.number().positive().optional(),
    loop_wait: z.number().positive().optional(),
    retry_timeout: z.number().positive().optional(),
    maximum_lag_on_failover: z.number().int().min(0).optional(),
    synchronous_mode: z.boolean().optional(),
    synchronous_mode_strict: z.boolean().optional(),
    synchronous_node_count: z.number().int().min(1).optional(),
    failsafe_mode: z.boolean().optional(),
    endpoint: endpointSchema.optional(),
    /** Physical slots every node that may promote keeps (Patroni's permanent_slots): name -> { type: physical }. */
    permanent_slots: z.record(z.string(), z.unknown()).optional(),
    /** Seconds a departed member's slot is kept before the primary drops it. */
    slot_grace_period: z.number().positive().optional(),
    /** The cluster-wide parameters the first config item holds (later: pgfloat edit-config --pg). */
    postgresql: z
      .strictObject({
        parameters: z
          .record(z.string(), pgParameter)
          .default({})
          .superRefine((params, ctx) => {
            for (const p of checkParameters(params, { source: 'cluster' }).problems) ctx.addIssue({ code: 'custom', path: [p.name], message: p.message });
          }),
      })
      .optional(),
  })
  .superRefine((d, ctx) => {
    const ttl = d.ttl ?? DEFAULT_CONFIG.ttl;
    const loopWait = d.loop_wait ?? DEFAULT_CONFIG.loopWait;
    const retryTimeout = d.retry_timeout ?? DEFAULT_CONFIG.retryTimeout;
    if (loopWait + 2 * retryTimeout > ttl) {
      ctx.addIssue({
        code: 'custom',
        path: ['ttl'],
        message: `ttl ${ttl} is less than loop_wait + 2 * retry_timeout (${loopWait} + 2 * ${retryTimeout}): raise ttl or lower loop_wait/retry_timeout`,
      });
    }
  });

export const agentConfigSchema = z.strictObject({
  scope: z.string().regex(NAME_PATTERN, 'scope: the cluster name, 1-63 of A-Z a-z 0-9 _ . -'),
  namespace: z.string().regex(NAMESPACE_PATTERN, 'namespace: 1-63 of A-Z a-z 0-9 _ . - /').default('pgfloat'),
  name: memberNameSchema,
  dcs: z.strictObject({
    table: z.string().regex(/^[A-Za-z0-9_.-]{3,255}$/, 'dcs.table: the DynamoDB table of the store'),
    region: z.string().min(1, 'dcs.region: an AWS region, e.g. eu-west-1').optional(),
    /** DynamoDB Local: http://127.0.0.1:8000 */
    endpoint: z.url({ protocol: /^https?$/, error: 'dcs.endpoint: an http(s) URL, e.g. http://127.0.0.1:8000' }).optional(),
  }),
  restapi: z.strictObject({
    listen: hostPort('restapi.listen', '0.0.0.0:8008'),
    connect_address: hostPort('restapi.connect_address', '10.0.1.10:8008'),
    authentication: credentials.optional(),
  }),
  postgresql: z.strictObject({
    data_dir: z.string().startsWith('/', 'postgresql.data_dir: an absolute path'),
    bin_dir: z.string().startsWith('/', 'postgresql.bin_dir: an absolute path').default('/usr/lib/postgresql/15/bin'),
    listen: hostPort('postgresql.listen', '10.0.1.10:5432'),
    connect_address: hostPort('postgresql.connect_address', '10.0.1.10:5432'),
    /** Unix socket directory: at most SOCKET_DIR_MAX bytes, so its socket paths fit in 107. */
    socket_dir: z
      .string()
      .min(1, 'postgresql.socket_dir: a directory, e.g. /run/postgresql')
      .refine((s) => Buffer.byteLength(s) <= SOCKET_DIR_MAX, {
        message: `postgresql.socket_dir: at most ${SOCKET_DIR_MAX} bytes (a Unix socket path is limited to 107), e.g. /run/postgresql`,
      })
      .optional(),
    authentication: z
      .strictObject({
        superuser: credentials.default({ username: 'postgres', password: '' }),
        replication: credentials.default({ username: 'replicator', password: '' }),
      })
      .default({ superuser: { username: 'postgres', password: '' }, replication: { username: 'replicator', password: '' } }),
    /** This node's own parameters, checked as the server checks them; they override the cluster-wide ones. */
    parameters: z
      .record(z.string(), pgParameter)
      .default({})
      .superRefine((params, ctx) => {
        for (const p of checkParameters(params, { source: 'node', memoryBytes: totalmem() }).problems) {
          ctx.addIssue({ code: 'custom', path: [p.name], message: p.message });
        }
      }),
    /** Run PostgreSQL's programs as this OS user when the agent runs as root. */
    os_user: z.string().min(1, 'postgresql.os_user: an OS user name, e.g. postgres').default('postgres'),
    /** pg_hba for a trusted loopback lab (local clusters, tests); on AWS use password authentication. */
    trust_local: z.boolean().default(false),
    /** Patroni's key: after pg_rewind failed every attempt, re-create the node from the leader instead of waiting for an operator. */
    remove_data_directory_on_rewind_failure: z.boolean().default(false),
    /** Patroni's callbacks: each run as `<script> <action> <role> <scope>`, beside the loop, never waited for. */
    callbacks: z
      .strictObject({
        on_start: scriptPath('postgresql.callbacks.on_start').optional(),
        on_stop: scriptPath('postgresql.callbacks.on_stop').optional(),
        on_restart: scriptPath('postgresql.callbacks.on_restart').optional(),
        on_reload: scriptPath('postgresql.callbacks.on_reload').optional(),
        on_role_change: scriptPath('postgresql.callbacks.on_role_change').optional(),
      })
      .default({}),
    /** Run after the lease is taken and the fence armed, before promoting: a non-zero exit or a timeout vetoes the promotion. */
    pre_promote: scriptPath('postgresql.pre_promote').optional(),
    /** Seconds a callback or pre_promote may run before it is killed. */
    callback_timeout: z
      .number('postgresql.callback_timeout: seconds, 1 to 600, e.g. 30')
      .min(1, 'postgresql.callback_timeout: seconds, 1 to 600, e.g. 30')
      .max(600, 'postgresql.callback_timeout: seconds, 1 to 600, e.g. 30')
      .default(30),
  }),
  tags: z
    .strictObject({
      nofailover: z.boolean().default(false),
      failover_priority: z
        .number()
        .int('tags.failover_priority: a whole number, 0 or more (0: never promoted; higher is preferred)')
        .min(0, 'tags.failover_priority: a whole number, 0 or more (0: never promoted; higher is preferred)')
        .default(1),
      nosync: z.boolean().default(false),
      noloadbalance: z.boolean().default(false),
    })
    .default({ nofailover: false, failover_priority: 1, nosync: false, noloadbalance: false }),
  aws: z
    .strictObject({
      instance_id: z.string().min(1).optional(),
      network_interface_id: z.string().min(1).optional(),
      private_ip: z.string().min(1).optional(),
    })
    .default({}),
  /** The arbiter function, woken out of schedule when the leader item stands still past ttl + loop_wait. */
  arbiter: z
    .strictObject({
      function: z
        .string()
        .regex(
          /^(arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:)?[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9$_-]{1,128})?$/,
          'arbiter.function: the arbiter Lambda function name or ARN, e.g. pgfloat-prod-arbiter',
        )
        .optional(),
      region: z.string().min(1, 'arbiter.region: an AWS region, e.g. eu-west-1').optional(),
      /** A Lambda-compatible endpoint (the local run's); unset on AWS. */
      endpoint: z.url({ protocol: /^https?$/, error: 'arbiter.endpoint: an http(s) URL, e.g. http://127.0.0.1:9001' }).optional(),
    })
    .default({}),
  /** Linux's watchdog device as a second fence (Patroni's key): off, automatic (use it when it can protect the lease), required (no lease without it). */
  watchdog: z
    .strictObject({
      mode: z.enum(['off', 'automatic', 'required'], { message: 'watchdog.mode: one of off, automatic, required' }).default('off'),
      device: z.string().startsWith('/', 'watchdog.device: an absolute path, e.g. /dev/watchdog').default('/dev/watchdog'),
    })
    .default({ mode: 'off', device: '/dev/watchdog' }),
  bootstrap: z.strictObject({ dcs: bootstrapDcs.default({}) }).default({ dcs: {} }),
});
export type AgentConfig = z.infer<typeof agentConfigSchema>;

export class AgentConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AgentConfigError';
  }
}

// The bootstrap.dcs key of each cluster config field, to name the YAML path of a refused value.
const BOOTSTRAP_KEYS: Record<string, string> = {
  ttl: 'ttl',
  loopWait: 'loop_wait',
  retryTimeout: 'retry_timeout',
  maximumLagOnFailover: 'maximum_lag_on_failover',
  synchronousMode: 'synchronous_mode',
  synchronousModeStrict: 'synchronous_mode_strict',
  synchronousNodeCount: 'synchronous_node_count',
  failsafeMode: 'failsafe_mode',
  endpoint: 'endpoint',
  postgresql: 'postgresql',
  permanentSlots: 'permanent_slots',
  slotGracePeriod: 'slot_grace_period',
};

/**
 * Parses and validates an agent configuration, naming every bad key by its
 * YAML path. Whatever it returns, bootstrapClusterConfig accepts.
 */
export function parseAgentConfig(text: string, source = 'agent config'): AgentConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new AgentConfigError(`${source} is not valid YAML at ${yamlSyntaxMessage(err)}`, { cause: err });
  }
  if (raw === null || raw === undefined) {
    throw new AgentConfigError(`${source} is empty: write the agent config (see infra/agent.example.yml)`);
  }
  const r = validate(agentConfigSchema, raw);
  if (!r.ok) throw new AgentConfigError(`${source} is invalid:\n${r.lines.join('\n')}`);
  const cluster = clusterConfigSchema.safeParse(bootstrapInput(r.data));
  if (!cluster.success) {
    const lines = cluster.error.issues.map((i) => {
      const [field, ...rest] = i.path;
      const key = ['bootstrap', 'dcs', BOOTSTRAP_KEYS[String(field)] ?? String(field), ...rest].join('.');
      return `  ${key}: ${i.message}`;
    });
    throw new AgentConfigError(`${source} is invalid:\n${lines.join('\n')}`);
  }
  return r.data;
}

export async function loadAgentConfig(path: string): Promise<AgentConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new AgentConfigError(`cannot read the agent config ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parseAgentConfig(text, path);
}

function bootstrapInput(c: AgentConfig): Record<string, unknown> {
  const d = c.bootstrap.dcs;
  return {
    ttl: d.ttl,
    loopWait: d.loop_wait,
    retryTimeout: d.retry_timeout,
    maximumLagOnFailover: d.maximum_lag_on_failover,
    synchronousMode: d.synchronous_mode,
    synchronousModeStrict: d.synchronous_mode_strict,
    synchronousNodeCount: d.synchronous_node_count,
    failsafeMode: d.failsafe_mode,
    endpoint: d.endpoint,
    postgresql: d.postgresql === undefined ? undefined : { parameters: d.postgresql.parameters },
    permanentSlots: d.permanent_slots,
    slotGracePeriod: d.slot_grace_period,
  };
}

/** The cluster config a bootstrapping agent writes: the defaults with bootstrap.dcs applied. */
export function bootstrapClusterConfig(c: AgentConfig): z.infer<typeof clusterConfigSchema> {
  return clusterConfigSchema.parse(bootstrapInput(c));
}

export function splitHostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: Number(s.slice(i + 1)) };
}
