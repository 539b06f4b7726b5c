// A fault drill's finding, as a real-cluster test: in synchronous mode, kill
// -9 the primary (agent and postmaster), then kill -9 the whole local run (the
// `npm start` script and every agent it started) in the middle of the
// failover that follows, and start the run again on the same directory. The
// restarted run reuses state.json (the same ports) and the store; PostgreSQL
// of the killed run is left as a crash leaves it, with its fence keepers.
// Two kill points, a cluster each: right at the grant of the next term, and
// right once the grantee confirmed it (before the endpoint has followed).
//
// The drill once saw the restarted arbiter grant a term to a node whose agent
// was not running yet, then a newer term to another node while the first
// promoted on its stale grant: two writable nodes for 0.9 s, and 35
// acknowledged writes lost in synchronous mode.
//
// A writer inserts into every node's own port and through the endpoint, round
// after round, across the kill and the restart. Each endpoint write returns
// the port of the node that took it, so it counts as that node's write too.
// Asserted: no node takes a write once another has taken over, every
// acknowledged write is on the final primary, and the restarted cluster has
// one primary, the only node that takes writes, reached through the endpoint.
//
// The scenario moves the primary forward (old primary, then its successors):
// `overlaps` reads acknowledgements in that order.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import { createDynamoDbClient } from '../../lib/dcs/client.js';
import { DynamoDbStore } from '../../lib/dcs/dynamodb-store.js';
import type { LeaderItem } from '../../lib/dcs/items.js';
import type { ClusterSnapshot } from '../../lib/dcs/store.js';
import { DEFAULT_TABLE_NAME } from '../../lib/dcs/table.js';
import { processIdentity } from '../../lib/local/cluster.js';
import type { RunState } from '../../lib/local/run.js';
import { overlaps, type Ack } from '../support/checker.js';
import { sql } from '../support/pgcluster.js';
import { LocalRun, streamingReplica, waitFor, writable, type HistoryJson, type ListJson, type LocalRunOptions, type MemberJson } from './local-run.js';

const OPTIONS: LocalRunOptions = { ttl: 3, loopWait: 0.5, retryTimeout: 1, tickMs: 100, scheduleMs: 20_000, restartAfter: 8, sync: true };
const CLUSTER = { namespace: 'pgfloat', scope: 'local' } as const;
/** Caps each wait for the cluster: a loaded machine is slow, a hung one must still end the test. */
const BOUND_MS = 180_000;
/** The writer's own bound: ~50 ms a round, far longer than the test may run. */
const MAX_ROUNDS = 20_000;

/** Every acknowledged write, on one clock; endpoint writes also know which node took them. */
interface Writer {
  /** Acknowledged writes so far: `node` is the target written to, a node's name or 'endpoint'. */
  readonly acks: readonly Ack[];
  /** For each write acknowledged through the endpoint, the node (by its port) that took it. */
  readonly servedBy: ReadonlyMap<number, string>;
  stop(): Promise<void>;
}

