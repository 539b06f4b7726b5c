// npm start: a real pgfloat cluster on this machine. DynamoDB Local, three
// PostgreSQL nodes each with its agent, the arbiter's Lambda handler invoked
// on a local one-minute schedule, and the endpoint on a stable port.
// Ctrl-C stops everything. `npm run drill` (another terminal) kills the primary.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { main as cli } from '../lib/cli/main.js';
import { DEFAULT_TABLE_NAME } from '../lib/dcs/table.js';
import { checkTiming, numberArg } from '../lib/local/args.js';
import { LocalRun } from '../lib/local/run.js';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: '.pgfloat/local' },
    nodes: { type: 'string', default: '3' },
    port: { type: 'string', default: '5440' },
    'dynamo-port': { type: 'string', default: '8765' },
    ttl: { type: 'string', default: '10' },
    'loop-wait': { type: 'string', default: '2' },
    'retry-timeout': { type: 'string', default: '4' },
    'tick-ms': { type: 'string', default: '250' },
    'schedule-ms': { type: 'string', default: '60000' },
    'restart-after': { type: 'string', default: '15' },
    sync: { type: 'boolean', default: false },
    'unsafe-fast': { type: 'boolean', default: false },
    'no-live': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  console.log(`npm start [-- options]
  --dir DIR            where the nodes, the store and the logs live (${values.dir})
  --nodes N            PostgreSQL nodes (3)
  --port P             the cluster endpoint: always the primary (5440)
  --dynamo-port P      DynamoDB Local (8765)
  --ttl S --loop-wait S --retry-timeout S   cluster timing (10, 2, 4)
  --tick-ms MS         arbiter tick (250)
  --sync               synchronous mode
  --restart-after S    restart a dead agent after S seconds, as systemd would; 0: never (15, more than ttl:
                       a node back within its lease keeps it, and no failover happens)
  --no-live            no live status table (print changes only)`);
  process.exit(0);
}

checkTiming(numberArg('ttl', values.ttl, 1), numberArg('loop-wait', values['loop-wait'], 0.1), numberArg('retry-timeout', values['retry-timeout'], 0.1));

// DynamoDB Local and the agents run from other working directories: every path they get is absolute.
const dir = resolve(values.dir);
const run = new LocalRun({
  dir,
  nodes: numberArg('nodes', values.nodes, 1),
  endpointPort: numberArg('port', values.port, 1),
  dynamoPort: numberArg('dynamo-port', values['dynamo-port'], 1),
  ttl: numberArg('ttl', values.ttl, 1),
  loopWait: numberArg('loop-wait', values['loop-wait'], 0.1),
  retryTimeout: numberArg('retry-timeout', values['retry-timeout'], 0.1),
  synchronousMode: values.sync,
  tickMs: numberArg('tick-ms', values['tick-ms'], 50),
  schedulePeriodMs: numberArg('schedule-ms', values['schedule-ms'], 1000),
  restartAfterMs: numberArg('restart-after', values['restart-after'], 0) * 1000,
  unsafeFast: values['unsafe-fast'],
  log: (line) => console.log(`${new Date().toISOString().slice(11, 23)} ${line}`),
});

let stopping: Promise<void> | undefined;
const stop = (code = 0): void => {
  stopping ??= (async () => {
    console.log('\nstopping: agents first (a primary releases its lease), then the arbiter and DynamoDB Local');
    await run.stop();
    console.log('stopped; nothing left running');
    process.exit(code);
  })();
};
process.on('SIGINT', () => stop());
process.on('SIGTERM', () => stop());

try {
  await run.start();
} catch (err) {
  console.error(`could not start the local cluster: ${(err as Error).message}`);
  await run.stop().catch(() => undefined);
  process.exit(1);
}

const label = `${run.cluster.namespace}/${run.cluster.scope}`;
const args = ['--cluster', label, '--endpoint', process.env.PGFLOAT_DYNAMODB_ENDPOINT ?? '', '--table', DEFAULT_TABLE_NAME];
async function listing(): Promise<string> {
  let out = '';
  const io = { stdout: { write: (s: string) => void (out += s) }, stderr: { write: (s: string) => void (out += s) }, env: {} };
  await cli(['list', ...args], io, { store: run.store });
  return out.trimEnd();
}

/** One write through the endpoint: a temporary table, so nothing is left in the user's database. */
async function writeThroughEndpoint(): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port: Number(values.port), user: 'postgres', database: 'postgres', connectionTimeoutMillis: 3000, query_timeout: 5000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('CREATE TEMP TABLE pgfloat_ready (at timestamptz); INSERT INTO pgfloat_ready VALUES (now())');
  } finally {
    await client.end().catch(() => undefined);
  }
}

// "ready" means a write through the endpoint was acknowledged, not that the store names a leader.
console.log('waiting for a leader and a first write through the endpoint...');
const deadline = Date.now() + 180_000;
let progress = '';
for (;;) {
  let now: string;
  try {
    const snap = await run.store.readCluster(run.cluster);
    const l = snap.leader;
    now = l === null ? 'no leader yet' : `${l.holder} ${l.phase} (term ${l.term}), endpoint at ${snap.endpoint?.member ?? 'nobody'}`;
    if (l?.phase === 'active' && snap.endpoint?.member === l.holder) {
      try {
        await writeThroughEndpoint();
        break;
      } catch (err) {
        now += `; a write through the endpoint failed: ${(err as Error).message}`;
      }
    }
  } catch (err) {
    now = `the store did not answer: ${(err as Error).message}`;
  }
  if (now !== progress) console.log(`  ${now}`);
  progress = now;
  if (Date.now() > deadline) {
    console.error(`not ready after 180 s (${now}); see the agents' logs under ${dir}/node*/agent.log`);
    stop(1);
    await new Promise(() => undefined);
  }
  await new Promise((r) => setTimeout(r, 250));
}
const banner = `ready: the cluster ${label} is up.
  connect:  /usr/lib/postgresql/15/bin/psql "host=127.0.0.1 port=${values.port} user=postgres dbname=postgres"
  status:   npm run pgfloat -- list ${args.join(' ')}
  drill:    npm run drill            (kills the primary and shows the failover)
  stop:     Ctrl-C`;
console.log(banner);

let last = '';
for (;;) {
  if (stopping !== undefined) break;
  const now = await listing().catch((err: Error) => `status unavailable: ${err.message}`);
  if (!values['no-live'] && process.stdout.isTTY) {
    process.stdout.write(`\x1b[2J\x1b[H${banner}\n\n${now}\n(${new Date().toISOString().slice(11, 19)}, every second)\n`);
  } else if (now !== last) {
    console.log(now);
  }
  last = now;
  await new Promise((r) => setTimeout(r, 1000));
}
