// npm run drill [-- --dir .pgfloat/local --json]
// Against the cluster `npm start` runs: kill -9 the primary (its agent and
// PostgreSQL) and show the failover as it happens, each step with its time
// since the kill: the grant, the promotion, the endpoint move, the first
// write acknowledged through the endpoint, and the old node's return.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createDynamoDbClient } from '../lib/dcs/client.js';
import { DynamoDbStore } from '../lib/dcs/dynamodb-store.js';
import type { RunState } from '../lib/local/run.js';
import { postmasterPid } from '../lib/local/cluster.js';

const { values } = parseArgs({
  options: { dir: { type: 'string', default: '.pgfloat/local' }, json: { type: 'boolean', default: false }, timeout: { type: 'string', default: '120' } },
});
let state: RunState;
try {
  state = JSON.parse(readFileSync(join(values.dir, 'state.json'), 'utf8')) as RunState;
} catch {
  console.error(`no local cluster state in ${values.dir}: start one with npm start (or pass --dir)`);
  process.exit(2);
}

const client = createDynamoDbClient({ endpoint: state.dynamoEndpoint });
const store = new DynamoDbStore({ client, tableName: state.table });
const events: { at: number; what: string }[] = [];
let t0 = 0;
const say = (what: string): void => {
  const at = performance.now() - t0;
  events.push({ at: Math.round(at), what });
  if (!values.json) console.log(`${(at / 1000).toFixed(3).padStart(8)} s  ${what}`);
};

async function write(id: number): Promise<boolean> {
  const c = new pg.Client({ host: '127.0.0.1', port: state.endpointPort, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 500, query_timeout: 500 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.query('INSERT INTO pgfloat_drill VALUES ($1)', [id]);
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

const before = await store.readCluster(state.cluster);
const old = before.leader;
if (old === null || old.phase !== 'active') {
  console.error('no active leader to kill: wait until `npm start` says ready');
  process.exit(1);
}
const setup = new pg.Client({ host: '127.0.0.1', port: state.endpointPort, user: 'postgres', database: 'postgres' });
await setup.connect();
await setup.query('CREATE TABLE IF NOT EXISTS pgfloat_drill (id bigint PRIMARY KEY)');
await setup.end();

const node = state.nodes.find((n) => n.name === old.holder);
if (node === undefined) throw new Error(`the leader ${old.holder} is not a node of this local cluster`);
const pgPid = postmasterPid(node);
t0 = performance.now();
for (const pid of [node.agentPid, pgPid]) {
  if (pid === null) continue;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}
say(`killed ${old.holder} (kill -9 of agent pid ${node.agentPid ?? '-'} and postgres pid ${pgPid ?? '-'}), the primary of term ${old.term}`);

/** The run started a new agent process for the killed node (its state file names another pid). */
function restartedAgent(): boolean {
  try {
    const now = (JSON.parse(readFileSync(join(values.dir, 'state.json'), 'utf8')) as RunState).nodes.find((n) => n.name === old?.holder);
    return now?.agentPid !== undefined && now.agentPid !== null && now.agentPid !== node?.agentPid;
  } catch {
    return false;
  }
}

const deadline = t0 + Number(values.timeout) * 1000;
let granted = false;
let promoted = false;
let moved = false;
let written = false;
let rejoined = false;
let id = Date.now();
while (performance.now() < deadline && !(written && rejoined)) {
  const s = await store.readCluster(state.cluster).catch(() => null);
  const l = s?.leader ?? null;
  if (!granted && l !== null && l.term > old.term) {
    granted = true;
    say(`granted ${l.holder} term ${l.term}: ${l.reason}`);
  }
  if (!promoted && l !== null && l.term > old.term && l.phase === 'active') {
    promoted = true;
    say(`${l.holder} promoted and confirmed term ${l.term}`);
  }
  if (!moved && s?.endpoint != null && s.endpoint.term > old.term) {
    moved = true;
    say(`endpoint moved to ${s.endpoint.member} (${s.endpoint.target})`);
  }
  // Writes count once another node was granted: before that, a write could only reach the old primary back again.
  if (granted && !written && (await write(id++))) {
    written = true;
    say('first write acknowledged through the endpoint');
  }
  const back = s?.members.find((m) => m.name === old.holder);
  if (!rejoined && moved && back?.role === 'replica' && back.state === 'running' && (back.lsn ?? 0) > 0) {
    rejoined = true;
    say(`${old.holder} is back as a replica (timeline ${back.timeline})`);
  }
  // The killed holder renewed its own lease again from a restarted agent: it came back before the lease ran out.
  // (A renew the killed agent sent just before the kill may still land: only a new agent process counts.)
  if (!granted && l !== null && l.term === old.term && l.holder === old.holder && l.version > old.version && restartedAgent()) {
    say(`${old.holder} came back within its lease and kept it: no failover (restart it later than ttl to see one)`);
    break;
  }
  await new Promise((r) => setTimeout(r, 50));
}
client.destroy();
if (values.json) console.log(JSON.stringify({ killed: old.holder, term: old.term, events }, null, 2));
if (!granted || !written) {
  console.error(!granted ? 'no failover happened' : 'no write was acknowledged through the endpoint before the timeout');
  process.exit(1);
}
if (!rejoined && !values.json) console.log(`(${old.holder} has not rejoined yet: npm start restarts a dead agent after --restart-after seconds)`);
