// `pgfloat restart`, `reload`, `reinit` and `flush restart` against agents'
// APIs (each a real health API server on loopback answering as told): what
// each command asks of which member, in which order, with which
// credentials, and what a refusal or an unreachable agent does to the exit code.
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { createHealthApi, listenHealthApi, type HealthApiOptions, type MutationResult } from '../../lib/agent/api.js';
import type { ClusterId } from '../../lib/dcs/keys.js';
import type { Store } from '../../lib/dcs/store.js';
import { label, newCluster, openHarness, run, seedCluster, type Harness } from './harness.js';

const AUTH = { username: 'ops', password: 'pw' };
const ENV = { PGFLOAT_API_AUTH: 'ops:pw' };

interface Fake {
  readonly calls: string[];
  answer: MutationResult;
}

/** One fake agent API per member of `c`, recording "member METHOD /path body"; the members' apiUrl points at them. */
async function fakeAgents(store: Store, c: ClusterId, calls: string[]): Promise<{ fakes: Map<string, Fake>; servers: Server[] }> {
  const fakes = new Map<string, Fake>();
  const servers: Server[] = [];
  const snap = await store.readCluster(c);
  for (const m of snap.members) {
    const fake: Fake = { calls, answer: { status: 200, message: 'done' } };
    const rec = (what: string) => async (req?: unknown): Promise<MutationResult> => {
      calls.push(`${m.name} ${what}${req === undefined ? '' : ` ${JSON.stringify(req)}`}`);
      return fake.answer;
    };
    const o: HealthApiOptions = {
      status: () => {
        throw new Error('not served here');
      },
      cluster: () => ({ scope: c.scope, paused: false, leader: null, term: null, members: [] }),
      now: () => 0,
      auth: AUTH,
      onRestart: rec('POST /restart'),
      onCancelRestart: () => rec('DELETE /restart')(),
      onReload: () => rec('POST /reload')(),
      onReinitialize: () => rec('POST /reinitialize')(),
    };
    const server = createHealthApi(o);
    const port = await listenHealthApi(server, '127.0.0.1', 0);
    servers.push(server);
    fakes.set(m.name, fake);
    await store.heartbeat(c, { ...m, apiUrl: `http://127.0.0.1:${port}/patroni` }, m.version);
  }
  return { fakes, servers };
}

