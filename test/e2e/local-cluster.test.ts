// The local cluster end to end, driven the way its user drives it: `npm
// start`'s script with its options, `pgfloat ... --json` for every look and
// every change, the drill for the kill -9, and SQL through the endpoint
// port. The tests run in order on one cluster; each asserts one behaviour.
//
// --restart-after is larger than ttl on purpose: an agent restarted within
// its lease finds itself still the holder and keeps the lease (PostgreSQL
// restarted, same term), so a kill -9 only becomes a failover when the node
// stays down for longer than ttl.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import { sql } from '../support/pgcluster.js';
import { LocalRun, portOf, streamingReplica, waitFor, type DrillJson, type HistoryJson, type ListJson } from './local-run.js';

const TTL = 3;
const RESTART_AFTER = 8;
const OPTIONS = { ttl: TTL, loopWait: 0.5, retryTimeout: 1, tickMs: 100, scheduleMs: 20_000, restartAfter: RESTART_AFTER };

let run: LocalRun | undefined;
/** Ids of the rows whose INSERT through the endpoint was acknowledged. */
const committed: number[] = [];
let nextId = 1;
/** What earlier tests saw, for the ones after them. */
const seen = {
  bootstrapLeader: '',
  drill: { killed: '', killedAgentPid: 0, promoted: '' },
  switchover: { from: '', to: '' },
  failoverAfterResume: { from: '', to: '' },
};

function cluster(): LocalRun {
  if (run === undefined) throw new Error('the local run did not start');
  return run;
}

function context(): string {
  return cluster().diagnostics();
}

/** One INSERT through the endpoint, retried (new id each time) until acknowledged; where it landed. */
async function write(step: string, timeoutMs = 30_000): Promise<{ id: number; port: number }> {
  const c = cluster();
  return waitFor(
    `a write through the endpoint port ${c.port} (${step})`,
    async () => {
      const id = nextId++;
      const rows = await sql<{ port: number }>(c.port, 'INSERT INTO e2e_rows (id, step) VALUES ($1, $2) RETURNING inet_server_port() AS port', [id, step]);
      committed.push(id);
      return { id, port: Number(rows[0]?.port) };
    },
    { timeoutMs, intervalMs: 200, context },
  );
}

/** The committed ids missing on the node at `port`. */
async function missingAt(port: number): Promise<number[]> {
  const rows = await sql<{ id: string }>(port, 'SELECT id FROM e2e_rows WHERE id = ANY($1::bigint[])', [committed]);
  const present = new Set(rows.map((r) => Number(r.id)));
  return committed.filter((id) => !present.has(id));
}

/** Waits until every committed row is visible on each of the given nodes (replicas replay asynchronously). */
async function replicated(ports: readonly number[], timeoutMs = 20_000): Promise<void> {
  await waitFor(
    `every committed row on the nodes at ports ${ports.join(', ')}`,
    async () => {
      for (const p of ports) if ((await missingAt(p)).length > 0) return undefined;
      return true;
    },
    { timeoutMs, intervalMs: 200, context },
  );
}

/** Polls `list --json` until `check` holds. */
function listUntil(what: string, check: (l: ListJson) => boolean, timeoutMs: number): Promise<ListJson> {
  const c = cluster();
  return waitFor(
    what,
    async () => {
      const l = await c.list();
      return check(l) ? l : undefined;
    },
    { timeoutMs, intervalMs: 250, context },
  );
}

/** A healthy cluster: an active leader and every other member a replica streaming on its timeline. */
function healthy(l: ListJson, members = 3): boolean {
  const leader = l.leader;
  if (leader === null || leader.phase !== 'active' || l.members.length !== members) return false;
  const timeline = l.members.find((m) => m.Member === leader.name)?.TL;
  return l.members.every((m) => (m.Member === leader.name ? m.Role === 'Leader' && m.State === 'running' : streamingReplica(m) && m.TL === timeline));
}

/**
 * `list --json` again and again until both `until` (performance.now() time)
 * has passed and at least `atLeast` listings were made: however slow each
 * listing is on a loaded machine, the cluster is looked at across the whole
 * span, several times.
 */
async function listingsUntil(until: number, atLeast: number): Promise<ListJson[]> {
  const seenLists: ListJson[] = [];
  while (performance.now() < until || seenLists.length < atLeast) {
    seenLists.push(await cluster().list());
    await delay(250);
  }
  return seenLists;
}

