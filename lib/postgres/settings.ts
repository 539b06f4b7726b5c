// What a node's configuration files say, derived only from its configuration
// and the cluster-wide parameters (pure). The managed block goes at the end of
// postgresql.conf; pg_hba.conf is written whole. Both are rewritten after
// initdb, pg_basebackup and pg_rewind, because the last two copy another
// node's files, and whenever the cluster-wide parameters change.
// Precedence, lowest first: the node's own fields, the replication defaults,
// the cluster-wide parameters, the node's parameters (as Patroni's local
// configuration overrides its dynamic one).
import type { PgNodeConfig, ParameterValue, PgAuthConfig } from './config.js';
import { NODE_OWNED_SETTINGS, REPLICATION_DEFAULTS } from './config.js';
import { formatConfValue } from './quote.js';

export type ClusterParameters = Readonly<Record<string, ParameterValue>>;

/** The node's settings in the order written; later entries override earlier ones. */
export function nodeSettings(config: PgNodeConfig, cluster: ClusterParameters = {}): Array<[string, ParameterValue]> {
  const merged = new Map<string, [string, ParameterValue]>();
  const put = (key: string, value: ParameterValue): void => {
    merged.set(key.toLowerCase(), [key, value]);
  };
  put('listen_addresses', config.listenAddresses);
  put('port', config.port);
  put('unix_socket_directories', config.socketDir);
  put('cluster_name', config.name);
  for (const [key, value] of Object.entries(REPLICATION_DEFAULTS)) put(key, value);
  for (const [key, value] of Object.entries(cluster)) {
    if (!(NODE_OWNED_SETTINGS as readonly string[]).includes(key.toLowerCase())) put(key, value);
  }
  for (const [key, value] of Object.entries(config.parameters)) put(key, value);
  return [...merged.values()];
}

/** Lines of the managed block of postgresql.conf. */
export function nodeSettingsBlock(config: PgNodeConfig, cluster: ClusterParameters = {}): string[] {
  return nodeSettings(config, cluster).map(([key, value]) => `${key} = ${formatConfValue(value)}`);
}

/**
 * Settings that must not come from another node's postgresql.auto.conf after
 * a copy: this node's own settings (auto.conf would override them) and
 * whom to follow / wait for, which the caller sets afresh.
 */
export function copiedAutoConfKeys(config: PgNodeConfig, cluster: ClusterParameters = {}): string[] {
  return [
    ...NODE_OWNED_SETTINGS,
    ...nodeSettings(config, cluster).map(([key]) => key.toLowerCase()),
    'primary_conninfo',
    'primary_slot_name',
    'synchronous_standby_names',
  ];
}

/** pg_hba.conf: local sockets by localAuthMethod, TCP from allowedCidrs by hostAuthMethod. */
export function hbaLines(auth: PgAuthConfig): string[] {
  const lines = [
    '# pg_hba.conf: rewritten by pgfloat, change the node configuration instead',
    '# TYPE  DATABASE     USER  ADDRESS  METHOD',
    `local   all          all            ${auth.localAuthMethod}`,
    `local   replication  all            ${auth.localAuthMethod}`,
  ];
  for (const cidr of auth.allowedCidrs) {
    lines.push(`host    all          all   ${cidr}  ${auth.hostAuthMethod}`);
    lines.push(`host    replication  all   ${cidr}  ${auth.hostAuthMethod}`);
  }
  return lines;
}