/** Needs `CREATE TABLE checked (id int PRIMARY KEY, node text)` on the primary first. */
function startWriter(targets: readonly { readonly name: string; readonly port: number }[], nodeAtPort: ReadonlyMap<number, string>): Writer {
  const acks: Ack[] = [];
  const servedBy = new Map<number, string>();
  let running = true;
  let id = 0;
  const done = (async () => {
    for (let round = 0; running && round < MAX_ROUNDS; round++) {
      await Promise.all(
        targets.map(async (t) => {
          const mine = ++id;
          const startedAt = performance.now();
          const rows = await sql<{ port: number }>(t.port, 'INSERT INTO checked VALUES ($1, $2) RETURNING inet_server_port() AS port', [mine, t.name], 1000).catch(() => null);
          if (rows === null) return;
          acks.push({ node: t.name, id: mine, startedAt, endedAt: performance.now() });
          if (t.name === 'endpoint') servedBy.set(mine, nodeAtPort.get(Number(rows[0]?.port)) ?? `port ${String(rows[0]?.port)}`);
        }),
      );
      await delay(40);
    }
  })();
  return {
    acks,
    servedBy,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

/** A replica streaming with a known lag; in synchronous mode `list` calls the synchronous one 'Sync Standby'. */
function streaming(m: MemberJson): boolean {
  return streamingReplica({ ...m, Role: m.Role === 'Sync Standby' ? 'Replica' : m.Role });
}

/** An active leader and every other member a replica streaming on its timeline. */
function healthy(l: ListJson): boolean {
  const leader = l.leader;
  if (leader === null || leader.phase !== 'active' || l.members.length !== 3) return false;
  const timeline = l.members.find((m) => m.Member === leader.name)?.TL;
  return l.members.every((m) => (m.Member === leader.name ? m.Role === 'Leader' && m.State === 'running' : streaming(m) && m.TL === timeline));
}

/** An active leader, listed as the running leader. */
function leaderUp(l: ListJson): boolean {
  const leader = l.leader;
  return leader !== null && leader.phase === 'active' && l.members.some((m) => m.Member === leader.name && m.Role === 'Leader' && m.State === 'running');
}

/** A read-only look at the store of the run on `dynamoPort`, for what the CLI is too slow to catch. */
function storeAt(dynamoPort: number): { read(): Promise<ClusterSnapshot>; close(): void } {
  const client = createDynamoDbClient({ endpoint: `http://127.0.0.1:${dynamoPort}` });
  const store = new DynamoDbStore({ client, tableName: DEFAULT_TABLE_NAME });
  return { read: () => store.readCluster(CLUSTER, { timeoutMs: 3000 }), close: () => client.destroy() };
}

/** Fence keepers of the run's data directories still alive. */
function fenceKeepers(dir: string): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .filter((pid) => processIdentity(pid)?.cmdline.includes(`pgfloat-fence-keeper ${dir}/`) === true);
}

function leaderText(l: LeaderItem | null): string {
  return l === null ? 'no leader' : `${l.holder} term ${l.term} ${l.phase} (version ${l.version}, timeline ${l.timeline})`;
}

/** Where in the failover the run is killed: a test of its own each, on a cluster of its own. */
const KILL_POINTS = [
  { name: 'once the next term is granted, before the grantee confirms it', reached: (l: LeaderItem, oldTerm: number) => l.term > oldTerm },
  { name: 'once the grantee confirmed the next term, before the endpoint follows', reached: (l: LeaderItem, oldTerm: number) => l.term > oldTerm && l.phase === 'active' },
] as const;

for (const point of KILL_POINTS) {
  describe(`kill -9 of the whole local run in the middle of a synchronous failover, ${point.name}`, { concurrency: false }, () => {
    let first: LocalRun | undefined;
    let second: LocalRun | undefined;
    let writer: Writer | undefined;
    after(
      async () => {
        await writer?.stop();
        await second?.forceStop();
        await first?.forceStop();
        const dir = first?.dir;
        if (dir === undefined) return;
        // A fence keeper leaves by itself once disarmed or once its postmaster is gone; bounded, then by pid.
        await waitFor('no fence keeper left', async () => (fenceKeepers(dir).length === 0 ? true : undefined), { timeoutMs: 15_000, intervalMs: 200 }).catch(() => undefined);
        for (const pid of fenceKeepers(dir)) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone meanwhile
          }
        }
        if (process.env.PGFLOAT_TEST_KEEP === undefined) first?.remove();
      },
      { timeout: 180_000 },
    );

    test(
      'started again on its directory, the run loses no acknowledged write, never lets two nodes take writes at once, and comes back with one primary',
      { timeout: 900_000 },
      async (t) => {
        // Prepare: a synchronous cluster, healthy, with the synchronous standby in force, and the writer going
        first = await LocalRun.start(OPTIONS);
        const run1 = first;
        await run1.ready(BOUND_MS);
        const context1 = (): string => run1.diagnostics();
        const before = await waitFor(
          'an active leader with two streaming replicas',
          async () => {
            const l = await run1.list();
            return healthy(l) ? l : undefined;
          },
          { timeoutMs: BOUND_MS, intervalMs: 250, context: context1 },
        );
        const old = before.leader;
        assert.ok(old !== null);
        const nodes = run1.state().nodes;
        const oldPort = nodes.find((n) => n.name === old.name)?.pgPort;
        assert.ok(oldPort !== undefined);
        const store1 = storeAt(run1.dynamoPort);
        const syncInForce = await waitFor(
          `a synchronous standby of ${old.name}, in the store and in PostgreSQL`,
          async () => {
            const s = await store1.read();
            const names = await sql<{ v: string }>(oldPort, "SELECT current_setting('synchronous_standby_names') AS v").then((r) => r[0]?.v ?? '');
            const standbys = s.sync?.leader === old.name && s.sync.term === old.term ? s.sync.standbys : [];
            return s.config?.config.synchronousMode === true && standbys.length > 0 && names !== '' ? { standbys, names } : undefined;
          },
          { timeoutMs: BOUND_MS, intervalMs: 250, context: context1 },
        );
        await sql(run1.port, 'CREATE TABLE checked (id int PRIMARY KEY, node text)');
        const nodeAtPort = new Map(nodes.map((n) => [n.pgPort, n.name] as const));
        writer = startWriter([...nodes.map((n) => ({ name: n.name, port: n.pgPort })), { name: 'endpoint', port: run1.port }], nodeAtPort);
        const w = writer;
        await waitFor(
          `writes acknowledged by ${old.name} directly and through the endpoint`,
          async () => (w.acks.filter((a) => a.node === old.name).length >= 20 && w.acks.filter((a) => a.node === 'endpoint').length >= 20 ? true : undefined),
          { timeoutMs: BOUND_MS, context: context1 },
        );

        // Act: kill -9 of the primary; at the grant of the next term, kill -9 of the run and all its agents
        const killedPrimaryAt = performance.now();
        run1.kill9(old.name);
        const grant = await waitFor(
          `the leader item ${point.name}`,
          async () => {
            const l = (await store1.read()).leader;
            return l !== null && point.reached(l, old.term) ? l : undefined;
          },
          { timeoutMs: BOUND_MS, intervalMs: 20, context: context1 },
        );
        const killedRun = await run1.kill9Run();
        const killedRunAt = performance.now();
        store1.close();
        await waitFor(
          'every agent and DynamoDB Local of the killed run gone',
          async () => (run1.leftovers().every((l) => !l.includes('--config') && !l.includes('DynamoDBLocal.jar')) ? true : undefined),
          { timeoutMs: 60_000, intervalMs: 100, context: () => run1.leftovers().join('\n') },
        );
        const leftRunning = run1.leftovers();

        second = await LocalRun.start(OPTIONS, run1.place);
        const run2 = second;
        const restartedAt = performance.now();
        const context2 = (): string => run2.diagnostics();
        await run2.ready(BOUND_MS);
        const readyAt = performance.now();

        // Assess: the same nodes on the same ports; one primary again, writable through the endpoint
        assert.equal(run2.state().endpointPort, run1.port, 'the endpoint on the same port');
        assert.deepEqual(
          run2.state().nodes.map((n) => [n.name, n.pgPort, n.apiPort]),
          nodes.map((n) => [n.name, n.pgPort, n.apiPort]),
          'the nodes of state.json on the same ports',
        );
        // Whether both replicas stream again is not what this test is about: the primary is.
        const settled = await waitFor(
          'an active leader running as primary, and the only node that takes writes',
          async () => {
            const l = await run2.list();
            if (!leaderUp(l) || l.leader === null) return undefined;
            const open = await writable(nodes);
            return open.length === 1 && open[0] === l.leader.name ? l : undefined;
          },
          { timeoutMs: BOUND_MS, intervalMs: 250, context: context2 },
        );
        const settledAt = performance.now();
        const leader = settled.leader;
        assert.ok(leader !== null);
        const leaderPort = nodes.find((n) => n.name === leader.name)?.pgPort;
        assert.ok(leaderPort !== undefined);
        let probeId = 0;
        const served = await waitFor(
          'a write through the endpoint',
          async () => Number((await sql<{ port: number }>(run2.port, 'INSERT INTO checked VALUES ($1, $2) RETURNING inet_server_port() AS port', [--probeId, 'probe']))[0]?.port),
          { timeoutMs: BOUND_MS, context: context2 },
        );
        assert.equal(served, leaderPort, `the endpoint leads to the leader ${leader.name}`);
        // The writer ran across both runs: acknowledged by the new leader, directly and through the endpoint.
        await waitFor(
          `writes acknowledged by ${leader.name} since the restart, directly and through the endpoint`,
          async () => {
            const since = w.acks.filter((a) => a.startedAt > restartedAt);
            return since.some((a) => a.node === leader.name) && since.some((a) => a.node === 'endpoint' && w.servedBy.get(a.id) === leader.name) ? true : undefined;
          },
          { timeoutMs: BOUND_MS, context: context2 },
        );
        await w.stop();
        const acks = [...w.acks];
        const final = await run2.list();
        assert.deepEqual(final.leader, leader, 'still the same leader once the writer stopped');

        const byNode = acks.map((a) => (a.node === 'endpoint' ? { ...a, node: w.servedBy.get(a.id) ?? 'unknown' } : a));
        const counts = (xs: readonly Ack[]): string =>
          [...new Set(xs.map((a) => a.node))]
            .sort()
            .map((n) => `${n} ${xs.filter((a) => a.node === n).length}`)
            .join(', ');
        const history = await run2.history().catch((): HistoryJson[] => []);
        t.diagnostic(`synchronous standby of ${old.name} before the kill: ${syncInForce.standbys.join(', ')} (synchronous_standby_names = ${syncInForce.names})`);
        t.diagnostic(`run killed ${Math.round(killedRunAt - killedPrimaryAt)} ms after the primary, on reading the leader item ${leaderText(grant)}`);
        t.diagnostic(`killed run ${killedRun.runPid} and agents ${killedRun.agentPids.join(', ')}; left running: ${leftRunning.map((l) => l.slice(0, 80)).join(' | ') || 'nothing'}`);
        t.diagnostic(`history: ${history.map((h) => `${h.term} ${h.kind} ${h.from ?? '-'}->${h.to}`).join(' | ')}`);
        for (const h of history.filter((x) => x.term > old.term)) t.diagnostic(`term ${h.term}: ${h.reason}`);
        t.diagnostic(`restarted run ready ${Math.round(readyAt - restartedAt)} ms after its start, settled ${Math.round(settledAt - restartedAt)} ms after; members then: ${settled.members.map((m) => `${m.Member} ${m.Role} ${m.State} TL ${m.TL}`).join(', ')}`);
        t.diagnostic(`acknowledged: ${acks.length} (${counts(acks)}); by node, endpoint writes included: ${counts(byNode)}`);
        t.diagnostic(
          `acknowledged before the run's kill: ${acks.filter((a) => a.endedAt < killedRunAt).length}, after the restart: ${acks.filter((a) => a.startedAt > restartedAt).length}; last of ${old.name} ${Math.round(Math.max(...acks.filter((a) => a.node === old.name).map((a) => a.endedAt)) - killedPrimaryAt)} ms after its kill`,
        );

        const bad = overlaps(byNode);
        assert.deepEqual(
          bad.map((a) => `${a.node}#${a.id}`),
          [],
          `no node took a write after another had taken over\n${bad
            .slice(0, 10)
            .map((a) => `${a.node}#${a.id} at ${Math.round(a.startedAt - killedPrimaryAt)}..${Math.round(a.endedAt - killedPrimaryAt)} ms`)
            .join('\n')}`,
        );
        const ids = acks.map((a) => a.id);
        const present = new Set((await sql<{ id: number }>(leaderPort, 'SELECT id FROM checked WHERE id = ANY($1::int[])', [ids], 30_000)).map((r) => Number(r.id)));
        const lost = byNode.filter((a) => !present.has(a.id));
        assert.deepEqual(
          lost.map((a) => `${a.node}#${a.id}`),
          [],
          `every acknowledged write is on the final primary ${leader.name}: lost ${lost.length} of ${acks.length}\n${lost
            .slice(0, 10)
            .map((a) => `${a.node}#${a.id} at ${Math.round(a.startedAt - killedPrimaryAt)}..${Math.round(a.endedAt - killedPrimaryAt)} ms`)
            .join('\n')}\n${context2()}`,
        );
      },
    );
  });
}
