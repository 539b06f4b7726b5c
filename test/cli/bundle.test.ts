// The CLI bundle that bin/pgfloat.mjs runs: built when missing, reused while
// every input is unchanged, rebuilt when one changed, never seen half
// written by concurrent first calls. Each test bundles a small program in a
// project of its own, laid out like this one (lib/cli/bin.ts, node_modules).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, test } from 'node:test';

interface Bundler {
  cliBundle(root: string): Promise<string>;
  bundleCli(root: string): Promise<string>;
  freshCliBundle(root: string): string | null;
}

const bundleModule = pathToFileURL(join(import.meta.dirname, '..', '..', 'scripts', 'bundle.mjs')).href;
const bundler = async (): Promise<Bundler> => (await import(bundleModule)) as Bundler;
const run = promisify(execFile);

/** A time well before any build of the test, so that no input looks written during one. */
const past = (secondsAgo: number): Date => new Date(Date.now() - secondsAgo * 1000);

describe('the CLI bundle', () => {
  let root: string;
  const write = (path: string, text: string, at: Date = past(60)): void => {
    const file = join(root, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    utimesSync(file, at, at);
  };
  /** What npm does to a package it installs: writes all its files, package.json included. */
  const installDep = (version: string, dep: string): void => {
    write('node_modules/dep/package.json', JSON.stringify({ name: 'dep', version, type: 'module', main: 'index.js' }));
    write('node_modules/dep/index.js', `export const dep = '${dep}';\n`);
  };
  const output = async (entry: string): Promise<string> => (await run(process.execPath, [entry])).stdout;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'pgfloat-bundle-'));
    write('lib/cli/bin.ts', "import { text } from './message.js';\nimport { dep } from 'dep';\nconsole.log(text, dep);\n");
    write('lib/cli/message.ts', "export const text: string = 'one';\n");
    installDep('1.0.0', 'a');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  test('is built when missing, then reused while no input changed', async () => {
    // Prepare
    const b = await bundler();
    assert.equal(b.freshCliBundle(root), null);
    // Act
    const built = await b.cliBundle(root);
    const again = await b.cliBundle(root);
    // Assess
    assert.equal(again, built);
    assert.equal(b.freshCliBundle(root), built);
    assert.equal(await output(built), 'one a\n');
  });

  test('is stale once an input changed, even to the same size with an older mtime', async () => {
    // Prepare
    const b = await bundler();
    const first = await b.cliBundle(root);
    write('lib/cli/message.ts', "export const text: string = 'two';\n", past(120));
    // Act
    const fresh = b.freshCliBundle(root);
    const rebuilt = await b.cliBundle(root);
    // Assess
    assert.equal(fresh, null);
    assert.notEqual(rebuilt, first);
    assert.equal(await output(rebuilt), 'two a\n');
  });

  test('is stale once npm installed another version of a dependency it bundles', async () => {
    // Prepare
    const b = await bundler();
    await b.cliBundle(root);
    installDep('1.0.1', 'b');
    // Act
    const fresh = b.freshCliBundle(root);
    const rebuilt = await b.cliBundle(root);
    // Assess
    assert.equal(fresh, null);
    assert.equal(await output(rebuilt), 'one b\n');
  });

  test('is stale once an input or the bundle itself is gone', async () => {
    // Prepare
    const b = await bundler();
    const first = await b.cliBundle(root);
    // Act
    rmSync(dirname(first), { recursive: true });
    const withoutBundle = b.freshCliBundle(root);
    const second = await b.cliBundle(root);
    rmSync(join(root, 'lib/cli/message.ts'));
    const withoutInput = b.freshCliBundle(root);
    // Assess
    assert.equal(withoutBundle, null);
    assert.equal(await output(second), 'one a\n');
    assert.equal(withoutInput, null);
  });

  test('counts an input written since the build started as changed, so the next call builds again', async () => {
    // Prepare: an mtime after the build's start stands for a write esbuild may have missed
    const b = await bundler();
    write('lib/cli/message.ts', "export const text: string = 'one';\n", new Date(Date.now() + 60_000));
    // Act
    const built = await b.bundleCli(root);
    // Assess
    assert.equal(await output(built), 'one a\n');
    assert.equal(b.freshCliBundle(root), null);
  });

  test('concurrent first calls each get a complete bundle and leave a fresh one', async () => {
    // Prepare
    const script = `const m = await import(${JSON.stringify(bundleModule)}); await import(await m.cliBundle(${JSON.stringify(root)}));`;
    // Act
    const runs = await Promise.all(
      Array.from({ length: 4 }, () => run(process.execPath, ['--input-type=module', '-e', script], { timeout: 60_000 })),
    );
    // Assess
    assert.deepEqual(
      runs.map((r) => r.stdout),
      ['one a\n', 'one a\n', 'one a\n', 'one a\n'],
    );
    const fresh = (await bundler()).freshCliBundle(root);
    assert.notEqual(fresh, null);
    assert.ok(statSync(fresh ?? '').isFile());
  });
});
