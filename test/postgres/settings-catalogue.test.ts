// The shipped catalogue is the server's own pg_settings, and the checks made
// from it agree with the server: a value the server refuses is refused, one
// it takes is taken (ALTER SYSTEM validates without applying anything).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PostgresNode } from '../../lib/postgres/node.js';
import { readCatalogue } from '../../lib/postgres/settings-catalogue.js';
import { PG15_SETTINGS } from '../../lib/postgres/pg15-settings.js';
import { checkParameter } from '../../lib/postgres/parameters.js';
import { quoteLiteral } from '../../lib/postgres/quote.js';
import { TestCluster } from './fixture.js';

describe('the settings catalogue', () => {
  let cluster: TestCluster;
  let node: PostgresNode;

  before(async () => {
    cluster = await TestCluster.create();
    node = await cluster.node('cat');
    await node.initdb({ noSync: true });
    await node.start();
  });

  after(async () => {
    await cluster.cleanup();
  });

  test('lib/postgres/pg15-settings.ts is what the server reports (else: node --import tsx scripts/pg-settings.ts)', async () => {
    // Act
    const live = await node.withSession(readCatalogue);

    // Assess
    assert.deepEqual(live, PG15_SETTINGS);
  });

  const values: Array<[string, string]> = [
    ['work_mem', '64MB'], ['work_mem', 'lots'], ['work_mem', '32kB'], ['work_mem', '1.5MB'], ['work_mem', '3GB'], ['work_mem', '5TB'],
    ['shared_buffers', '128MB'], ['shared_buffers', '1TB'], ['shared_buffers', '100kB'], ['shared_buffers', '64'],
    ['statement_timeout', '30s'], ['statement_timeout', '2min'], ['statement_timeout', '30MB'], ['statement_timeout', '-1'],
    ['checkpoint_timeout', '10s'], ['checkpoint_timeout', '2d'], ['checkpoint_timeout', '1h'],
    ['checkpoint_completion_target', '0.9'], ['checkpoint_completion_target', '1.5'],
    ['log_connections', 'yes'], ['log_connections', 'tr'], ['log_connections', 'maybe'],
    ['synchronous_commit', 'remote_apply'], ['synchronous_commit', 'sometimes'], ['synchronous_commit', 'off'],
    ['huge_pages', 'try'], ['huge_pages', 'on'], ['huge_pages', 'perhaps'],
    ['max_connections', '200'], ['max_connections', '0'], ['max_connections', 'many'],
    ['autovacuum_vacuum_scale_factor', '0.05'], ['autovacuum_vacuum_scale_factor', '200'],
    ['random_page_cost', '1.1'], ['effective_cache_size', '4GB'], ['wal_keep_size', '1GB'], ['max_slot_wal_keep_size', '-1'],
  ];
  for (const [name, value] of values) {
    test(`${name} = ${value}: the check and the server agree`, async () => {
      // Act
      const ours = checkParameter(name, value, { source: 'cluster' });
      let serverTakes = true;
      try {
        await node.query(`ALTER SYSTEM SET ${name} = ${quoteLiteral(value)}`);
        await node.query(`ALTER SYSTEM RESET ${name}`);
      } catch {
        serverTakes = false;
      }

      // Assess
      assert.equal(ours === null, serverTakes, ours?.message ?? `the server refuses ${name} = ${value}`);
    });
  }
});
