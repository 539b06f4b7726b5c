import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_CONFIG } from '../../lib/dcs/items.js';
import { grant } from '../dcs/contract.js';
import { HEARTBEAT, label, LEADER_LSN, MB, NOW, newCluster, openHarness, racingStore, run, seedCluster, type Harness } from './harness.js';

/** Resolves once `read()` contains `text`; bounded to 5 s. */
async function until(read: () => string, text: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (read().includes(text)) return;
    await delay(10);
  }
  throw new Error(`gave up waiting for ${JSON.stringify(text)} in:\n${read()}`);
}

describe('pgfloat switchover', () => {
  let h: Harness;
  before(async () => {
    h = await openHarness();
  });
  after(async () => h.table.close());

  test('writes the request for an eligible candidate once the operator confirms', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    const asked: string[] = [];
    // Act
    const r = await run(['switchover', label(c), '--candidate', 'b', '--no-wait'], {
      store: h.store,
      confirm: async (q) => {
        asked.push(q);
        return true;
      },
    });
    // Assess
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(asked, [`Switchover of ${label(c)} now: demote leader a and promote b. Are you sure?`]);
    assert.equal(r.stdout, 'Switchover requested: a -> b\n');
    const snap = await h.store.readCluster(c);
    assert.deepEqual(snap.failover, {
      request: { kind: 'switchover', from: 'a', to: 'b', requestedAt: NOW, requestedBy: 'alice@ops' },
      version: 1,
    });
  });

  test('without --candidate needs some eligible replica and lets the arbiter choose', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    // Act
    const r = await run(['switchover', label(c), '--force', '--no-wait', '--json'], { store: h.store });
    // Assess
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      written: {
        kind: 'switchover',
        from: 'a',
        to: null,
        scheduledAt: null,
        requestedAt: new Date(NOW).toISOString(),
        requestedBy: 'alice@ops',
        version: 1,
      },
    });
    assert.equal((await h.store.readCluster(c)).failover?.request.to, undefined);
  });

  test('--scheduled writes the time and does not wait', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    // Act
    const r = await run(['switchover', label(c), '--candidate', 'b', '--scheduled', '2030-01-01T03:00Z', '--force'], { store: h.store });
    // Assess
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Switchover scheduled at 2030-01-01T03:00:00.000Z: a -> b\n');
    assert.equal((await h.store.readCluster(c)).failover?.request.scheduledAt, Date.parse('2030-01-01T03:00:00Z'));
  });

  const refusals: { what: string; replica: Parameters<typeof seedCluster>[2]; rule: RegExp }[] = [
    {
      what: 'lagging',
      replica: { replicas: [{ name: 'b', lsn: LEADER_LSN - 3 * MB }] },
      rule: /switchover to b refused: b is not eligible: lag 3145728 bytes > maximum_lag_on_failover 1048576; nothing written/,
    },
    {
      what: 'nofailover',
      replica: { replicas: [{ name: 'b', tags: { nofailover: true, failoverPriority: 1, nosync: false, noloadbalance: false } }] },
      rule: /switchover to b refused: b is not eligible: nofailover tag/,
    },
    {
      what: 'stale',
      replica: { replicas: [{ name: 'b', lsn: LEADER_LSN, heartbeatAt: NOW - 30_000 }] },
      rule: /switchover to b refused: b is not eligible: heartbeat stale 30\.0 s \(ttl 10\.0 s\)/,
    },
  ];
  for (const { what, replica, rule } of refusals) {
    test(`refuses a ${what} candidate, naming the rule, and writes nothing`, async () => {
      // Prepare
      const c = newCluster();
      await seedCluster(h.store, c, replica);
      // Act
      const r = await run(['switchover', label(c), '--candidate', 'b', '--force', '--no-wait'], { store: h.store });
      // Assess
      assert.equal(r.code, 1);
      assert.match(r.stderr, rule);
      assert.equal((await h.store.readCluster(c)).failover, null);
    });
  }

  test('refuses an unknown member and writes nothing', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    // Act
    const r = await run(['switchover', label(c), '--candidate', 'zed', '--force', '--no-wait'], { store: h.store });
    // Assess
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`zed is not a member of ${label(c)} \\(members: a, b, c\\)`));
    assert.equal((await h.store.readCluster(c)).failover, null);
  });

  test('without --force and without a terminal refuses, telling to pass --force, and writes nothing', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    // Act
    const r = await run(['switchover', label(c), '--candidate', 'b', '--no-wait'], {
      store: h.store,
      stdin: { isTTY: false, [Symbol.asyncIterator]: async function* () {} },
    });
    // Assess
    assert.equal(r.code, 1);
    assert.match(r.stderr, /stdin is not a terminal .* pass --force/);
    assert.equal((await h.store.readCluster(c)).failover, null);
  });

  test('writes nothing when the operator declines', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    // Act
    const r = await run(['switchover', label(c), '--candidate', 'b', '--no-wait'], { store: h.store, confirm: async () => false });
    // Assess
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Aborted: nothing written/);
    assert.equal((await h.store.readCluster(c)).failover, null);
  });

  test('while paused refuses a switchover without --candidate', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c, { paused: true });
    // Act
    const refused = await run(['switchover', label(c), '--force', '--no-wait'], { store: h.store });
    const afterRefusal = (await h.store.readCluster(c)).failover;
    const named = await run(['switchover', label(c), '--candidate', 'b', '--force', '--no-wait'], { store: h.store });
    // Assess
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /is paused, and a switchover while paused needs --candidate M; nothing written/);
    assert.equal(afterRefusal, null);
    assert.equal(named.code, 0, named.stderr);
  });

  test('refuses without a healthy leader', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    await h.store.releaseLeader(c, { holder: 'a', term: 1, lastLsn: LEADER_LSN });
    // Act
    const r = await run(['switchover', label(c), '--candidate', 'b', '--force', '--no-wait'], { store: h.store });
    // Assess
    assert.equal(r.code, 1);
    assert.match(r.stderr, /a switchover needs a healthy leader and a released the lease of term 1; use "failover --candidate M"/);
    assert.equal((await h.store.readCluster(c)).failover, null);
  });

  test('refuses to replace a pending request unless --force, which replaces it with CAS on its version', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    await h.store.setFailover(c, { kind: 'switchover', from: 'a', to: 'c', requestedAt: HEARTBEAT, requestedBy: 'bob@ops' }, null);
    // Act
    const refused = await run(['switchover', label(c), '--candidate', 'b', '--no-wait'], { store: h.store, confirm: async () => true });
    const forced = await run(['switchover', label(c), '--candidate', 'b', '--force', '--no-wait'], { store: h.store });
    // Assess
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /a request is already pending \(switchover from a to c requested by bob@ops .*\): pass --force to replace it/);
    assert.equal(forced.code, 0, forced.stderr);
    const f = (await h.store.readCluster(c)).failover;
    assert.equal(f?.version, 2);
    assert.equal(f?.request.to, 'b');
  });

  test('reports a request written by someone else between its read and its write', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    const store = racingStore(h.store, async () => {
      await h.store.setFailover(c, { kind: 'switchover', from: 'a', requestedAt: NOW, requestedBy: 'bob@ops' }, null);
    });
    // Act
    const r = await run(['switchover', label(c), '--candidate', 'b', '--force', '--no-wait'], { store });
    // Assess
    assert.equal(r.code, 1);
    assert.match(r.stderr, /switchover to b not written: the request item changed while you decided \(now: switchover from a requested by bob@ops .*, version 1\); run again/);
    assert.equal((await h.store.readCluster(c)).failover?.request.requestedBy, 'bob@ops');
  });

  test('--wait prints one line per step while the arbiter and the agents carry the switchover out', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    await h.store.putConfig(c, { ...DEFAULT_CONFIG, endpoint: { kind: 'local-proxy', host: '127.0.0.1', port: 6432 } }, null);
    let out = '';
    const read = (): string => out;
    // Act
    const cli = run(['switchover', label(c), '--candidate', 'b', '--force', '--wait', '10'], {
      store: h.store,
      pollMs: 5,
      onStdout: (s) => {
        out = s;
      },
    });
    await until(read, 'switchover requested: a -> b');
    const begun = await h.store.beginHandover(c, { expected: { version: 2, term: 1 }, candidate: 'b' });
    await until(read, 'asked to hand over');
    await h.store.completeHandover(c, { holder: 'a', term: 1, finalLsn: LEADER_LSN });
    await until(read, 'demoted');
    const demoted = await h.store.readCluster(c);
    const granted = await h.store.grantLeader(
      c,
      grant('b', { version: demoted.leader?.version ?? 0, term: 1 }, { previous: 'a', kind: 'switchover', lastLsn: LEADER_LSN, reason: 'switchover from a to b' }),
    );
    await h.store.clearFailover(c, 1);
    await until(read, 'granted');
    await h.store.confirmLeader(c, { holder: 'b', term: 2, lastLsn: LEADER_LSN, timeline: 2 });
    await until(read, 'promoted');
    await h.store.recordEndpoint(c, { member: 'b', term: 2, target: '10.0.0.2:5432', movedAt: NOW });
    const r = await cli;
    // Assess
    assert.ok(begun.ok && granted.ok);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    const step = (text: string): RegExp => new RegExp(`^ +\\d+\\.\\d s  ${text}$`);
    const expected = [
      step('switchover requested: a -> b'),
      step('leader a asked to hand over to b'),
      step('leader a demoted: stopped writes at 0/6400000'),
      step('b granted the lease \\(term 2\\)'),
      step('b promoted \\(term 2\\)'),
      step('endpoint \\(local-proxy\\) moved to b: 10\\.0\\.0\\.2:5432'),
      /^Switchover done: b leads \(term 2\)$/,
    ];
    assert.equal(lines.length, expected.length, r.stdout);
    expected.forEach((re, i) => assert.match(lines[i] ?? '', re));
  });

  test('--wait gives up with exit 1 when nothing happens in time, leaving the request in place', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    // Act
    const r = await run(['switchover', label(c), '--candidate', 'b', '--force', '--wait', '0.2'], { store: h.store, pollMs: 20 });
    // Assess
    assert.equal(r.code, 1);
    assert.match(r.stdout, /Timed out after 0\.\d s waiting for the arbiter to act on the request/);
    assert.equal((await h.store.readCluster(c)).failover?.request.to, 'b');
  });

  test('--wait reports a request the arbiter cleared without moving the leader', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    let out = '';
    // Act
    const cli = run(['switchover', label(c), '--candidate', 'b', '--force', '--wait', '10'], {
      store: h.store,
      pollMs: 5,
      onStdout: (s) => {
        out = s;
      },
    });
    await until(() => out, 'switchover requested');
    await h.store.clearFailover(c, 1);
    const r = await cli;
    // Assess
    assert.equal(r.code, 1);
    assert.match(r.stdout, /Switchover not done: the arbiter cleared the request without moving the leader/);
  });
});

