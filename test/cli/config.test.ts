import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_CONFIG } from '../../lib/dcs/items.js';
import { label, newCluster, openHarness, racingStore, run, seedCluster, type Harness } from './harness.js';

const DEFAULT_YAML = [
  'ttl: 10',
  'loop_wait: 2',
  'retry_timeout: 4',
  'maximum_lag_on_failover: 1048576',
  'synchronous_mode: false',
  'synchronous_mode_strict: false',
  'synchronous_node_count: 1',
  'pause: false',
  'failsafe_mode: false',
  'endpoint:',
  '  kind: none',
  'postgresql:',
  '  parameters: {}',
];

describe('pgfloat pause and resume', () => {
  let h: Harness;
  before(async () => {
    h = await openHarness();
  });
  after(async () => h.table.close());

  test('pause creates the config from the defaults, resume flips it back, each a CAS on the version', async () => {
    // Prepare
    const c = newCluster();
    // Act
    const paused = await run(['pause', label(c)], { store: h.store });
    const afterPause = await h.store.getConfig(c);
    const resumed = await run(['resume', label(c)], { store: h.store });
    const afterResume = await h.store.getConfig(c);
    // Assess
    assert.equal(paused.code, 0, paused.stderr);
    assert.equal(paused.stdout, `Success: cluster management of ${label(c)} is paused\n`);
    assert.deepEqual(afterPause, { config: { ...DEFAULT_CONFIG, paused: true }, version: 1 });
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(afterResume, { config: { ...DEFAULT_CONFIG, paused: false }, version: 2 });
  });

  test('pausing a paused cluster says so and writes nothing', async () => {
    // Prepare
    const c = newCluster();
    await h.store.putConfig(c, { ...DEFAULT_CONFIG, paused: true }, null);
    // Act
    const r = await run(['pause', label(c)], { store: h.store });
    // Assess
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `Cluster management of ${label(c)} is already paused\n`);
    assert.equal((await h.store.getConfig(c))?.version, 1);
  });

  test('reports a config changed by someone else between the read and the write', async () => {
    // Prepare
    const c = newCluster();
    await h.store.putConfig(c, DEFAULT_CONFIG, null);
    const store = racingStore(h.store, async () => {
      await h.store.putConfig(c, { ...DEFAULT_CONFIG, ttl: 30 }, 1);
    });
    // Act
    const r = await run(['pause', label(c)], { store });
    // Assess
    assert.equal(r.code, 1);
    assert.match(r.stderr, /pause not written: the config changed while you edited \(version 2\); run again/);
    assert.deepEqual(await h.store.getConfig(c), { config: { ...DEFAULT_CONFIG, ttl: 30 }, version: 2 });
  });
});

