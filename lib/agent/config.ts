// The agent's configuration file (YAML). Key names follow Patroni's where the
// concept is the same. Errors name the key and the fix.
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { clusterConfigSchema, endpointConfigSchema } from '../dcs/items.js';
import { memberNameSchema, NAME_PATTERN, NAMESPACE_PATTERN } from '../dcs/keys.js';

const hostPort = (what: string) =>
  z.string().regex(/^(\[[0-9a-fA-F:]+\]|[^\s:]+):\d{1,5}$/, `${what}: write host:port, e.g. 10.0.1.10:5432`);

const credentials = z.object({ username: z.string().min(1), password: z.string().default('') });

export const agentConfigSchema = z.object({
  scope: z.string().regex(NAME_PATTERN, 'scope: the cluster name, 1-63 of A-Z a-z 0-9 _ . -'),
  namespace: z.string().regex(NAMESPACE_PATTERN, 'namespace: 1-63 of A-Z a-z 0-9 _ . - /').default('pgfloat'),
  name: memberNameSchema,
  dcs: z.object({
    table: z.string().regex(/^[A-Za-z0-9_.-]{3,255}$/, 'dcs.table: the DynamoDB table of the store'),
    region: z.string().optional(),
    /** DynamoDB Local: http://127.0.0.1:8000 */
    endpoint: z.url().optional(),
  }),
  restapi: z.object({
    listen: hostPort('restapi.listen'),
    connect_address: hostPort('restapi.connect_address'),
    authentication: credentials.optional(),
  }),
  postgresql: z.object({
    data_dir: z.string().startsWith('/', 'postgresql.data_dir: an absolute path'),
    bin_dir: z.string().startsWith('/', 'postgresql.bin_dir: an absolute path').default('/usr/lib/postgresql/15/bin'),
    listen: hostPort('postgresql.listen'),
    connect_address: hostPort('postgresql.connect_address'),
    /** Unix socket directory (short: socket paths are limited to 107 bytes). */
    socket_dir: z.string().optional(),
    authentication: z
      .object({
        superuser: credentials.default({ username: 'postgres', password: '' }),
        replication: credentials.default({ username: 'replicator', password: '' }),
      })
      .default({ superuser: { username: 'postgres', password: '' }, replication: { username: 'replicator', password: '' } }),
    parameters: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
    /** Run PostgreSQL's programs as this OS user when the agent runs as root. */
    os_user: z.string().default('postgres'),
    /** pg_hba for a trusted loopback lab (local clusters, tests); on AWS use password authentication. */
    trust_local: z.boolean().default(false),
  }),
  tags: z
    .object({
      nofailover: z.boolean().default(false),
      failover_priority: z.number().int().min(0).default(1),
      nosync: z.boolean().default(false),
      noloadbalance: z.boolean().default(false),
    })
    .default({ nofailover: false, failover_priority: 1, nosync: false, noloadbalance: false }),
  aws: z
    .object({
      instance_id: z.string().optional(),
      network_interface_id: z.string().optional(),
      private_ip: z.string().optional(),
    })
    .default({}),
  /** The arbiter function, woken out of schedule when the leader item stands still past ttl + loop_wait. */
  arbiter: z
    .object({
      function: z
        .string()
        .regex(
          /^(arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:)?[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9$_-]{1,128})?$/,
          'arbiter.function: the arbiter Lambda function name or ARN, e.g. pgfloat-prod-arbiter',
        )
        .optional(),
      region: z.string().optional(),
      /** A Lambda-compatible endpoint (the local run's); unset on AWS. */
      endpoint: z.url().optional(),
    })
    .default({}),
  /** Linux's watchdog device as a second fence (Patroni's key): off, automatic (use it when it can protect the lease), required (no lease without it). */
  watchdog: z
    .object({
      mode: z.enum(['off', 'automatic', 'required'], { message: 'watchdog.mode: one of off, automatic, required' }).default('off'),
      device: z.string().startsWith('/', 'watchdog.device: an absolute path, e.g. /dev/watchdog').default('/dev/watchdog'),
    })
    .default({ mode: 'off', device: '/dev/watchdog' }),
  bootstrap: z
    .object({
      dcs: z
        .object({
          ttl: z.number().positive().optional(),
          loop_wait: z.number().positive().optional(),
          retry_timeout: z.number().positive().optional(),
          maximum_lag_on_failover: z.number().int().min(0).optional(),
          synchronous_mode: z.boolean().optional(),
          synchronous_mode_strict: z.boolean().optional(),
          synchronous_node_count: z.number().int().min(1).optional(),
          failsafe_mode: z.boolean().optional(),
          endpoint: endpointConfigSchema.optional(),
        })
        .default({}),
    })
    .default({ dcs: {} }),
});
export type AgentConfig = z.infer<typeof agentConfigSchema>;

export class AgentConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AgentConfigError';
  }
}

/** Parses and validates an agent configuration, naming every bad key. */
export function parseAgentConfig(text: string, source = 'agent config'): AgentConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new AgentConfigError(`${source} is not valid YAML: ${(err as Error).message}`, { cause: err });
  }
  const r = agentConfigSchema.safeParse(raw);
  if (!r.success) {
    const lines = r.error.issues.map((i) => {
      const key = i.path.join('.') || '(top level)';
      const missing = i.code === 'invalid_type' && /received undefined/.test(i.message);
      return `  ${key}: ${missing ? 'missing (add it)' : i.message}`;
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

/** The cluster config a bootstrapping agent writes: the defaults with bootstrap.dcs applied. */
export function bootstrapClusterConfig(c: AgentConfig): z.infer<typeof clusterConfigSchema> {
  const d = c.bootstrap.dcs;
  return clusterConfigSchema.parse({
    ttl: d.ttl,
    loopWait: d.loop_wait,
    retryTimeout: d.retry_timeout,
    maximumLagOnFailover: d.maximum_lag_on_failover,
    synchronousMode: d.synchronous_mode,
    synchronousModeStrict: d.synchronous_mode_strict,
    synchronousNodeCount: d.synchronous_node_count,
    failsafeMode: d.failsafe_mode,
    endpoint: d.endpoint,
  });
}

export function splitHostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: Number(s.slice(i + 1)) };
}