describe('pgfloat failover', () => {
  let h: Harness;
  before(async () => {
    h = await openHarness();
  });
  after(async () => h.table.close());

  test('writes a failover request naming the candidate and the leader it replaces, lag rule skipped', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    // Act
    const r = await run(['failover', label(c), '--candidate', 'c', '--force', '--no-wait'], { store: h.store });
    // Assess
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Failover requested: a -> c\n');
    assert.deepEqual((await h.store.readCluster(c)).failover, {
      request: { kind: 'failover', from: 'a', to: 'c', requestedAt: NOW, requestedBy: 'alice@ops' },
      version: 1,
    });
  });

  test('refuses the leader itself and a member that does not run, writing nothing', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c, { replicas: [{ name: 'b', state: 'stopped' }] });
    // Act
    const leader = await run(['failover', label(c), '--candidate', 'a', '--force', '--no-wait'], { store: h.store });
    const stopped = await run(['failover', label(c), '--candidate', 'b', '--force', '--no-wait'], { store: h.store });
    // Assess
    assert.equal(leader.code, 1);
    assert.match(leader.stderr, /failover to a refused: a already leads \(term 1, active\)/);
    assert.equal(stopped.code, 1);
    assert.match(stopped.stderr, /failover to b refused: b is not eligible: state stopped, not running/);
    assert.equal((await h.store.readCluster(c)).failover, null);
  });

  test('needs --candidate: a usage error, exit 2', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    // Act
    const r = await run(['failover', label(c), '--force'], { store: h.store });
    // Assess
    assert.equal(r.code, 2);
    assert.match(r.stderr, /failover needs --candidate M/);
    assert.match(r.stderr, /Usage: pgfloat failover/);
  });

  test('--wait follows the failover until the candidate leads', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    let out = '';
    // Act
    const cli = run(['failover', label(c), '--candidate', 'b', '--force', '--wait', '10'], {
      store: h.store,
      pollMs: 5,
      onStdout: (s) => {
        out = s;
      },
    });
    await until(() => out, 'failover requested');
    await h.store.grantLeader(c, grant('b', { version: 2, term: 1 }, { previous: 'a', kind: 'manual-failover', reason: 'manual failover to b' }));
    await h.store.clearFailover(c, 1);
    await until(() => out, 'granted');
    await h.store.confirmLeader(c, { holder: 'b', term: 2, lastLsn: LEADER_LSN, timeline: 2 });
    const r = await cli;
    // Assess
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /b granted the lease \(term 2\)\n.*b promoted \(term 2\)\nFailover done: b leads \(term 2\); no endpoint configured\n$/);
  });
});
