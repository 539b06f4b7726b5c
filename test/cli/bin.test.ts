// The pgfloat executable as operators run it: bin/pgfloat.mjs in a process
// of its own, running the CLI bundle (.build/cli) on plain node.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_CONFIG } from '../../lib/dcs/items.js';
import { label, newCluster, openHarness, runBin, seedCluster, type Harness, type Run } from './harness.js';

const LOAD_TRACE = join(import.meta.dirname, 'load-trace.mjs');

describe('bin/pgfloat.mjs', () => {
  let h: Harness;
  let dir: string;
  let traces = 0;
  before(async () => {
    h = await openHarness();
    dir = mkdtempSync(join(tmpdir(), 'pgfloat-bin-'));
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await h.table.close();
  });

  const target = (): Record<string, string> => ({ PGFLOAT_DYNAMODB_ENDPOINT: h.table.endpoint, PGFLOAT_TABLE: h.table.tableName });

  /** Runs the executable and returns, besides its result, the files of every module it loaded. */
  async function traced(argv: readonly string[], env: Record<string, string> = {}): Promise<Run & { loaded: string[] }> {
    traces += 1;
    const file = join(dir, `loaded-${traces}.txt`);
    const r = await runBin(argv, { env: { ...env, PGFLOAT_LOAD_TRACE: file }, nodeArgs: ['--import', LOAD_TRACE] });
    const loaded = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((url) => fileURLToPath(url));
    return { ...r, loaded };
  }

  const fromSource = (loaded: readonly string[]): string[] => loaded.filter((f) => f.endsWith('.ts') || f.includes('/node_modules/'));
  const chunk = (loaded: readonly string[], name: string): string[] => loaded.filter((f) => new RegExp(`/\\.build/cli/[^/]+/${name}-[^/]*\\.mjs$`).test(f));

  test('--help prints the usage on stdout and exits 0', async () => {
    // Act
    const r = await runBin(['--help']);
    // Assess
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /^Usage: pgfloat \[options\] <command>/);
    assert.match(r.stdout, /switchover/);
  });

  test('a usage error names the argument on stderr and exits 2', async () => {
    // Act
    const r = await runBin(['frob', 'pgfloat/orders']);
    // Assess
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^pgfloat: unknown command "frob": the commands are list, topology, switchover/);
    assert.match(r.stderr, /Usage: pgfloat/);
  });

  test('--help and a usage error run the bundle without loading the DynamoDB store or the AWS SDK', async () => {
    // Act
    const help = await traced(['switchover', '--help']);
    const wrong = await traced(['list', 'pgfloat/orders', '--bogus']);
    // Assess
    assert.equal(help.code, 0, help.stderr);
    assert.equal(wrong.code, 2, wrong.stderr);
    for (const r of [help, wrong]) {
      assert.ok(r.loaded.some((f) => /\/\.build\/cli\/[^/]+\/index\.mjs$/.test(f)), r.loaded.join('\n'));
      assert.deepEqual(fromSource(r.loaded), []);
      assert.deepEqual(chunk(r.loaded, 'dynamodb-store'), []);
      assert.deepEqual(chunk(r.loaded, 'client'), []);
    }
  });

  test('list reads the cluster from DynamoDB through the bundled store', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    // Act
    const r = await traced(['list', label(c), '--json'], target());
    // Assess
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { cluster: string; leader: { name: string }; members: { Member: string }[] };
    assert.equal(doc.cluster, label(c));
    assert.equal(doc.leader.name, 'a');
    assert.deepEqual(
      doc.members.map((m) => m.Member),
      ['a', 'b', 'c'],
    );
    assert.equal(chunk(r.loaded, 'dynamodb-store').length, 1, r.loaded.join('\n'));
    assert.deepEqual(fromSource(r.loaded), []);
  });

  test('edit-config --file - reads the patch from a piped stdin and writes it', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    // Act
    const r = await runBin(['edit-config', label(c), '--file', '-', '--force'], { env: target(), input: 'maximum_lag_on_failover: 0\n' });
    // Assess
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((await h.store.getConfig(c))?.config, { ...DEFAULT_CONFIG, maximumLagOnFailover: 0 });
  });

  test('a refused change exits 1 and writes nothing', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    // Act
    const r = await runBin(['remove', label(c), 'a', '--force'], { env: target() });
    // Assess
    assert.equal(r.code, 1);
    assert.match(r.stderr, /remove a refused: a is the leader/);
    assert.equal((await h.store.readCluster(c)).members.length, 3);
  });
});
