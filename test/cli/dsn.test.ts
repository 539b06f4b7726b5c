import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ClusterId } from '../../lib/dcs/keys.js';
import { member } from '../dcs/contract.js';
import { HEARTBEAT, label, LEADER_LSN, newCluster, openHarness, run, seedCluster, type Harness } from './harness.js';

describe('pgfloat dsn', () => {
  let h: Harness;
  before(async () => {
    h = await openHarness();
  });
  after(async () => h.table.close());

  /** The cluster's partition as it stands, to show a refusal wrote nothing. */
  const stored = (c: ClusterId): Promise<unknown> => h.store.readCluster(c);

  test('prints the leader\'s libpq connection string by default and with --role leader', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    // Act
    const plain = await run(['dsn', label(c)], { store: h.store });
    const leader = await run(['dsn', label(c), '--role', 'leader'], { store: h.store });
    const json = await run(['dsn', label(c), '--json'], { store: h.store });
    // Assess
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(plain.stdout, 'host=10.0.0.1 port=5432\n');
    assert.equal(leader.stdout, 'host=10.0.0.1 port=5432\n');
    assert.deepEqual(JSON.parse(json.stdout), { member: 'a', dsn: 'host=10.0.0.1 port=5432' });
  });

  test('--member M prints that member\'s connection string', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    // Act
    const r = await run(['dsn', label(c), '--member', 'c'], { store: h.store });
    // Assess
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'host=10.0.0.3 port=5432\n');
  });

  test('--role replica prints the first streaming replica by name, passing over one stopped, not streaming or silent for a ttl', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c, {
      replicas: [
        { name: 'b', state: 'stopped' },
        { name: 'c', receiver: 'stopped' },
        { name: 'd', lsn: LEADER_LSN, heartbeatAt: HEARTBEAT - 60_000 },
        { name: 'e', lsn: LEADER_LSN },
        { name: 'f', lsn: LEADER_LSN },
      ],
    });
    // Act
    const r = await run(['dsn', label(c), '--role', 'replica'], { store: h.store });
    // Assess
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'host=10.0.0.5 port=5432\n');
  });

  test('an IPv6 host is given bare, a missing port as 5432, and a value with a space quoted per libpq', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c, {
      replicas: [
        { name: 'b', connUrl: 'postgres://[fd00::2]:6432/postgres' },
        { name: 'c', connUrl: 'postgresql://db.internal/postgres' },
        { name: 'd', connUrl: "postgres://my%20host's:5433/postgres" },
      ],
    });
    // Act
    const [b, cc, d] = await Promise.all(['b', 'c', 'd'].map((m) => run(['dsn', label(c), '--member', m], { store: h.store })));
    // Assess
    assert.equal(b?.stdout, 'host=fd00::2 port=6432\n');
    assert.equal(cc?.stdout, 'host=db.internal port=5432\n');
    assert.equal(d?.stdout, "host='my host\\'s' port=5433\n");
  });

  test('a member that does not exist is refused, naming it and the members: exit 1, nothing written', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    const before = await stored(c);
    // Act
    const r = await run(['dsn', label(c), '--member', 'zed'], { store: h.store });
    // Assess
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`^pgfloat: dsn --member zed refused: zed is not a member of ${label(c)} \\(members: a, b, c\\)`));
    assert.deepEqual(await stored(c), before);
  });

  test('a cluster without a leader is refused, saying so: exit 1, nothing written', async () => {
    // Prepare
    const c = newCluster();
    await h.store.heartbeat(c, member('b', { connUrl: 'postgres://10.0.0.2:5432/postgres', heartbeatAt: HEARTBEAT }), null);
    const before = await stored(c);
    // Act
    const r = await run(['dsn', label(c)], { store: h.store });
    // Assess
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `pgfloat: dsn refused: ${label(c)} has no leader (pass --member M for a given member)\n`);
    assert.deepEqual(await stored(c), before);
  });

  test('--role replica with no streaming replica is refused, naming each member\'s state: exit 1, nothing written', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c, { replicas: [{ name: 'b', state: 'stopped' }] });
    const before = await stored(c);
    // Act
    const r = await run(['dsn', label(c), '--role', 'replica'], { store: h.store });
    // Assess
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `pgfloat: dsn refused: ${label(c)} has no streaming replica (b: Replica, stopped)\n`);
    assert.deepEqual(await stored(c), before);
  });

  test('a member whose connUrl is no postgres:// URL is refused, showing it: exit 1', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c, { replicas: [{ name: 'b', connUrl: 'host=10.0.0.2 port=5432' }] });
    const before = await stored(c);
    // Act
    const r = await run(['dsn', label(c), '--member', 'b'], { store: h.store });
    // Assess
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^pgfloat: b reports connUrl "host=10\.0\.0\.2 port=5432", not a postgres:\/\/host:port URL/);
    assert.deepEqual(await stored(c), before);
  });

  test('--member with --role, or an unknown role, is a usage error: exit 2, nothing written', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    const before = await stored(c);
    // Act
    const both = await run(['dsn', label(c), '--member', 'b', '--role', 'replica'], { store: h.store });
    const role = await run(['dsn', label(c), '--role', 'master'], { store: h.store });
    // Assess
    assert.equal(both.code, 2);
    assert.match(both.stderr, /^pgfloat: --member and --role contradict each other: pass one of them\n\nUsage: pgfloat dsn/);
    assert.equal(role.code, 2);
    assert.match(role.stderr, /^pgfloat: --role master: one of leader, replica\n/);
    assert.equal(both.stdout + role.stdout, '');
    assert.deepEqual(await stored(c), before);
  });
});
