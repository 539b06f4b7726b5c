// pgfloat-agent --config /etc/pgfloat/agent.yml
// The node agent process: its PostgreSQL, its loop, its health API.
// SIGTERM or SIGINT: clean shutdown (a holder stops writes and releases).
// With PGFLOAT_EXIT_WITH_PARENT=1, so does the end of its stdin.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createDynamoDbClient } from '../dcs/client.js';
import { DynamoDbStore } from '../dcs/dynamodb-store.js';
import { PostgresNode } from '../postgres/node.js';
import { ensureDir, runAsFor } from '../postgres/os-user.js';
import { FenceKeeper } from './fence-keeper.js';
import { lambdaWaker } from './arbiter-waker.js';
import { WatchdogFence } from './watchdog.js';
import { Agent, AgentRefusedError, type AgentLog } from './agent.js';
import { createHealthApi, listenHealthApi } from './api.js';
import { AgentConfigError, loadAgentConfig, splitHostPort, type AgentConfig } from './config.js';
import { switchoverHandlers } from './requests.js';

function logger(name: string): AgentLog {
  const line = (level: string, message: string, attrs: Record<string, unknown>[]): void => {
    const extra = attrs.length > 0 ? ` ${JSON.stringify(Object.assign({}, ...attrs))}` : '';
    process.stderr.write(`${new Date().toISOString()} ${level} ${name}: ${message}${extra}\n`);
  };
  return {
    info: (m, ...a) => line('INFO', m, a),
    warn: (m, ...a) => line('WARN', m, a),
    error: (m, ...a) => line('ERROR', m, a),
  };
}

export function postgresNodeFor(cfg: AgentConfig): PostgresNode {
  const listen = splitHostPort(cfg.postgresql.listen);
  const connect = splitHostPort(cfg.postgresql.connect_address);
  const pg = cfg.postgresql;
  return new PostgresNode({
    name: cfg.name,
    dataDir: pg.data_dir,
    binDir: pg.bin_dir,
    port: listen.port,
    listenAddresses: listen.host === '0.0.0.0' ? '*' : listen.host,
    connectHost: connect.host,
    socketDir: pg.socket_dir ?? `/tmp/pgfloat-${cfg.name}`.slice(0, 80),
    osUser: pg.os_user,
    auth: {
      superuser: pg.authentication.superuser.username,
      superuserPassword: pg.authentication.superuser.password || null,
      replicationUser: pg.authentication.replication.username,
      replicationPassword: pg.authentication.replication.password || null,
      hostAuthMethod: pg.trust_local ? 'trust' : 'scram-sha-256',
      localAuthMethod: pg.trust_local ? 'trust' : 'peer',
      allowedCidrs: pg.trust_local ? ['127.0.0.1/32'] : ['0.0.0.0/0'],
    },
    parameters: pg.parameters,
  });
}

export async function main(argv: string[]): Promise<number> {
  let values: { config?: string | undefined };
  try {
    ({ values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' } } }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\nusage: pgfloat-agent --config <agent.yml>\n`);
    return 2;
  }
  if (values.config === undefined) {
    process.stderr.write('usage: pgfloat-agent --config <agent.yml>\n');
    return 2;
  }
  let cfg: AgentConfig;
  try {
    cfg = await loadAgentConfig(values.config);
  } catch (err) {
    if (err instanceof AgentConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const log = logger(cfg.name);
  const client = createDynamoDbClient({
    ...(cfg.dcs.endpoint !== undefined ? { endpoint: cfg.dcs.endpoint } : {}),
    ...(cfg.dcs.region !== undefined ? { region: cfg.dcs.region } : {}),
  });
  const store = new DynamoDbStore({ client, tableName: cfg.dcs.table });
  const pg = postgresNodeFor(cfg);
  await ensureDir(pg.config.socketDir, await runAsFor(pg.config.osUser), 0o755);
  const keeper = new FenceKeeper({ dataDir: pg.config.dataDir, socketPath: join(pg.config.socketDir, '.pgfloat-fence'), log: (l) => log.info(l) });
  const fence = cfg.watchdog.mode === 'off' ? keeper : new WatchdogFence(keeper, { mode: cfg.watchdog.mode, device: cfg.watchdog.device, log: (l) => log.warn(l) });
  await fence.attach().catch((err: Error) => log.error(`${err.message}: will try again at the first lease`));
  // The local run names its Lambda-compatible endpoint and function in the environment.
  const fn = cfg.arbiter.function ?? process.env.PGFLOAT_ARBITER_FUNCTION;
  const fnEndpoint = cfg.arbiter.endpoint ?? process.env.PGFLOAT_ARBITER_ENDPOINT;
  const wake =
    fn === undefined || fn === ''
      ? null
      : lambdaWaker({
          functionName: fn,
          ...(fnEndpoint !== undefined && fnEndpoint !== '' ? { endpoint: fnEndpoint } : {}),
          ...((cfg.arbiter.region ?? cfg.dcs.region) !== undefined ? { region: (cfg.arbiter.region ?? cfg.dcs.region) as string } : {}),
        });
  const agent = new Agent(cfg, { store, pg, log, fence, noSync: process.env.PGFLOAT_UNSAFE_NOSYNC === '1', ...(wake !== null ? { waker: wake.waker } : {}) });
  const api = createHealthApi({
    status: () => agent.status(),
    cluster: () => agent.clusterView(),
    now: () => performance.now(),
    auth: cfg.restapi.authentication ?? null,
    ...switchoverHandlers(store, agent.cluster, () => Date.now()),
    onFailsafe: (ask) => agent.failsafe(ask),
    onRestart: (req) => agent.operator.restart(req),
    onCancelRestart: () => agent.operator.cancelRestart(),
    onReload: () => agent.operator.reload(),
    onReinitialize: () => agent.operator.reinitialize(),
    onRefused: (what, status, why) => log.warn(`${what} request refused (${status}): ${why}`),
  });
  const listen = splitHostPort(cfg.restapi.listen);
  const port = await listenHealthApi(api, listen.host, listen.port);
  log.info(`health API on ${listen.host}:${port}; cluster ${agent.label}`);
  log.info(fn === undefined || fn === '' ? 'arbiter.function unset: a stale leader waits for the arbiter schedule' : `wakes the arbiter function ${fn} when the leader item stands still past ttl + loop_wait`);
  const stop = (): void => {
    log.info('shutting down');
    void agent.shutdown();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  if (process.env.PGFLOAT_EXIT_WITH_PARENT === '1') {
    // Run under a supervisor that holds our stdin: its end, however the supervisor died, is a clean shutdown.
    process.stdin.on('error', () => undefined);
    process.stdin.once('close', () => {
      log.info('the supervisor that started this agent is gone');
      stop();
    });
    process.stdin.resume();
  }
  try {
    await agent.run();
    return 0;
  } catch (err) {
    if (err instanceof AgentRefusedError) {
      log.error(err.message);
      return 3;
    }
    log.error(`agent failed: ${(err as Error).stack ?? String(err)}`);
    return 1;
  } finally {
    api.close();
    api.closeAllConnections?.();
    fence.close();
    wake?.close();
    client.destroy();
  }
}