function replicaPorts(l: ListJson): number[] {
  return l.members.filter((m) => m.Member !== l.leader?.name).map((m) => portOf(l, m.Member));
}

describe('the local cluster, as its user runs it', { concurrency: false }, () => {
  before(
    async () => {
      run = await LocalRun.start(OPTIONS);
      const t0 = performance.now();
      await run.ready(120_000);
      console.log(`# local run ready after ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    },
    { timeout: 150_000 },
  );

  after(
    async () => {
      if (run === undefined) return;
      await run.forceStop();
      if (process.env.PGFLOAT_TEST_KEEP === undefined) run.remove();
    },
    { timeout: 120_000 },
  );

  test('lists three members, one leader and two streaming replicas, and takes writes at the endpoint', { timeout: 120_000 }, async () => {
    // Prepare
    const c = cluster();
    await listUntil('three members, an active leader and two streaming replicas', (l) => healthy(l), 90_000);

    // Act
    await waitFor('CREATE TABLE through the endpoint', () => sql(c.port, 'CREATE TABLE IF NOT EXISTS e2e_rows (id bigint PRIMARY KEY, step text NOT NULL)').then(() => true), {
      timeoutMs: 20_000,
      context,
    });
    const written = await write('healthy cluster');
    const list = await c.list();

    // Assess
    assert.equal(list.cluster, 'pgfloat/local');
    assert.equal(list.paused, false);
    assert.equal(list.failover, null);
    assert.equal(list.members.length, 3);
    const leader = list.leader;
    assert.ok(leader !== null && leader.phase === 'active', `an active leader: ${JSON.stringify(list)}`);
    assert.deepEqual(
      list.members.filter((m) => m.Role === 'Leader').map((m) => m.Member),
      [leader.name],
    );
    const replicas = list.members.filter((m) => m.Member !== leader.name);
    assert.equal(replicas.length, 2);
    for (const r of replicas) assert.ok(streamingReplica(r), `a streaming replica with a known lag: ${JSON.stringify(r)}`);
    assert.equal(written.port, portOf(list, leader.name), 'the endpoint leads to the leader');
    await replicated(replicaPorts(list));
    seen.bootstrapLeader = leader.name;
  });

  test('fails over when the primary is killed with kill -9: grant, promotion, endpoint move, then the first write', { timeout: 150_000 }, async (t) => {
    // Prepare
    const c = cluster();
    const before = await c.list();
    const old = before.leader;
    assert.ok(old !== null && old.phase === 'active', `an active leader to kill: ${JSON.stringify(before)}`);
    const killedAgentPid = c.state().nodes.find((n) => n.name === old.name)?.agentPid ?? 0;
    seen.drill = { killed: old.name, killedAgentPid, promoted: '' };

    // Act
    const drill = await c.drill(60);

    // Assess
    assert.equal(drill.code, 0, `the drill exits 0: ${drill.stderr}\n${drill.stdout}\n${context()}`);
    const report = JSON.parse(drill.stdout) as DrillJson;
    assert.equal(report.killed, old.name);
    assert.equal(report.term, old.term);
    const step = (re: RegExp): { index: number; at: number; match: RegExpExecArray } => {
      const index = report.events.findIndex((e) => re.test(e.what));
      const e = report.events[index];
      assert.ok(e !== undefined, `the drill reports ${re}: ${JSON.stringify(report.events, null, 2)}`);
      return { index, at: e.at, match: re.exec(e.what) as RegExpExecArray };
    };
    const killed = step(/^killed (\S+) /);
    const granted = step(/^granted (\S+) term (\d+): /);
    const promoted = step(/^(\S+) promoted and confirmed term (\d+)$/);
    const moved = step(/^endpoint moved to (\S+) /);
    const firstWrite = step(/^first write acknowledged through the endpoint$/);
    // The drill reads the store and writes through the endpoint in turns, so its first write may be
    // acknowledged before it reads the move that write went through: the write is ordered after the
    // kill only; the store's own record of the steps is checked below with history --json.
    assert.equal(killed.index, 0, 'the kill comes first');
    assert.ok(killed.index < granted.index && granted.index <= promoted.index && promoted.index < moved.index, `grant, promotion, endpoint move in order: ${JSON.stringify(report.events, null, 2)}`);
    assert.ok(granted.at <= promoted.at && promoted.at <= moved.at && killed.at <= firstWrite.at, 'step times never go back');
    const successor = granted.match[1] as string;
    assert.notEqual(successor, old.name);
    assert.equal(Number(granted.match[2]), old.term + 1);
    assert.equal(promoted.match[1], successor);
    assert.equal(moved.match[1], successor);
    t.diagnostic(`drill: ${report.events.map((e) => `${e.at} ms ${e.what.split(':')[0]}`).join(' | ')}`);

    const after = await c.list();
    assert.deepEqual(after.leader, { name: successor, term: old.term + 1, phase: 'active' });
    const written = await write('after kill -9');
    assert.equal(written.port, portOf(after, successor), 'writes at the endpoint land on the new leader');
    assert.deepEqual(await missingAt(c.port), [], 'every row committed before the kill is there');
    seen.drill = { killed: old.name, killedAgentPid, promoted: successor };
    const row = (await c.history()).find((h) => h.term === old.term + 1);
    assert.ok(row !== undefined && row.kind === 'failover' && row.to === successor, `history --json records the failover: ${JSON.stringify(row)}`);
    const times = [row.grantedAt, row.promotedAt, row.endpointMovedAt].map((t) => (t === null ? Number.NaN : Date.parse(t)));
    assert.ok(times.every((t, i) => Number.isFinite(t) && (i === 0 || t >= (times[i - 1] as number))), `granted, promoted, endpoint moved in order: ${JSON.stringify(row)}`);
  });

  test('restarts the killed node, which rejoins as a streaming replica and replays new writes', { timeout: 120_000 }, async () => {
    // Prepare
    const c = cluster();
    const { killed, killedAgentPid } = seen.drill;
    assert.notEqual(killed, '', 'the drill killed a node');

    // Act: the run restarts the agent after --restart-after; the agent rewinds and follows.
    const list = await listUntil(
      `${killed} back as a streaming replica with a known lag`,
      (l) => healthy(l) && l.members.some((m) => m.Member === killed && streamingReplica(m)),
      90_000,
    );
    const written = await write('after the rejoin');

    // Assess
    const leader = list.leader;
    assert.ok(leader !== null);
    assert.notEqual(leader.name, killed);
    const member = list.members.find((m) => m.Member === killed);
    assert.equal(member?.TL, list.members.find((m) => m.Member === leader.name)?.TL, 'on the leader timeline');
    const restartedPid = c.state().nodes.find((n) => n.name === killed)?.agentPid;
    assert.ok(restartedPid !== null && restartedPid !== undefined && restartedPid !== killedAgentPid, 'a new agent process');
    const port = portOf(list, killed);
    assert.notEqual(written.port, port);
    await replicated([port]);
    const recovery = await sql<{ r: boolean }>(port, 'SELECT pg_is_in_recovery() AS r');
    assert.equal(recovery[0]?.r, true, `${killed} is a standby`);
  });

  test('restarts a replica killed with kill -9, which streams again while the leader keeps its term', { timeout: 120_000 }, async () => {
    // Prepare
    const c = cluster();
    const before = await listUntil('a healthy cluster', (l) => healthy(l), 30_000);
    const leader = before.leader;
    assert.ok(leader !== null);
    const replica = before.members.map((m) => m.Member).filter((m) => m !== leader.name).sort()[0] as string;
    const termsBefore = (await c.history()).map((h) => h.term);

    // Act
    const { agentPid } = c.kill9(replica);
    const back = await listUntil(
      `${replica} restarted and streaming again`,
      (l) => healthy(l) && c.state().nodes.find((n) => n.name === replica)?.agentPid !== agentPid,
      60_000,
    );

    // Assess
    assert.deepEqual(back.leader, leader, 'the leader kept its lease');
    assert.deepEqual((await c.history()).map((h) => h.term), termsBefore, 'no new term');
    await write('after a replica restart');
    await replicated([portOf(back, replica)]);
  });

  test('switches over to a named replica: the endpoint writes on it and the old leader follows it', { timeout: 120_000 }, async () => {
    // Prepare
    const c = cluster();
    const before = await listUntil('a healthy cluster', (l) => healthy(l), 30_000);
    const old = before.leader;
    assert.ok(old !== null);
    const candidate = before.members.filter((m) => m.Member !== old.name && streamingReplica(m)).map((m) => m.Member).sort()[0];
    assert.ok(candidate !== undefined, `a streaming replica: ${JSON.stringify(before)}`);

    // Act
    const r = await c.pgfloat(['switchover', '--candidate', candidate, '--force', '--wait', '30'], 60_000);
    const switched = performance.now();

    // Assess
    assert.equal(r.code, 0, `switchover exits 0: ${r.stderr}\n${r.stdout}\n${context()}`);
    const out = JSON.parse(r.stdout) as { written: { kind: string; from: string; to: string } };
    assert.equal(out.written.kind, 'switchover');
    assert.equal(out.written.from, old.name);
    assert.equal(out.written.to, candidate);
    const after = await c.list();
    assert.deepEqual(after.leader, { name: candidate, term: old.term + 1, phase: 'active' });
    assert.equal(after.failover, null, 'the request is done');
    const written = await write('after the switchover');
    assert.equal(written.port, portOf(after, candidate), 'writes at the endpoint land on the candidate');
    const at = await sql<{ port: number }>(c.port, 'SELECT inet_server_port() AS port');
    assert.equal(Number(at[0]?.port), portOf(after, candidate));
    assert.deepEqual(await missingAt(c.port), []);
    seen.switchover = { from: old.name, to: candidate };
    // The old leader follows the candidate, and keeps following it past the ttl of the lease it handed over.
    await listUntil(`${old.name} streaming from ${candidate}`, (l) => healthy(l) && l.leader?.name === candidate, 45_000);
    const later = await listingsUntil(switched + (TTL + 1) * 1000, 2);
    for (const l of later) assert.ok(healthy(l) && l.leader?.name === candidate, `every member healthy, ${old.name} a streaming replica: ${JSON.stringify(l)}\n${context()}`);
    await replicated([portOf(after, old.name)]);
  });

  test('pause keeps the lease with a killed leader: no other member is granted, the replicas stay up', { timeout: 120_000 }, async () => {
    // Prepare
    const c = cluster();
    const before = await listUntil('a healthy cluster', (l) => healthy(l), 30_000);
    const leader = before.leader;
    assert.ok(leader !== null);
    const replicas = before.members.map((m) => m.Member).filter((m) => m !== leader.name).sort();
    const termsBefore = (await c.history()).map((h) => h.term);
    const paused = await c.json<{ paused: boolean; changed: boolean }>(['pause']);
    assert.equal(paused.paused, true);
    assert.equal(paused.changed, true);
    assert.equal((await c.list()).paused, true);

    // Act
    c.kill9(leader.name);
    const listings = await listingsUntil(performance.now() + (2 * TTL + 2) * 1000, 5);

    // Assess
    const observed = listings.map((l) => `${l.leader?.name ?? 'none'}@${l.leader?.term ?? '-'}`);
    assert.deepEqual([...new Set(observed)], [`${leader.name}@${leader.term}`], 'the lease never left the killed leader');
    // A crashed primary does not take its replicas down: they keep running (not streaming, with nobody to
    // stream from), ready for a failover once resumed.
    const replicaStates = listings.flatMap((l) => l.members.filter((m) => m.Member !== leader.name).map((m) => `${m.Member}: ${m.State}`));
    const running = (st: string): string => st.replace(/: (streaming|not streaming \(receiver [a-z]+\))$/, ': running');
    assert.deepEqual([...new Set(replicaStates.map(running))].sort(), replicas.map((m) => `${m}: running`), `the replicas stay up: ${[...new Set(replicaStates)].join('; ')}\n${context()}`);
    const after = await c.list();
    assert.equal(after.paused, true);
    assert.equal(after.leader?.name, leader.name);
    assert.equal(after.leader?.term, leader.term);
    assert.deepEqual((await c.history()).map((h) => h.term), termsBefore, 'no new term');
  });

  test('while paused the killed leader\'s agent starts nothing; once resumed it keeps its term and takes writes at the endpoint', { timeout: 120_000 }, async () => {
    // Prepare: the run restarts the killed leader's agent, which finds the lease still its own and, while
    // paused, leaves its PostgreSQL stopped: maintenance mode starts nothing.
    const c = cluster();
    const before = await c.list();
    const leader = before.leader;
    assert.ok(leader !== null && before.paused);
    const back = (l: ListJson) => l.members.find((m) => m.Member === leader.name);
    const waiting = await listUntil(`${leader.name}'s agent back, holding term ${leader.term} while paused`, (l) => l.paused && l.leader?.name === leader.name && back(l)?.State === 'stopped', 60_000);
    assert.equal(waiting.leader?.term, leader.term);

    // Act
    const resumed = await c.json<{ paused: boolean; changed: boolean }>(['resume']);

    // Assess
    assert.equal(resumed.paused, false);
    assert.equal(resumed.changed, true);
    const again = await listUntil(`${leader.name} leading again with every replica streaming`, (l) => healthy(l), 60_000);
    assert.equal(again.paused, false);
    assert.deepEqual(again.leader, { name: leader.name, term: leader.term, phase: 'active' });
    const written = await write('after resume');
    assert.equal(written.port, portOf(again, leader.name));
    assert.deepEqual(await missingAt(c.port), []);
  });

  test('with management resumed, kill -9 of the leader fails over to another member', { timeout: 120_000 }, async (t) => {
    // Prepare
    const c = cluster();
    const before = await listUntil('a healthy cluster', (l) => healthy(l), 30_000);
    const old = before.leader;
    assert.ok(old !== null);
    await write('before the second kill');
    await replicated(replicaPorts(before));

    // Act
    const t0 = performance.now();
    c.kill9(old.name);
    const after = await listUntil(
      `a leader other than ${old.name}`,
      (l) => l.leader !== null && l.leader.name !== old.name && l.leader.phase === 'active',
      30_000,
    );
    const failoverMs = Math.round(performance.now() - t0);

    // Assess
    const leader = after.leader;
    assert.ok(leader !== null);
    assert.equal(leader.term, old.term + 1);
    assert.equal(after.paused, false);
    const written = await write('after the failover');
    assert.equal(written.port, portOf(after, leader.name), 'writes at the endpoint land on the new leader');
    assert.deepEqual(await missingAt(c.port), [], 'every row committed before the kill is there');
    t.diagnostic(`failover after resume seen by list --json ${failoverMs} ms after the kill`);
    seen.failoverAfterResume = { from: old.name, to: leader.name };
  });

  test('history lists each leadership change with its cause, in term order', { timeout: 60_000 }, async () => {
    // Prepare
    const c = cluster();

    // Act
    const rows: HistoryJson[] = await c.history();

    // Assess
    assert.deepEqual(
      rows.map((h) => [h.term, h.kind, h.from, h.to]),
      [
        [1, 'bootstrap', null, seen.bootstrapLeader],
        [2, 'failover', seen.bootstrapLeader, seen.drill.promoted],
        [3, 'switchover', seen.drill.promoted, seen.switchover.to],
        [4, 'failover', seen.switchover.to, seen.failoverAfterResume.to],
      ],
      JSON.stringify(rows, null, 2),
    );
    assert.equal(seen.drill.killed, seen.bootstrapLeader);
    assert.equal(seen.switchover.from, seen.drill.promoted);
    assert.equal(seen.failoverAfterResume.from, seen.switchover.to);
    const [boot, drill, switchover, resumed] = rows as [HistoryJson, HistoryJson, HistoryJson, HistoryJson];
    assert.match(boot.reason, /bootstrap/);
    assert.match(drill.reason, new RegExp(`${seen.drill.killed}'s lease expired`));
    assert.match(switchover.reason, new RegExp(`switchover from ${seen.switchover.from} to ${seen.switchover.to}`));
    assert.match(resumed.reason, new RegExp(`${seen.failoverAfterResume.from}'s lease expired`));
    for (const h of rows) {
      assert.ok(h.promotedAt !== null && h.endpointMovedAt !== null, `term ${h.term} promoted and its endpoint moved: ${JSON.stringify(h)}`);
      assert.ok((h.endpointMovedAfterSeconds ?? -1) >= (h.promotedAfterSeconds ?? Infinity), `term ${h.term}: the endpoint moved after the promotion`);
    }
    // Each grant goes to a member on the timeline its predecessor wrote on; each promotion starts the next one.
    // The leader killed while paused stayed down until the resume, then came back read-only and promoted again
    // under its own lease (timeline 3),
    // so the failover after resume went to a member on timeline 4.
    assert.deepEqual(
      rows.map((h) => h.timeline),
      [1, 1, 2, 4],
    );
  });

  test('Ctrl-C stops the run and leaves no process behind', { timeout: 120_000 }, async () => {
    // Prepare
    const c = cluster();
    assert.ok(c.running, 'the run is still up');

    // Act
    const stopped = await c.stop(90_000);

    // Assess
    assert.equal(stopped.code, 0, stopped.output.slice(-2000));
    assert.match(stopped.output, /^stopped; nothing left running$/m);
    const left = await waitFor(
      'no process of the run left',
      async () => {
        const l = c.leftovers();
        return l.length === 0 ? l : undefined;
      },
      { timeoutMs: 5000, intervalMs: 100, context: () => c.leftovers().join('\n') },
    );
    assert.deepEqual(left, []);
  });
});
