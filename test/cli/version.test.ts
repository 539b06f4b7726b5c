import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { StoreUnavailableError } from '../../lib/dcs/errors.js';
import type { Store } from '../../lib/dcs/store.js';
import { VERSION } from '../../lib/agent/version.js';
import { label, newCluster, openHarness, run, runBin, seedCluster, type Harness } from './harness.js';

describe('pgfloat version', () => {
  let h: Harness;
  before(async () => {
    h = await openHarness();
  });
  after(async () => h.table.close());

  test('the CLI version is the version in package.json', () => {
    // Prepare
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
    // Act
    const v = VERSION;
    // Assess
    assert.equal(v, pkg.version);
  });

  test('without a cluster it prints the CLI version alone and exits 0', async () => {
    // Prepare
    const argv = ['version'];
    // Act
    const text = await run(argv);
    const json = await run([...argv, '--json']);
    // Assess
    assert.equal(text.code, 0, text.stderr);
    assert.equal(text.stdout, `pgfloat ${VERSION}\n`);
    assert.equal(text.stderr, '');
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), { cli: VERSION, members: [] });
  });

  test('with a cluster it prints each member\'s agent and PostgreSQL versions, "unknown" where not reported', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c, {
      replicas: [
        { name: 'b', agentVersion: '0.1.0', serverVersion: 150018 },
        { name: 'c', serverVersion: 90624 },
      ],
    });
    // Act
    const r = await run(['version', label(c)], { store: h.store });
    // Assess
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      [`pgfloat ${VERSION}`, 'a: pgfloat unknown PostgreSQL unknown', 'b: pgfloat 0.1.0 PostgreSQL 15.18', 'c: pgfloat unknown PostgreSQL 9.6.24', ''].join('\n'),
    );
  });

  test('--json gives the CLI version and each member\'s, null where not reported', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c, { replicas: [{ name: 'b', agentVersion: '0.2.0', serverVersion: 170002 }] });
    // Act
    const r = await run(['version', label(c), '--json'], { store: h.store });
    // Assess
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      cli: VERSION,
      members: [
        { name: 'a', agent: null, postgres: null },
        { name: 'b', agent: '0.2.0', postgres: '17.2' },
      ],
    });
  });

  test('the cluster may come from PGFLOAT_CLUSTER', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c, { replicas: [] });
    // Act
    const r = await run(['version'], { store: h.store, env: { PGFLOAT_CLUSTER: label(c) } });
    // Assess
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `pgfloat ${VERSION}\na: pgfloat unknown PostgreSQL unknown\n`);
  });

  test('a store that does not answer still gets the CLI version printed, then the error: exit 1', async () => {
    // Prepare
    const store = {
      readCluster: async () => {
        throw new StoreUnavailableError('readCluster', 5000, 3, new Error('connect ECONNREFUSED'));
      },
    } as unknown as Store;
    // Act
    const r = await run(['version', 'pgfloat/orders'], { store });
    // Assess
    assert.equal(r.code, 1);
    assert.equal(r.stdout, `pgfloat ${VERSION}\n`);
    assert.match(r.stderr, /^pgfloat: members of pgfloat\/orders not read: store unavailable: readCluster failed after 3 attempt\(s\)/);
  });

  test('the executable prints its version without any store or cluster', async () => {
    // Prepare
    const argv = ['version'];
    // Act
    const r = await runBin(argv);
    // Assess
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `pgfloat ${VERSION}\n`);
  });
});
