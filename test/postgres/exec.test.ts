import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from '../../lib/postgres/exec.js';
import { CommandFailedError, CommandSpawnError, CommandTimeoutError } from '../../lib/postgres/errors.js';
import { isRoot, lookupOsUser, runAsFor, type OsUser } from '../../lib/postgres/os-user.js';
import { DEFAULT_BIN_DIR } from '../../lib/postgres/config.js';
import { processExists } from '../../lib/postgres/data-dir.js';
import { waitFor } from './fixture.js';

describe('running PostgreSQL commands', () => {
  let dir = '';
  let runAs: OsUser | null = null;

  before(async () => {
    dir = await mkdtemp('/tmp/pgf-exec-');
    runAs = await runAsFor('postgres');
    if (runAs) await chown(dir, runAs.uid, runAs.gid);
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('runs as the PostgreSQL user when this process is root', async () => {
    // Act
    const { stdout } = await runCommand('id', ['-un'], { timeoutMs: 5_000, runAs });

    // Assess
    const expected = isRoot() ? (await lookupOsUser('postgres')).name : (await runCommand('id', ['-un'], { timeoutMs: 5_000 })).stdout.trim();
    assert.equal(stdout.trim(), expected);
  });

  test('surfaces the stderr of a failing command in CommandFailedError', async () => {
    // Prepare
    const missing = join(dir, 'no-such-data-dir');

    // Act
    const failure = runCommand(join(DEFAULT_BIN_DIR, 'pg_controldata'), ['-D', missing], { timeoutMs: 10_000, runAs });

    // Assess
    await assert.rejects(failure, (error: unknown) => {
      assert.ok(error instanceof CommandFailedError);
      assert.equal(error.exitCode, 1);
      assert.match(error.stderr, /could not open file .*pg_control/);
      assert.match(error.message, /pg_controldata -D .*no-such-data-dir failed \(exit code 1\): .*could not open file/);
      return true;
    });
  });

  test('kills a command and its helpers when the deadline passes', { timeout: 120_000 }, async (t) => {
    // Prepare: a command and a helper that would run for an hour on their own
    const pidFile = join(dir, 'helper.pid');
    let helper: number | undefined;
    t.after(() => {
      if (helper !== undefined && processExists(helper)) process.kill(helper, 'SIGKILL');
    });

    // Act
    const run = runCommand('sh', ['-c', `sleep 3600 & echo $! > ${pidFile}; echo waiting >&2; wait`], { timeoutMs: 300, runAs });

    // Assess: the run ends with the timeout (it could not end by itself), and the helper dies with it
    await assert.rejects(run, (error: unknown) => {
      assert.ok(error instanceof CommandTimeoutError);
      assert.equal(error.timeoutMs, 300);
      assert.match(error.message, /did not finish within 300 ms and was killed; its stderr: waiting/);
      return true;
    });
    helper = Number((await readFile(pidFile, 'utf8')).trim());
    assert.ok(Number.isInteger(helper) && helper > 0, `helper pid ${helper}`);
    await waitFor('the helper process to be gone', async () => !processExists(helper as number), { timeoutMs: 60_000 });
  });

  test('accepts other exit codes only when told to', async () => {
    // Act
    const three = await runCommand('sh', ['-c', 'exit 3'], { timeoutMs: 5_000, okExitCodes: [0, 3] });

    // Assess
    assert.equal(three.exitCode, 3);
    await assert.rejects(runCommand('sh', ['-c', 'exit 3'], { timeoutMs: 5_000 }), CommandFailedError);
  });

  test('reports a missing binary as CommandSpawnError naming it', async () => {
    // Act + Assess
    await assert.rejects(runCommand('/nonexistent/bin/initdb', ['-D', dir], { timeoutMs: 5_000, runAs }), (error: unknown) => {
      assert.ok(error instanceof CommandSpawnError);
      assert.match(error.message, /\/nonexistent\/bin\/initdb/);
      return true;
    });
  });

  test('does not pass libpq variables of this process to the command', async (t) => {
    // Prepare
    const saved = process.env.PGHOST;
    process.env.PGHOST = '/should/not/leak';
    t.after(() => {
      if (saved === undefined) delete process.env.PGHOST;
      else process.env.PGHOST = saved;
    });

    // Act
    const { stdout } = await runCommand('sh', ['-c', 'echo "${PGHOST:-unset} $LC_ALL"'], { timeoutMs: 5_000, env: { PGPASSWORD: 'given' } });
    const given = await runCommand('sh', ['-c', 'echo "$PGPASSWORD"'], { timeoutMs: 5_000, env: { PGPASSWORD: 'given' } });

    // Assess
    assert.equal(stdout.trim(), 'unset C');
    assert.equal(given.stdout.trim(), 'given');
  });
});
