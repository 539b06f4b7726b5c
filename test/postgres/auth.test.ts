// Password authentication end to end: initdb sets the superuser password,
// the replication role is created, and a replica is cloned and streams with
// passwords only (scram-sha-256 over TCP, nothing trusted).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PostgresNode } from '../../lib/postgres/node.js';
import { ConnectionError } from '../../lib/postgres/errors.js';
import { TestCluster, waitFor } from './fixture.js';

const AUTH = {
  hostAuthMethod: 'scram-sha-256',
  localAuthMethod: 'peer',
  superuser: 'postgres',
  superuserPassword: "super 'secret'",
  replicationUser: 'replicator',
  replicationPassword: 'repl\\pass word',
} as const;

describe('password authentication', () => {
  let cluster: TestCluster;
  let primary: PostgresNode;
  let replica: PostgresNode;

  before(async () => {
    cluster = await TestCluster.create();
    primary = await cluster.node('p', { auth: AUTH });
    replica = await cluster.node('r', { auth: AUTH });
    await primary.initdb({ noSync: true });
    await primary.start();
  });

  after(async () => {
    await cluster.cleanup();
  });

  test('trusts nobody: pg_hba.conf asks TCP clients for a scram-sha-256 password', async () => {
    // Act
    const hba = await readFile(join(primary.config.dataDir, 'pg_hba.conf'), 'utf8');

    // Assess
    assert.doesNotMatch(hba, /trust/);
    assert.match(hba, /^host\s+replication\s+all\s+127\.0\.0\.1\/32\s+scram-sha-256$/m);
  });

  test('accepts the configured superuser password and refuses a wrong one', async () => {
    // Prepare
    const wrong = new PostgresNode({ ...primary.config, auth: { ...AUTH, superuserPassword: 'wrong' } });

    // Act
    const [row] = await primary.query<{ user: string }>('SELECT current_user AS user');
    const refused = wrong.query('SELECT 1');

    // Assess
    assert.equal(row?.user, 'postgres');
    await assert.rejects(refused, (e: unknown) => e instanceof ConnectionError && /password authentication failed/.test(e.message));
  });

  test('clones and streams as the replication role with its password', async () => {
    // Prepare
    await primary.ensureReplicationRole();

    // Act
    await replica.clone({ ...primary.address('r'), createSlot: true }, { noSync: true });
    await replica.start();

    // Assess
    const row = await waitFor('r streaming from p', async () =>
      (await primary.replication()).find((r) => r.applicationName === 'r' && r.state === 'streaming'),
    );
    assert.equal(row.applicationName, 'r');
    const [sender] = await primary.query<{ usename: string }>("SELECT usename FROM pg_stat_replication WHERE application_name = 'r'");
    assert.equal(sender?.usename, 'replicator');
  });
});
