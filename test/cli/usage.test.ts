import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { label, newCluster, openHarness, run, seedCluster, type Harness } from './harness.js';

describe('pgfloat command line', () => {
  const usageErrors: { argv: string[]; env?: Record<string, string>; message: RegExp }[] = [
    { argv: ['frob', 'pgfloat/orders'], message: /unknown command "frob": the commands are list, topology, switchover/ },
    { argv: [], message: /missing command/ },
    { argv: ['list'], message: /missing --cluster: name the cluster with --cluster <namespace>\/<scope>/ },
    { argv: ['list', '--cluster', 'orders'], message: /--cluster "orders": expected <namespace>\/<scope>, e.g. pgfloat\/orders/ },
    { argv: ['list', '--cluster', 'pgfloat/'], message: /--cluster "pgfloat\/": scope: 1-63 of/ },
    { argv: ['list'], env: { PGFLOAT_CLUSTER: 'a b/c' }, message: /PGFLOAT_CLUSTER "a b\/c": namespace: / },
    { argv: ['list', 'pgfloat/orders', '--bogus'], message: /unknown option --bogus for "pgfloat list"/ },
    { argv: ['switchover', 'pgfloat/orders', '--wait', 'soon'], message: /--wait soon: give the seconds to wait/ },
    { argv: ['switchover', 'pgfloat/orders', '--wait', '5', '--no-wait'], message: /--wait and --no-wait contradict each other/ },
    { argv: ['switchover', 'pgfloat/orders', '--scheduled', '2020-01-01T00:00Z'], message: /--scheduled 2020-01-01T00:00Z is in the past/ },
    { argv: ['switchover', 'pgfloat/orders', '--scheduled', 'tomorrow'], message: /--scheduled tomorrow: give "now" or an ISO 8601 time with its zone/ },
    { argv: ['switchover', 'pgfloat/orders', '--candidate', 'no/slash'], message: /--candidate "no\/slash": not a member name/ },
    { argv: ['list', 'pgfloat/orders', 'extra'], message: /unexpected argument extra for "pgfloat list"/ },
    { argv: ['list', 'pgfloat/orders', '--endpoint', 'localhost:8000'], message: /--endpoint "localhost:8000": expected an http\(s\) URL/ },
    { argv: ['flush', 'pgfloat/orders', 'everything'], message: /flush everything: the targets are switchover and restart/ },
    { argv: ['flush', 'pgfloat/orders'], message: /flush pgfloat\/orders: the targets are switchover and restart/ },
    { argv: ['dsn', 'pgfloat/orders', '--member', 'a', '--role', 'leader'], message: /--member and --role contradict each other/ },
  ];
  for (const { argv, env, message } of usageErrors) {
    const shown = [...Object.entries(env ?? {}).map(([k, v]) => `${k}=${v}`), 'pgfloat', ...argv].join(' ');
    test(`"${shown}" is a usage error that names the argument: exit 2`, async () => {
      // Prepare
      const options = env === undefined ? {} : { env };
      // Act
      const r = await run(argv, options);
      // Assess
      assert.equal(r.code, 2);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, message);
      assert.match(r.stderr, /Usage: pgfloat/);
    });
  }

  test('--help prints the usage on stdout, exit 0', async () => {
    // Prepare
    const argv = ['switchover', '--help'];
    // Act
    const r = await run(argv);
    // Assess
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: pgfloat switchover \[cluster\] \[--candidate M\]/);
  });

  test('--help lists every command, and edit-config --help names the editor it opens without an edit option', async () => {
    // Prepare
    const argv = ['edit-config', '--help'];
    // Act
    const general = await run(['--help']);
    const edit = await run(argv);
    // Assess
    assert.equal(general.code, 0);
    for (const name of ['flush', 'dsn', 'version']) assert.match(general.stdout, new RegExp(`^  ${name} +\\S`, 'm'));
    assert.equal(edit.code, 0);
    assert.match(edit.stdout, /none of these +edit the whole config \(as show-config prints it\) in \$VISUAL, else \$EDITOR, else vi/);
  });
});

describe('pgfloat against a DynamoDB endpoint', () => {
  let h: Harness;
  let dir: string;
  before(async () => {
    h = await openHarness();
    dir = mkdtempSync(join(tmpdir(), 'pgfloat-cli-'));
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await h.table.close();
  });

  test('reads the cluster through --endpoint and --table with its own client', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    // Act
    const r = await run(['list', label(c), '--endpoint', h.table.endpoint, '--table', h.table.tableName, '--json']);
    // Assess
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      (JSON.parse(r.stdout) as { members: { Member: string }[] }).members.map((m) => m.Member),
      ['a', 'b', 'c'],
    );
  });

  test('takes scope, namespace, table and endpoint from the agent config given with -c', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    const file = join(dir, 'agent.yml');
    writeFileSync(
      file,
      `scope: ${c.scope}\nnamespace: ${c.namespace}\nname: a\ndcs:\n  table: ${h.table.tableName}\n  endpoint: ${h.table.endpoint}\n`,
    );
    // Act
    const r = await run(['-c', file, 'pause']);
    // Assess
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await h.store.getConfig(c))?.config.paused, true);
  });

  test('an agent config with an invalid key is a usage error naming the key', async () => {
    // Prepare
    const file = join(dir, 'bad.yml');
    writeFileSync(file, 'scope: orders\nnamespace: pgfloat\ndcs:\n  endpoint: not a url\n');
    // Act
    const r = await run(['list', '--config', file]);
    // Assess
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`agent config ${file}: key dcs\\.endpoint: .*\\(e\\.g\\. http://127\\.0\\.0\\.1:8000\\)`));
  });

  test('a missing table fails with exit 1 and the error of the store', async () => {
    // Prepare
    const c = newCluster();
    // Act
    const r = await run(['list', label(c), '--endpoint', h.table.endpoint, '--table', 'pgfloat-no-such-table']);
    // Assess
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^pgfloat: store request readCluster on table pgfloat-no-such-table failed: ResourceNotFoundException/);
  });

  test('the pgfloat executable lists the cluster and exits with the code of main', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c);
    const bin = join(import.meta.dirname, '..', '..', 'bin', 'pgfloat.mjs');
    const env = { ...process.env, PGFLOAT_DYNAMODB_ENDPOINT: h.table.endpoint, PGFLOAT_TABLE: h.table.tableName };
    // Act
    const ok = await promisify(execFile)(process.execPath, [bin, 'list', label(c)], { env, timeout: 30_000 });
    const refused = await promisify(execFile)(process.execPath, [bin, 'remove', label(c), 'a', '--force'], { env, timeout: 30_000 }).then(
      () => null,
      (err: { code?: number; stderr?: string }) => err,
    );
    // Assess
    assert.match(ok.stdout, new RegExp(`^\\+ Cluster: ${c.scope} \\(7312345678901234567\\)`));
    assert.equal(refused?.code, 1);
    assert.match(refused?.stderr ?? '', /remove a refused: a is the leader/);
  });
});