describe('pgfloat restart, reload, reinit and flush restart', () => {
  let h: Harness;
  const servers: Server[] = [];
  before(async () => {
    h = await openHarness();
  });
  after(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
    await h.table.close();
  });

  async function prepare(seed: Parameters<typeof seedCluster>[2] = {}) {
    const c = newCluster();
    await seedCluster(h.store, c, seed);
    const calls: string[] = [];
    const f = await fakeAgents(h.store, c, calls);
    servers.push(...f.servers);
    return { c, calls, fakes: f.fakes };
  }

  test('restart asks every member, replicas first and the leader last, with the API credentials', async () => {
    // Prepare
    const { c, calls } = await prepare();
    // Act
    const r = await run(['restart', label(c), '--force'], { store: h.store, env: ENV });
    // Assess
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(calls, ['b POST /restart {}', 'c POST /restart {}', 'a POST /restart {}']);
  });

  test('restart takes members after the cluster, as patronictl does, or with --member', async () => {
    // Prepare
    const { c, calls } = await prepare();
    // Act
    const positional = await run(['restart', label(c), 'c', 'b', '--force'], { store: h.store, env: ENV });
    const flagged = await run(['restart', '--cluster', label(c), 'b', '--force'], { store: h.store, env: ENV });
    const ghost = await run(['restart', label(c), 'zz', '--force'], { store: h.store, env: ENV });
    // Assess
    assert.equal(positional.code, 0, positional.stderr);
    assert.equal(flagged.code, 0, flagged.stderr);
    assert.deepEqual(calls, ['b POST /restart {}', 'c POST /restart {}', 'b POST /restart {}']);
    assert.equal(ghost.code, 1);
    assert.match(ghost.stderr, /zz is not a member/);
  });

  test('restart --pending asks only members with a setting waiting, --role replica never the leader', async () => {
    // Prepare
    const { c, calls } = await prepare({ replicas: [{ name: 'b', lsn: 100 * 1024 * 1024, pendingRestart: ['shared_buffers'] }, { name: 'c', lsn: 100 * 1024 * 1024 }] });
    // Act
    const pending = await run(['restart', label(c), '--pending', '--force'], { store: h.store, env: ENV });
    const replicas = await run(['restart', label(c), '--role', 'replica', '--force'], { store: h.store, env: ENV });
    // Assess
    assert.equal(pending.code, 0, pending.stderr);
    assert.equal(replicas.code, 0, replicas.stderr);
    assert.deepEqual(calls, ['b POST /restart {"pendingOnly":true}', 'b POST /restart {"role":"replica"}', 'c POST /restart {"role":"replica"}']);
  });

  test('restart --scheduled passes the time; a time past or unreadable is a usage error and asks nobody', async () => {
    // Prepare
    const { c, calls } = await prepare();
    // Act
    const ok = await run(['restart', label(c), '--member', 'b', '--scheduled', '2099-01-31T02:00:00Z', '--force'], { store: h.store, env: ENV });
    const past = await run(['restart', label(c), '--scheduled', '2001-01-01T00:00:00Z', '--force'], { store: h.store, env: ENV });
    const garbage = await run(['restart', label(c), '--scheduled', 'tomorrow', '--force'], { store: h.store, env: ENV });
    // Assess
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(calls, [`b POST /restart {"scheduledAt":${Date.parse('2099-01-31T02:00:00Z')}}`]);
    assert.equal(past.code, 2);
    assert.match(past.stderr, /that time has passed/);
    assert.equal(garbage.code, 2);
  });

  test('a member that refuses or cannot be reached fails the command, after the others are asked', async () => {
    // Prepare
    const { c, calls, fakes } = await prepare();
    (fakes.get('b') as Fake).answer = { status: 503, message: 'restart conditions are not satisfied' };
    const snap = await h.store.readCluster(c);
    const cItem = snap.members.find((m) => m.name === 'c');
    assert.ok(cItem !== undefined);
    await h.store.heartbeat(c, { ...cItem, apiUrl: 'http://127.0.0.1:9/patroni' }, cItem.version);
    // Act
    const r = await run(['restart', label(c), '--force'], { store: h.store, env: ENV });
    // Assess
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^b: FAILED: restart conditions are not satisfied \(503\)$/m);
    assert.match(r.stdout, /^c: FAILED: cannot reach the agent at http:\/\/127\.0\.0\.1:9/m);
    assert.deepEqual(calls, ['b POST /restart {}', 'a POST /restart {}']);
  });

  test('without credentials nothing is asked, and the refusal says where to put them', async () => {
    // Prepare
    const { c, calls } = await prepare();
    // Act
    const r = await run(['restart', label(c), '--force'], { store: h.store });
    // Assess
    assert.equal(r.code, 1);
    assert.match(r.stderr, /set PGFLOAT_API_AUTH=user:password, or pass -c agent\.yml/);
    assert.deepEqual(calls, []);
  });

  test('reload asks every member; reinit asks the one named, and refuses the leader', async () => {
    // Prepare
    const { c, calls } = await prepare();
    // Act
    const reload = await run(['reload', label(c), '--force'], { store: h.store, env: ENV });
    const leader = await run(['reinit', label(c), 'a', '--force', '--no-wait'], { store: h.store, env: ENV });
    const reinit = await run(['reinit', label(c), 'b', '--force', '--no-wait'], { store: h.store, env: ENV });
    // Assess
    assert.equal(reload.code, 0, reload.stderr);
    assert.equal(leader.code, 1);
    assert.match(leader.stderr, /reinit refused: a leads .* switch over first/);
    assert.equal(reinit.code, 0, reinit.stderr);
    assert.deepEqual(calls, ['b POST /reload', 'c POST /reload', 'a POST /reload', 'b POST /reinitialize']);
  });

  test('flush restart cancels on every member; none scheduled is not a failure', async () => {
    // Prepare
    const { c, calls, fakes } = await prepare();
    (fakes.get('c') as Fake).answer = { status: 404, message: 'no restart is scheduled' };
    // Act
    const r = await run(['flush', label(c), 'restart', '--force'], { store: h.store, env: ENV });
    // Assess
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^c: none scheduled$/m);
    assert.deepEqual(calls.sort(), ['a DELETE /restart', 'b DELETE /restart', 'c DELETE /restart']);
  });
});
