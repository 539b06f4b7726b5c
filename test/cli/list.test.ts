import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { HEARTBEAT, label, LEADER_LSN, MB, NOW, newCluster, openHarness, run, seedCluster, type Harness } from './harness.js';

describe('pgfloat list and topology', () => {
  let h: Harness;
  before(async () => {
    h = await openHarness();
  });
  after(async () => h.table.close());

  test('lists the leader and its replicas with their lag in MB, patronictl style', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    // Act
    const r = await run(['list', label(c)], { store: h.store });
    // Assess
    assert.equal(r.code, 0);
    assert.equal(r.stderr, '');
    assert.equal(
      r.stdout,
      [
        `+ Cluster: ${c.scope} (7312345678901234567) ------+----+-----------+`,
        '| Member | Host          | Role    | State     | TL | Lag in MB |',
        '+--------+---------------+---------+-----------+----+-----------+',
        '| a      | 10.0.0.1:5432 | Leader  | running   |  1 |           |',
        '| b      | 10.0.0.2:5432 | Replica | streaming |  1 |         0 |',
        '| c      | 10.0.0.3:5432 | Replica | streaming |  1 |         3 |',
        '+--------+---------------+---------+-----------+----+-----------+',
        '',
      ].join('\n'),
    );
  });

  test('Pending restart and Tags columns appear when a member has them; a replica not streaming says so', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c, {
      replicas: [
        { name: 'b', lsn: 100 * 1024 * 1024, pendingRestart: ['max_connections', 'shared_buffers'], receiver: 'streaming' },
        { name: 'c', lsn: 100 * 1024 * 1024, tags: { nofailover: true, failoverPriority: 1, nosync: false, noloadbalance: false }, receiver: 'none' },
      ],
    });
    // Act
    const r = await run(['list', '--cluster', label(c)], { store: h.store });
    // Assess
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.match(lines[1] ?? '', /\| Member \| Host .*\| Lag in MB \| Pending restart\s+\| Tags\s+\|$/);
    assert.match(r.stdout, /\| b .*\| streaming .*\| \* max_connections, shared_buffers \|/);
    assert.match(r.stdout, /\| c .*\| not streaming \(receiver none\) .*\| nofailover: true\s+\|/);
  });

  test('--json gives the cluster, its leader, every member with its lag, and no pending request', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    // Act
    const r = await run(['list', '--json', '--cluster', label(c)], { store: h.store });
    // Assess
    assert.equal(r.code, 0);
    const row = (Member: string, Role: string, State: string, lag: number | null) => ({
      Cluster: c.scope,
      Member,
      Host: `10.0.0.${Member.charCodeAt(0) - 96}:5432`,
      Role,
      State,
      TL: 1,
      'Lag in MB': lag,
      'Pending restart': [],
      Tags: {},
    });
    assert.deepEqual(JSON.parse(r.stdout), {
      cluster: label(c),
      systemId: '7312345678901234567',
      paused: false,
      leader: { name: 'a', term: 1, phase: 'active' },
      members: [row('a', 'Leader', 'running', null), row('b', 'Replica', 'streaming', 0), row('c', 'Replica', 'streaming', 3)],
      failover: null,
    });
  });

  test('marks maintenance mode, a pending switchover, sync standbys and a stale heartbeat', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c, {
      paused: true,
      replicas: [
        { name: 'b', lsn: LEADER_LSN - 10 * MB },
        { name: 'c', lsn: null, state: 'stopped', heartbeatAt: NOW - 42_000 },
      ],
    });
    await h.store.putSync(c, { leader: 'a', term: 1, standbys: ['b'] }, null);
    await h.store.setFailover(c, { kind: 'switchover', from: 'a', to: 'b', scheduledAt: NOW + 60_000, requestedAt: HEARTBEAT, requestedBy: 'bob@ops' }, null);
    // Act
    const r = await run(['list', label(c)], { store: h.store });
    const json = await run(['list', label(c), '--json'], { store: h.store });
    // Assess
    assert.equal(r.code, 0);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[4] ?? '', /^\| b +\| 10\.0\.0\.2:5432 \| Sync Standby \| streaming +\|  1 \| +10 \|$/);
    assert.match(lines[5] ?? '', /^\| c +\| .* \| Replica +\| stopped \(heartbeat 42\.0 s ago\) \|  1 \| +unknown \|$/);
    assert.deepEqual(lines.slice(-2), [
      ' Switchover scheduled at: 2023-11-14T22:14:21.000Z from: a to: b (requested by bob@ops)',
      ' Maintenance mode: on',
    ]);
    const doc = JSON.parse(json.stdout) as { paused: boolean; failover: unknown };
    assert.equal(doc.paused, true);
    assert.deepEqual(doc.failover, {
      kind: 'switchover',
      from: 'a',
      to: 'b',
      scheduledAt: '2023-11-14T22:14:21.000Z',
      requestedAt: '2023-11-14T22:13:20.000Z',
      requestedBy: 'bob@ops',
    });
  });

  test('shows a leader that is handing over under the table', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    await h.store.beginHandover(c, { expected: { version: 2, term: 1 }, candidate: 'b' });
    // Act
    const r = await run(['list', label(c)], { store: h.store });
    // Assess
    assert.equal(r.code, 0);
    assert.equal(r.stdout.trimEnd().split('\n').at(-1), ' Leader a: handing over to b (term 1)');
  });

  test('topology shows the leader first and its replicas indented under it', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c, { replicas: [{ name: '0-first', lsn: LEADER_LSN }, { name: 'z', lsn: LEADER_LSN }] });
    // Act
    const r = await run(['topology', label(c)], { store: h.store });
    // Assess
    assert.equal(r.code, 0);
    const members = r.stdout
      .split('\n')
      .filter((l) => /^\| [^M]/.test(l))
      .map((l) => l.split('|')[1]?.trim());
    assert.deepEqual(members, ['a', '+ 0-first', '+ z']);
  });

  test('reports a cluster with nothing in the store instead of an empty table: exit 1', async () => {
    // Prepare
    const c = newCluster();
    // Act
    const r = await run(['list', label(c)], { store: h.store });
    // Assess
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`cluster ${label(c)} not found: .*; check --cluster and --table`));
  });
});
