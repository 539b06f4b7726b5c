// The configuration of one local PostgreSQL node: where its files are, how it
// listens, who may connect, and how long each step may take.
// resolveNodeConfig fills defaults and refuses unusable values up front.
import { isAbsolute, join } from 'node:path';
import { InvalidConfigError } from './errors.js';

export const DEFAULT_BIN_DIR = '/usr/lib/postgresql/15/bin';

export type ParameterValue = string | number | boolean;
export type HostAuthMethod = 'trust' | 'scram-sha-256' | 'md5' | 'password' | 'reject';
export type LocalAuthMethod = 'peer' | 'trust' | 'scram-sha-256' | 'md5' | 'reject';

export interface PgAuthConfig {
  /** Superuser created by initdb; queries, CHECKPOINT before rewind, and pg_rewind's source connection use it. */
  readonly superuser: string;
  readonly superuserPassword: string | null;
  /** Role streaming replicas and pg_basebackup connect as (may equal the superuser). */
  readonly replicationUser: string;
  readonly replicationPassword: string | null;
  /** Method for TCP connections from allowedCidrs (normal and replication). */
  readonly hostAuthMethod: HostAuthMethod;
  /** Method for Unix-socket connections. */
  readonly localAuthMethod: LocalAuthMethod;
  readonly allowedCidrs: readonly string[];
}

export interface PgTimeouts {
  readonly initdbMs: number;
  readonly startMs: number;
  readonly stopMs: number;
  readonly promoteMs: number;
  readonly basebackupMs: number;
  readonly rewindMs: number;
  /** Short commands: pg_controldata, pg_ctl status. */
  readonly commandMs: number;
  readonly connectMs: number;
  /** statement_timeout of every query this module sends. */
  readonly statementMs: number;
  /** How long a configuration change may take to reach new sessions after pg_reload_conf(). */
  readonly reloadMs: number;
}

export interface PgNodeConfig {
  /** Member name: cluster_name and application_name on its upstream. */
  readonly name: string;
  readonly binDir: string;
  readonly dataDir: string;
  readonly port: number;
  /** listen_addresses. */
  readonly listenAddresses: string;
  /** Host this process (and peers told by the caller) connect to. */
  readonly connectHost: string;
  readonly socketDir: string;
  readonly logFile: string;
  /** OS user PostgreSQL runs as when this process is root. */
  readonly osUser: string;
  readonly locale: string;
  readonly encoding: string;
  readonly auth: PgAuthConfig;
  /** Extra postgresql.conf settings of this node; they override the replication defaults. */
  readonly parameters: Readonly<Record<string, ParameterValue>>;
  readonly timeouts: PgTimeouts;
}

export interface PgNodeOptions {
  readonly name: string;
  readonly dataDir: string;
  readonly port: number;
  readonly socketDir: string;
  readonly binDir?: string;
  readonly listenAddresses?: string;
  readonly connectHost?: string;
  /** Default: `<dataDir>.log`, beside the data directory so base backups and rewinds never copy it. */
  readonly logFile?: string;
  readonly osUser?: string;
  readonly locale?: string;
  readonly encoding?: string;
  readonly auth?: Partial<PgAuthConfig>;
  readonly parameters?: Readonly<Record<string, ParameterValue>>;
  readonly timeouts?: Partial<PgTimeouts>;
}

export const DEFAULT_AUTH: PgAuthConfig = {
  superuser: 'postgres',
  superuserPassword: null,
  replicationUser: 'replicator',
  replicationPassword: null,
  hostAuthMethod: 'scram-sha-256',
  localAuthMethod: 'peer',
  allowedCidrs: ['127.0.0.1/32'],
};

export const DEFAULT_TIMEOUTS: PgTimeouts = {
  initdbMs: 120_000,
  startMs: 60_000,
  stopMs: 60_000,
  promoteMs: 60_000,
  basebackupMs: 3_600_000,
  rewindMs: 3_600_000,
  commandMs: 30_000,
  connectMs: 5_000,
  statementMs: 30_000,
  reloadMs: 5_000,
};

/** Settings every node gets unless its parameters override them: what streaming replication and pg_rewind need. */
export const REPLICATION_DEFAULTS: Readonly<Record<string, ParameterValue>> = {
  wal_level: 'replica',
  max_wal_senders: 10,
  max_replication_slots: 10,
  hot_standby: true,
  wal_log_hints: true,
  // A slot never retains more WAL than this, whatever the agent does: past it
  // PostgreSQL invalidates the slot (its replica must be cloned again) rather
  // than fill the disk, even before the primary's agent drops a slot nobody uses.
  max_slot_wal_keep_size: '8GB',
};