describe('pgfloat show-config and edit-config', () => {
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

  test('show-config prints the config as YAML in snake_case, and as JSON with --json', async () => {
    // Prepare
    const c = newCluster();
    await h.store.putConfig(c, { ...DEFAULT_CONFIG, postgresql: { parameters: { work_mem: '64MB', max_connections: 200 } } }, null);
    // Act
    const yaml = await run(['show-config', label(c)], { store: h.store });
    const json = await run(['show-config', label(c), '--json'], { store: h.store });
    // Assess
    assert.equal(yaml.code, 0);
    assert.equal(yaml.stdout, [...DEFAULT_YAML.slice(0, -1), '  parameters:', '    max_connections: 200', '    work_mem: 64MB', ''].join('\n'));
    assert.deepEqual(JSON.parse(json.stdout), {
      ttl: 10,
      loop_wait: 2,
      retry_timeout: 4,
      maximum_lag_on_failover: 1048576,
      synchronous_mode: false,
      synchronous_mode_strict: false,
      synchronous_node_count: 1,
      pause: false,
      failsafe_mode: false,
      endpoint: { kind: 'none' },
      postgresql: { parameters: { max_connections: 200, work_mem: '64MB' } },
    });
  });

  test('show-config of a cluster without config shows the defaults and says so', async () => {
    // Prepare
    const c = newCluster();
    // Act
    const r = await run(['show-config', label(c)], { store: h.store });
    // Assess
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `${DEFAULT_YAML.join('\n')}\n`);
    assert.match(r.stderr, /No config stored for .* yet: these are the defaults/);
  });

  test('edit-config --set shows the diff, asks, and writes the new version', async () => {
    // Prepare
    const c = newCluster();
    await h.store.putConfig(c, DEFAULT_CONFIG, null);
    const asked: string[] = [];
    // Act
    const r = await run(['edit-config', label(c), '--set', 'ttl=30', '--pg', 'work_mem=64MB'], {
      store: h.store,
      confirm: async (q) => {
        asked.push(q);
        return true;
      },
    });
    // Assess
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(asked, [`Apply these changes to ${label(c)}?`]);
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], `--- ${label(c)} config (version 1)`);
    assert.ok(lines.includes('-ttl: 10') && lines.includes('+ttl: 30'), r.stdout);
    assert.ok(lines.includes('-  parameters: {}') && lines.includes('+    work_mem: 64MB'), r.stdout);
    assert.equal(lines.filter((l) => /^[-+][^-+]/.test(l)).length, 5, r.stdout);
    assert.match(r.stdout, /Configuration of .* changed \(version 2\)\nwork_mem: applied by a reload on every member within a loop\n$/);
    assert.deepEqual(await h.store.getConfig(c), {
      config: { ...DEFAULT_CONFIG, ttl: 30, postgresql: { parameters: { work_mem: '64MB' } } },
      version: 2,
    });
  });

  test('edit-config refuses a ttl too low for loop_wait and retry_timeout, naming ttl, and writes nothing', async () => {
    // Prepare
    const c = newCluster();
    await h.store.putConfig(c, DEFAULT_CONFIG, null);
    // Act
    const r = await run(['edit-config', label(c), '--set', 'ttl=5', '--force'], { store: h.store });
    // Assess
    assert.equal(r.code, 1);
    assert.match(r.stderr, /invalid config, nothing written:\n {2}ttl: ttl \(5\) must be at least loop_wait \+ 2 \* retry_timeout \(10\): raise ttl/);
    assert.deepEqual(await h.store.getConfig(c), { config: DEFAULT_CONFIG, version: 1 });
  });

  test('edit-config refuses an unknown key and a wrongly typed value, naming them in snake_case', async () => {
    // Prepare
    const c = newCluster();
    // Act
    const unknown = await run(['edit-config', label(c), '--set', 'loopwait=3', '--force'], { store: h.store });
    const typed = await run(['edit-config', label(c), '--set', 'loop_wait=soon', '--force'], { store: h.store });
    const kind = await run(['edit-config', label(c), '--set', 'endpoint.kind=teleport', '--force'], { store: h.store });
    // Assess
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /loopwait: unknown key \(the keys are ttl, loop_wait, /);
    assert.equal(typed.code, 1);
    assert.match(typed.stderr, /loop_wait: Invalid input: expected number, received string/);
    assert.equal(kind.code, 1);
    assert.match(kind.stderr, /endpoint\.kind: one of none, elastic-ip, private-ip, route53, local-proxy/);
    assert.equal(await h.store.getConfig(c), null);
  });

  test('edit-config reports a config changed while it edited, and writes nothing of its own', async () => {
    // Prepare
    const c = newCluster();
    await h.store.putConfig(c, DEFAULT_CONFIG, null);
    const store = racingStore(h.store, async () => {
      await h.store.putConfig(c, { ...DEFAULT_CONFIG, loopWait: 1 }, 1);
    });
    // Act
    const r = await run(['edit-config', label(c), '--set', 'ttl=30', '--force'], { store });
    // Assess
    assert.equal(r.code, 1);
    assert.match(r.stderr, /the config changed while you edited \(version 2\); run again/);
    assert.deepEqual(await h.store.getConfig(c), { config: { ...DEFAULT_CONFIG, loopWait: 1 }, version: 2 });
  });

  test('edit-config says "Not changed" and writes nothing when the edit changes nothing', async () => {
    // Prepare
    const c = newCluster();
    await h.store.putConfig(c, DEFAULT_CONFIG, null);
    // Act
    const r = await run(['edit-config', label(c), '--set', 'ttl=10'], { store: h.store });
    // Assess
    assert.equal(r.code, 0);
    assert.equal(r.stdout, 'Not changed\n');
    assert.equal((await h.store.getConfig(c))?.version, 1);
  });

  test('edit-config --file merges a YAML patch, null removing a parameter', async () => {
    // Prepare
    const c = newCluster();
    await h.store.putConfig(c, { ...DEFAULT_CONFIG, postgresql: { parameters: { work_mem: '64MB', max_connections: 100 } } }, null);
    const file = join(dir, 'patch.yml');
    writeFileSync(file, 'synchronous_mode: true\npostgresql:\n  parameters:\n    work_mem: null\n    max_connections: 300\n');
    // Act
    const r = await run(['edit-config', label(c), '--file', file, '--force'], { store: h.store });
    // Assess
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await h.store.getConfig(c), {
      config: { ...DEFAULT_CONFIG, synchronousMode: true, postgresql: { parameters: { max_connections: 300 } } },
      version: 2,
    });
  });

  test('edit-config refuses a bad postgresql parameter, naming it and the fix, and writes nothing', async () => {
    // Prepare
    const c = newCluster();
    await h.store.putConfig(c, DEFAULT_CONFIG, null);
    // Act
    const lots = await run(['edit-config', label(c), '--pg', 'work_mem=lots', '--force'], { store: h.store });
    const hostile = await run(['edit-config', label(c), '--pg', 'foo bar; DROP TABLE x=1', '--force'], { store: h.store });
    const owned = await run(['edit-config', label(c), '--pg', 'primary_conninfo=host=10.6.6.6', '--force'], { store: h.store });
    const typo = await run(['edit-config', label(c), '--pg', 'shared_bufers=1GB', '--force'], { store: h.store });
    // Assess
    for (const r of [lots, hostile, owned, typo]) assert.equal(r.code, 1, r.stdout);
    assert.match(lots.stderr, /invalid postgresql parameters, nothing written:\n {2}work_mem=lots: expected a number with an optional unit/);
    assert.match(hostile.stderr, /foo bar; DROP TABLE x=1: is not a PostgreSQL parameter name/);
    assert.match(owned.stderr, /primary_conninfo=host=10\.6\.6\.6: is written by pgfloat/);
    assert.match(typo.stderr, /did you mean shared_buffers\?/);
    assert.deepEqual(await h.store.getConfig(c), { config: DEFAULT_CONFIG, version: 1 });
  });

  test('edit-config refuses shared_buffers as large as the smallest member\'s memory', async () => {
    // Prepare
    const c = newCluster();
    await seedCluster(h.store, c, { replicas: [{ name: 'b', memoryBytes: 2 * 1024 ** 3 }] });
    // Act
    const huge = await run(['edit-config', label(c), '--pg', 'shared_buffers=1TB', '--force'], { store: h.store });
    const fits = await run(['edit-config', label(c), '--pg', 'shared_buffers=512MB', '--force'], { store: h.store });
    // Assess
    assert.equal(huge.code, 1);
    assert.match(huge.stderr, /shared_buffers=1TB: 1024\.0 GiB is not less than the node's memory \(2\.0 GiB\)/);
    assert.equal(fits.code, 0, fits.stderr);
    assert.deepEqual((await h.store.getConfig(c))?.config.postgresql.parameters, { shared_buffers: '512MB' });
  });

  test('edit-config says which parameters a reload applies and which wait for a restart', async () => {
    // Prepare
    const c = newCluster();
    // Act
    const r = await run(['edit-config', label(c), '--pg', 'work_mem=64MB', '--pg', 'max_connections=200', '--force'], { store: h.store });
    // Assess
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^work_mem: applied by a reload on every member within a loop$/m);
    assert.match(r.stdout, /^max_connections: needs a restart of each member/m);
  });

  test('edit-config --file - reads the patch from stdin', async () => {
    // Prepare
    const c = newCluster();
    const stdin = {
      isTTY: false,
      async *[Symbol.asyncIterator]() {
        yield Buffer.from('maximum_lag_on_failover: 0\n');
      },
    };
    // Act
    const r = await run(['edit-config', label(c), '--file', '-', '--force'], { store: h.store, stdin });
    // Assess
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await h.store.getConfig(c), { config: { ...DEFAULT_CONFIG, maximumLagOnFailover: 0 }, version: 1 });
  });

  test('edit-config with a malformed --set is a usage error and writes nothing', async () => {
    // Prepare
    const c = newCluster();
    // Act
    const malformed = await run(['edit-config', label(c), '--set', 'ttl'], { store: h.store });
    // Assess
    assert.equal(malformed.code, 2);
    assert.match(malformed.stderr, /--set "ttl": expected key=value/);
    assert.equal(await h.store.getConfig(c), null);
  });
});

