// The command line: which command, its options and positionals (strict
// node:util parseArgs), and the target: cluster, table, endpoint, region.
// Precedence for each: the option, then the environment, then the agent
// config file given with -c, then the default.
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { clusterIdSchema, type ClusterId } from '../dcs/keys.js';
import { readAgentConfig, type AgentConfig } from './agent-config.js';
import type { CommandSpec, OptionSpecs, OptionValues } from './command.js';
import { AgentConfigError, MissingClusterError, UsageError } from './errors.js';

export const GLOBAL_OPTIONS: OptionSpecs = {
  cluster: { type: 'string' },
  table: { type: 'string' },
  endpoint: { type: 'string' },
  region: { type: 'string' },
  config: { type: 'string', short: 'c' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

const TAKES_VALUE = new Set(['--cluster', '--table', '--endpoint', '--region', '--config', '-c']);

/** The command name (the first word that is no option nor a global option's value) and the rest. */
export function splitCommand(argv: readonly string[]): { name: string | null; rest: string[] } {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') break;
    if (a.startsWith('-')) {
      if (TAKES_VALUE.has(a)) i++;
      continue;
    }
    return { name: a, rest: [...argv.slice(0, i), ...argv.slice(i + 1)] };
  }
  return { name: null, rest: [...argv] };
}

function parseError(err: unknown, command: string | null): UsageError {
  const code = (err as { code?: string }).code;
  const message = err instanceof Error ? err.message : String(err);
  const where = command === null ? 'pgfloat' : `pgfloat ${command}`;
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const option = /'([^']+)'/.exec(message)?.[1] ?? message;
    return new UsageError(`unknown option ${option} for "${where}": see the options below`, command, { cause: err });
  }
  const first = message.split('\n')[0] ?? message;
  return new UsageError(`${first} (in "${where}")`, command, { cause: err });
}

export function parseCommandLine(spec: CommandSpec | null, rest: readonly string[]): { values: OptionValues; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({
      args: [...rest],
      options: { ...GLOBAL_OPTIONS, ...(spec?.options ?? {}) },
      strict: true,
      allowPositionals: true,
    });
    return { values: values as OptionValues, positionals };
  } catch (err) {
    throw parseError(err, spec?.name ?? null);
  }
}

/** Splits the positionals into the optional cluster name and the command's own. */
export function splitPositionals(spec: CommandSpec, positionals: readonly string[]): { cluster: string | undefined; own: string[] } {
  if (spec.trailingMembers === true) {
    const first = positionals[0];
    return first !== undefined && first.includes('/') ? { cluster: first, own: positionals.slice(1) } : { cluster: undefined, own: [...positionals] };
  }
  const need = spec.positionals.length;
  if (positionals.length === need) return { cluster: undefined, own: [...positionals] };
  if (positionals.length === need + 1) return { cluster: positionals[0], own: positionals.slice(1) };
  if (positionals.length < need) {
    const missing = spec.positionals.slice(positionals.length).join(', ');
    throw new UsageError(`${spec.name} needs ${missing}: e.g. pgfloat ${spec.synopsis}`, spec.name);
  }
  const extra = positionals.slice(need + 1).join(' ');
  throw new UsageError(`unexpected argument ${extra} for "pgfloat ${spec.name}": see the usage below`, spec.name);
}

export interface Target {
  readonly cluster: ClusterId;
  readonly table: string;
  readonly endpoint: string | undefined;
  readonly region: string | undefined;
  /** Credentials of the agents' API (restart, reload, reinit): PGFLOAT_API_AUTH, else restapi.authentication of -c agent.yml. */
  readonly apiAuth: { readonly username: string; readonly password: string } | null;
}

/** "<namespace>/<scope>"; a bare scope takes the namespace of the agent config. */
export function parseCluster(text: string, source: string, command: string, namespace?: string): ClusterId {
  const slash = text.lastIndexOf('/');
  let id: { namespace: string; scope: string };
  if (slash < 0) {
    if (namespace === undefined) {
      throw new UsageError(
        `${source} ${JSON.stringify(text)}: expected <namespace>/<scope>, e.g. pgfloat/${text || 'orders'} (a bare scope needs the namespace from -c agent.yml)`,
        command,
      );
    }
    id = { namespace, scope: text };
  } else {
    id = { namespace: text.slice(0, slash), scope: text.slice(slash + 1) };
  }
  const parsed = clusterIdSchema.safeParse(id);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(`${source} ${JSON.stringify(text)}: ${issue?.message ?? 'invalid'}; expected <namespace>/<scope>, e.g. pgfloat/orders`, command);
  }
  return parsed.data;
}