/** Settings derived from the node's own fields; parameters may not set them. */
export const NODE_OWNED_SETTINGS = ['listen_addresses', 'port', 'unix_socket_directories', 'cluster_name'] as const;

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const SETTING_NAME = /^[A-Za-z_][A-Za-z0-9_.]*$/;
const ROLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
/** sun_path holds 107 bytes; the socket file name is ".s.PGSQL.<port>" after a "/". */
const MAX_SOCKET_DIR_BYTES = 107 - '/.s.PGSQL.65535'.length;

function positive(field: string, value: number): void {
  if (!Number.isInteger(value) || value <= 0) throw new InvalidConfigError(field, `must be a positive whole number, not ${value}`);
}

export function resolveNodeConfig(options: PgNodeOptions): PgNodeConfig {
  if (!NAME_PATTERN.test(options.name)) {
    throw new InvalidConfigError('name', `${JSON.stringify(options.name)} must be 1-63 of A-Z a-z 0-9 _ . -, starting with a letter or digit`);
  }
  for (const field of ['dataDir', 'socketDir'] as const) {
    if (!isAbsolute(options[field])) throw new InvalidConfigError(field, `${JSON.stringify(options[field])} must be an absolute path`);
  }
  if (Buffer.byteLength(options.socketDir) > MAX_SOCKET_DIR_BYTES) {
    throw new InvalidConfigError('socketDir', `${options.socketDir} is longer than ${MAX_SOCKET_DIR_BYTES} bytes, too long for a Unix socket path (fix: use a shorter directory)`);
  }
  if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535) {
    throw new InvalidConfigError('port', `${options.port} is not a TCP port (1-65535)`);
  }
  const auth: PgAuthConfig = { ...DEFAULT_AUTH, ...options.auth };
  for (const field of ['superuser', 'replicationUser'] as const) {
    if (!ROLE_NAME.test(auth[field])) throw new InvalidConfigError(`auth.${field}`, `${JSON.stringify(auth[field])} must be 1-63 of A-Z a-z 0-9 _, not starting with a digit`);
  }
  if (auth.allowedCidrs.length === 0) throw new InvalidConfigError('auth.allowedCidrs', 'list at least one address range peers connect from');
  for (const cidr of auth.allowedCidrs) {
    if (!/^[0-9A-Fa-f:.]+\/\d{1,3}$/.test(cidr)) throw new InvalidConfigError('auth.allowedCidrs', `${JSON.stringify(cidr)} is not an address/prefix such as 10.0.0.0/16`);
  }
  const timeouts: PgTimeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  for (const [key, value] of Object.entries(timeouts)) positive(`timeouts.${key}`, value);
  const parameters = options.parameters ?? {};
  for (const key of Object.keys(parameters)) {
    if (!SETTING_NAME.test(key)) throw new InvalidConfigError(`parameters.${key}`, 'is not a PostgreSQL setting name');
    if ((NODE_OWNED_SETTINGS as readonly string[]).includes(key.toLowerCase())) {
      throw new InvalidConfigError(`parameters.${key}`, 'is derived from the node configuration (set listenAddresses, port, socketDir or name instead)');
    }
  }
  const listenAddresses = options.listenAddresses ?? '127.0.0.1';
  const wildcard = listenAddresses === '*' || listenAddresses.split(',').map((s) => s.trim()).includes('0.0.0.0');
  const connectHost = options.connectHost ?? (wildcard ? '127.0.0.1' : (listenAddresses.split(',')[0] ?? '').trim());
  if (connectHost === '') throw new InvalidConfigError('connectHost', 'no host to connect to: set connectHost or listenAddresses');
  return {
    name: options.name,
    binDir: options.binDir ?? DEFAULT_BIN_DIR,
    dataDir: options.dataDir,
    port: options.port,
    listenAddresses,
    connectHost,
    socketDir: options.socketDir,
    logFile: options.logFile ?? `${options.dataDir.replace(/\/+$/, '')}.log`,
    osUser: options.osUser ?? 'postgres',
    locale: options.locale ?? 'C',
    encoding: options.encoding ?? 'UTF8',
    auth,
    parameters,
    timeouts,
  };
}

export function binary(config: PgNodeConfig, name: string): string {
  return join(config.binDir, name);
}