describe('pgfloat edit-config in the editor', () => {
  let h: Harness;
  let dir: string;
  let scripts = 0;
  before(async () => {
    h = await openHarness();
    dir = mkdtempSync(join(tmpdir(), 'pgfloat-editor-'));
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await h.table.close();
  });

  /**
   * An editor: a shell script that records the file it is given (its last
   * argument) with its mode, then runs `body` with that file as $f.
   */
  const editor = (body: string): { path: string; seen: () => { file: string; mode: string }[] } => {
    scripts += 1;
    const path = join(dir, `editor${scripts}.sh`);
    const log = `${path}.seen`;
    writeFileSync(path, `#!/bin/sh\nfor f; do :; done\nprintf '%s %s\\n' "$f" "$(stat -c %a "$f")" >> '${log}'\n${body}\n`);
    chmodSync(path, 0o755);
    const seen = (): { file: string; mode: string }[] =>
      existsSync(log)
        ? readFileSync(log, 'utf8')
            .trimEnd()
            .split('\n')
            .map((l) => {
              const [file = '', mode = ''] = l.split(' ');
              return { file, mode };
            })
        : [];
    return { path, seen };
  };
  const env = (over: Record<string, string>): Record<string, string | undefined> => ({ PATH: process.env.PATH, ...over });

  test('without an edit option it opens the config in $EDITOR and writes the edited file with CAS after confirmation', async () => {
    // Prepare
    const c = newCluster();
    await h.store.putConfig(c, DEFAULT_CONFIG, null);
    const ed = editor(`sed -i 's/^ttl: 10$/ttl: 30/' "$f"`);
    const asked: string[] = [];
    // Act
    const r = await run(['edit-config', label(c)], {
      store: h.store,
      env: env({ EDITOR: ed.path }),
      confirm: async (q) => {
        asked.push(q);
        return true;
      },
    });
    // Assess
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(asked, [`Apply these changes to ${label(c)}?`]);
    assert.ok(r.stdout.split('\n').includes('-ttl: 10') && r.stdout.split('\n').includes('+ttl: 30'), r.stdout);
    assert.deepEqual(await h.store.getConfig(c), { config: { ...DEFAULT_CONFIG, ttl: 30 }, version: 2 });
    const [seen] = ed.seen();
    assert.equal(seen?.mode, '600');
    assert.ok(seen.file.startsWith(tmpdir()), seen.file);
    assert.equal(existsSync(seen.file), false);
    assert.equal(existsSync(dirname(seen.file)), false);
  });

  test('the editor gets the config exactly as show-config prints it', async () => {
    // Prepare
    const c = newCluster();
    await h.store.putConfig(c, { ...DEFAULT_CONFIG, postgresql: { parameters: { work_mem: '64MB' } } }, null);
    const copy = join(dir, 'as-edited.yaml');
    const ed = editor(`cp "$f" '${copy}'`);
    // Act
    const shown = await run(['show-config', label(c)], { store: h.store });
    const r = await run(['edit-config', label(c)], { store: h.store, env: env({ EDITOR: ed.path }) });
    // Assess
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(copy, 'utf8'), shown.stdout);
  });

  test('$VISUAL wins over $EDITOR, and its words are the command and its arguments', async () => {
    // Prepare
    const c = newCluster();
    await h.store.putConfig(c, DEFAULT_CONFIG, null);
    const visual = editor(`sed -i "s/^ttl: 10$/ttl: $1/" "$f"`);
    const other = editor('exit 9');
    // Act
    const r = await run(['edit-config', label(c), '--force'], { store: h.store, env: env({ VISUAL: `  ${visual.path}   45 `, EDITOR: other.path }) });
    // Assess
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await h.store.getConfig(c))?.config.ttl, 45);
    assert.equal(other.seen().length, 0);
  });

  test('a key removed in the editor takes its default: the edited file is the whole config', async () => {
    // Prepare
    const c = newCluster();
    await h.store.putConfig(c, { ...DEFAULT_CONFIG, ttl: 30, postgresql: { parameters: { work_mem: '64MB', max_connections: 200 } } }, null);
    const ed = editor(`sed -i -e '/^ttl:/d' -e '/work_mem:/d' "$f"`);
    // Act
    const r = await run(['edit-config', label(c), '--force'], { store: h.store, env: env({ EDITOR: ed.path }) });
    // Assess
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await h.store.getConfig(c), { config: { ...DEFAULT_CONFIG, postgresql: { parameters: { max_connections: 200 } } }, version: 2 });
  });

  test('a file left unchanged says "Not changed", writes nothing and leaves no temp file', async () => {
    // Prepare
    const c = newCluster();
    await h.store.putConfig(c, DEFAULT_CONFIG, null);
    const ed = editor('exit 0');
    // Act
    const r = await run(['edit-config', label(c)], { store: h.store, env: env({ EDITOR: ed.path }) });
    // Assess
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Not changed\n');
    assert.deepEqual(await h.store.getConfig(c), { config: DEFAULT_CONFIG, version: 1 });
    assert.equal(existsSync(dirname(ed.seen()[0]?.file ?? '')), false);
  });

  test('an editor that exits non-zero is refused: exit 1, nothing written, no temp file', async () => {
    // Prepare
    const c = newCluster();
    await h.store.putConfig(c, DEFAULT_CONFIG, null);
    const ed = editor(`sed -i 's/^ttl: 10$/ttl: 30/' "$f"\nexit 3`);
    // Act
    const r = await run(['edit-config', label(c), '--force'], { store: h.store, env: env({ EDITOR: ed.path }) });
    // Assess
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `pgfloat: editor ${ed.path} exited with 3; nothing written\n`);
    assert.deepEqual(await h.store.getConfig(c), { config: DEFAULT_CONFIG, version: 1 });
    assert.equal(existsSync(dirname(ed.seen()[0]?.file ?? '')), false);
  });

  test('an editor that cannot be started is refused, naming it: exit 1, nothing written', async () => {
    // Prepare
    const c = newCluster();
    await h.store.putConfig(c, DEFAULT_CONFIG, null);
    const missing = join(dir, 'no-such-editor');
    // Act
    const r = await run(['edit-config', label(c), '--force'], { store: h.store, env: env({ EDITOR: `${missing} --wait` }) });
    // Assess
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^pgfloat: editor ${missing} --wait could not be started \\(ENOENT\\): set VISUAL or EDITOR; nothing written`));
    assert.deepEqual(await h.store.getConfig(c), { config: DEFAULT_CONFIG, version: 1 });
  });

  test('an edited file that is not valid YAML, not a mapping, empty or an invalid config is refused and writes nothing', async () => {
    // Prepare
    const c = newCluster();
    await h.store.putConfig(c, DEFAULT_CONFIG, null);
    const broken = editor(`printf 'ttl: [\\n' > "$f"`);
    const list = editor(`printf -- '- ttl\\n' > "$f"`);
    const empty = editor(`: > "$f"`);
    const invalid = editor(`sed -i 's/^ttl: 10$/ttl: 5/' "$f"`);
    // Act
    const runs = [];
    for (const ed of [broken, list, empty, invalid]) runs.push(await run(['edit-config', label(c), '--force'], { store: h.store, env: env({ EDITOR: ed.path }) }));
    // Assess
    for (const r of runs) assert.equal(r.code, 1, r.stdout);
    assert.match(runs[0]?.stderr ?? '', /^pgfloat: the edited config is not valid YAML \(.*\); nothing written/);
    assert.match(runs[1]?.stderr ?? '', /^pgfloat: the edited config: expected a mapping of config keys/);
    assert.equal(runs[2]?.stderr, 'pgfloat: the edited config is empty; nothing written\n');
    assert.match(runs[3]?.stderr ?? '', /invalid config, nothing written:\n {2}ttl: ttl \(5\) must be at least/);
    assert.deepEqual(await h.store.getConfig(c), { config: DEFAULT_CONFIG, version: 1 });
  });

  test('a config changed while the editor was open is not overwritten: exit 1', async () => {
    // Prepare
    const c = newCluster();
    await h.store.putConfig(c, DEFAULT_CONFIG, null);
    const ed = editor(`sed -i 's/^ttl: 10$/ttl: 30/' "$f"`);
    const store = racingStore(h.store, async () => {
      await h.store.putConfig(c, { ...DEFAULT_CONFIG, loopWait: 1 }, 1);
    });
    // Act
    const r = await run(['edit-config', label(c), '--force'], { store, env: env({ EDITOR: ed.path }) });
    // Assess
    assert.equal(r.code, 1);
    assert.match(r.stderr, /edit-config not written: the config changed while you edited \(version 2\); run again/);
    assert.deepEqual(await h.store.getConfig(c), { config: { ...DEFAULT_CONFIG, loopWait: 1 }, version: 2 });
  });
});