const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;

export async function resolveTarget(
  spec: CommandSpec,
  values: OptionValues,
  positionalCluster: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): Promise<Target> {
  const str = (name: string): string | undefined => {
    const v = values[name];
    return typeof v === 'string' ? v : undefined;
  };
  const nonEmpty = (v: string | undefined): string | undefined => (v === undefined || v === '' ? undefined : v);
  const configPath = str('config') ?? nonEmpty(env.PGFLOAT_CONFIG);
  const agent: AgentConfig = configPath === undefined ? {} : await readAgentConfig(configPath);

  const flagCluster = str('cluster');
  if (flagCluster !== undefined && positionalCluster !== undefined && flagCluster !== positionalCluster) {
    throw new UsageError(`--cluster ${flagCluster} and the cluster name ${positionalCluster} differ: give one of them`, spec.name);
  }
  let cluster: ClusterId;
  const given = flagCluster ?? positionalCluster;
  const envCluster = nonEmpty(env.PGFLOAT_CLUSTER);
  if (given !== undefined) {
    cluster = parseCluster(given, flagCluster !== undefined ? '--cluster' : 'cluster', spec.name, agent.namespace);
  } else if (envCluster !== undefined) {
    cluster = parseCluster(envCluster, 'PGFLOAT_CLUSTER', spec.name, agent.namespace);
  } else if (agent.scope !== undefined && configPath !== undefined) {
    if (agent.namespace === undefined) {
      throw new AgentConfigError(configPath, 'key namespace: missing: add "namespace: <the agents\' namespace>" or pass --cluster <namespace>/<scope>');
    }
    cluster = parseCluster(`${agent.namespace}/${agent.scope}`, `${configPath}: scope/namespace`, spec.name);
  } else {
    throw new MissingClusterError(
      `missing --cluster: name the cluster with --cluster <namespace>/<scope> (e.g. --cluster pgfloat/orders), a positional cluster name, PGFLOAT_CLUSTER, or -c agent.yml`,
      spec.name,
    );
  }

  const table = str('table') ?? nonEmpty(env.PGFLOAT_TABLE) ?? agent.dcs?.table ?? 'pgfloat';
  if (!TABLE_NAME.test(table)) {
    throw new UsageError(`--table ${JSON.stringify(table)}: a DynamoDB table name is 3-255 of A-Z a-z 0-9 _ . -`, spec.name);
  }
  const endpoint = str('endpoint') ?? nonEmpty(env.PGFLOAT_DYNAMODB_ENDPOINT) ?? agent.dcs?.endpoint;
  if (endpoint !== undefined && !/^https?:\/\/[^\s/]+/.test(endpoint)) {
    throw new UsageError(`--endpoint ${JSON.stringify(endpoint)}: expected an http(s) URL, e.g. http://127.0.0.1:8000`, spec.name);
  }
  const region = str('region') ?? agent.dcs?.region;
  if (region !== undefined && !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) {
    throw new UsageError(`--region ${JSON.stringify(region)}: expected an AWS region, e.g. eu-west-1`, spec.name);
  }
  return { cluster, table, endpoint, region, apiAuth: apiAuthOf(env, agent, spec.name) };
}

const API_AUTH = z.object({ username: z.string().min(1), password: z.string() });

function apiAuthOf(env: Readonly<Record<string, string | undefined>>, agent: AgentConfig, command: string): Target['apiAuth'] {
  const raw = env.PGFLOAT_API_AUTH;
  if (raw !== undefined && raw !== '') {
    const colon = raw.indexOf(':');
    if (colon <= 0) throw new UsageError('PGFLOAT_API_AUTH: expected user:password, the restapi.authentication of the agents', command);
    return { username: raw.slice(0, colon), password: raw.slice(colon + 1) };
  }
  const parsed = API_AUTH.safeParse((agent as { restapi?: { authentication?: unknown } }).restapi?.authentication);
  return parsed.success ? parsed.data : null;
}

