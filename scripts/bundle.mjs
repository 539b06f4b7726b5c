#!/usr/bin/env node
// Bundles the Lambda functions with esbuild, one ES module per function, into
// .build/<function>/index.mjs (plus its source map). serverless.yml packages
// exactly these files, so what is deployed is what was bundled here.
// Every dependency is bundled, the AWS SDK included: the function runs the
// versions pinned in package-lock.json, not whichever SDK the runtime ships.
//
// It also bundles the operator CLI (`node scripts/bundle.mjs cli`, see
// cliBundle below), which bin/pgfloat.mjs runs on every call: so this module
// loads esbuild only when something is built, and checking that the CLI
// bundle is fresh costs a file read and about a hundred stats (no node:crypto).
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));

/** Function name (as in serverless.yml) -> entry point exporting `handler`. */
export const FUNCTIONS = {
  arbiter: 'functions/arbiter/handler.ts',
};

/** The node agent, a program rather than a handler: .build/agent/index.mjs, installed as /opt/pgfloat/agent.mjs. */
export const PROGRAMS = {
  agent: 'lib/agent/bin.ts',
};

// An ES module bundle still contains CommonJS dependencies that call
// require(), __filename or __dirname; give them the ESM equivalents.
const banner = [
  "import { createRequire as __pgfloatCreateRequire } from 'node:module';",
  "import { fileURLToPath as __pgfloatFileURLToPath } from 'node:url';",
  "import { dirname as __pgfloatDirname } from 'node:path';",
  'const require = __pgfloatCreateRequire(import.meta.url);',
  'const __filename = __pgfloatFileURLToPath(import.meta.url);',
  'const __dirname = __pgfloatDirname(__filename);',
].join('\n');

export async function bundle(names = Object.keys(FUNCTIONS)) {
  const { build } = await import('esbuild');
  const outputs = [];
  for (const name of names) {
    const entry = FUNCTIONS[name] ?? PROGRAMS[name];
    if (entry === undefined) {
      const known = [...Object.keys(FUNCTIONS), ...Object.keys(PROGRAMS), 'cli'].join(', ');
      throw new Error(`bundle: nothing named "${name}" (known: ${known}): add it to FUNCTIONS or PROGRAMS in scripts/bundle.mjs`);
    }
    const outdir = join(root, '.build', name);
    rmSync(outdir, { recursive: true, force: true });
    const result = await build({
      absWorkingDir: root,
      entryPoints: { index: join(root, entry) },
      outdir,
      outExtension: { '.js': '.mjs' },
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'esm',
      // Powertools and the AWS SDK publish "module" builds; prefer them so tree shaking works.
      mainFields: ['module', 'main'],
      banner: { js: banner },
      minify: true,
      sourcemap: true,
      sourcesContent: false,
      legalComments: 'none',
      metafile: true,
      logLevel: 'warning',
    });
    const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
    outputs.push({ name, outdir: relative(root, outdir), bytes });
  }
  return outputs;
}

/** The operator CLI's entry point; its bundle is .build/cli/<build>/index.mjs and its chunks. */
export const CLI_ENTRY = 'lib/cli/bin.ts';

/**
 * Files that shape the CLI bundle without being inputs esbuild reports: the
 * build options (this file), the TypeScript settings and the esbuild version.
 */
const CLI_BUILD_FILES = ['scripts/bundle.mjs', 'tsconfig.json', 'package.json', 'node_modules/esbuild/package.json'];

/** A bundle directory that is not current is removed once this old; a CLI started from it has long loaded its chunks. */
const OLD_BUILD_MS = 60 * 60 * 1000;

function cliDir(projectRoot) {
  return join(projectRoot, '.build', 'cli');
}

/**
 * The path of the CLI bundle's entry module if the bundle exists and none of
 * the files it was built from changed since (same size and mtime, to the
 * nanosecond the file system keeps), else null. This runs on every CLI call,
 * so it stats one file per dependency package rather than every file of it:
 * see watchedFile.
 */
export function freshCliBundle(projectRoot = root) {
  const dir = cliDir(projectRoot);
  let current;
  try {
    current = JSON.parse(readFileSync(join(dir, 'current.json'), 'utf8'));
  } catch {
    return null;
  }
  if (typeof current?.build !== 'string' || !Array.isArray(current.entry) || typeof current.inputs !== 'object') return null;
  const entry = join(dir, current.build, 'index.mjs');
  const same = (path, [size, mtimeMs]) => {
    const s = statSync(path, { throwIfNoEntry: false });
    return s !== undefined && s.size === size && s.mtimeMs === mtimeMs;
  };
  if (!same(entry, current.entry)) return null;
  for (const [path, recorded] of Object.entries(current.inputs ?? {})) {
    if (!same(join(projectRoot, path), recorded)) return null;
  }
  return entry;
}

/**
 * The file whose size and mtime stand for an input: the input itself, or
 * for a file under node_modules the package.json of its package. npm writes
 * every file of a package it installs, package.json included, so any npm
 * install, update or ci changes that stamp; about a hundred stats instead
 * of a thousand (~1 ms, not ~12). Editing a file of node_modules by hand is
 * not seen: run `node scripts/bundle.mjs cli` after that.
 */
function watchedFile(input) {
  const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
  return m === null ? input : `${m[1]}/package.json`;
}

/**
 * The size and mtime of an input, or a stamp that never matches when the
 * file was written since `startedMs` (the mtime of the build's directory,
 * made just before esbuild ran, by the same file system clock and rounding):
 * esbuild may have read it before that change, so the next call builds again.
 */
function stamp(projectRoot, path, startedMs) {
  const s = statSync(join(projectRoot, path), { throwIfNoEntry: false });
  if (s === undefined) return undefined;
  return s.mtimeMs >= startedMs ? [-1, -1] : [s.size, s.mtimeMs];
}

/**
 * Bundles the CLI into a new directory .build/cli/<build>/ (code split, so
 * the AWS SDK is a chunk that only commands talking to DynamoDB load), then
 * points .build/cli/current.json at it, with the size and mtime of every
 * input (see watchedFile), by writing a temporary file and renaming it over the old one.
 * Concurrent builds each write their own directory and the last rename
 * wins: a CLI never sees a half-written bundle. Returns the entry module.
 */
export async function bundleCli(projectRoot = root) {
  const { build } = await import('esbuild');
  const dir = cliDir(projectRoot);
  const id = `${Date.now().toString(36)}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const outdir = join(dir, id);
  mkdirSync(outdir, { recursive: true });
  const startedMs = statSync(outdir).mtimeMs;
  const result = await build({
    absWorkingDir: projectRoot,
    entryPoints: { index: join(projectRoot, CLI_ENTRY) },
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    mainFields: ['module', 'main'],
    banner: { js: banner },
    // Not minified: stack traces of an unexpected error keep their names and
    // lines, and minifying does not make start-up measurably faster.
    sourcemap: true,
    sourcesContent: false,
    legalComments: 'none',
    metafile: true,
    logLevel: 'error',
  });
  const inputs = {};
  for (const path of new Set([...Object.keys(result.metafile.inputs).map(watchedFile), ...CLI_BUILD_FILES])) {
    const s = stamp(projectRoot, path, startedMs);
    if (s !== undefined) inputs[path] = s;
  }
  const entry = join(outdir, 'index.mjs');
  const e = statSync(entry);
  const pointer = join(dir, `current.json.${id}.tmp`);
  writeFileSync(pointer, `${JSON.stringify({ build: id, entry: [e.size, e.mtimeMs], inputs })}\n`);
  renameSync(pointer, join(dir, 'current.json'));
  removeOldBuilds(dir, id);
  return entry;
}

function removeOldBuilds(dir, keep) {
  const now = Date.now();
  for (const name of readdirSync(dir)) {
    if (name === keep || name === 'current.json') continue;
    const path = join(dir, name);
    const s = statSync(path, { throwIfNoEntry: false });
    if (s !== undefined && now - s.mtimeMs > OLD_BUILD_MS) rmSync(path, { recursive: true, force: true });
  }
}

/** The fresh CLI bundle's entry module, built first when missing or stale. */
export async function cliBundle(projectRoot = root) {
  return freshCliBundle(projectRoot) ?? (await bundleCli(projectRoot));
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const names = process.argv.slice(2);
  const others = names.filter((n) => n !== 'cli');
  if (names.length === 0 || others.length > 0) {
    const { createHash } = await import('node:crypto');
    const outputs = await bundle(others.length > 0 ? others : undefined);
    for (const o of outputs) {
      const digest = createHash('sha256').update(readFileSync(join(root, o.outdir, 'index.mjs'))).digest('hex');
      process.stdout.write(`bundled ${o.name} into ${o.outdir}/index.mjs (${(o.bytes / 1024).toFixed(0)} KiB with its source map), sha256 ${digest}\n`);
    }
  }
  if (names.includes('cli')) {
    const entry = await bundleCli();
    process.stdout.write(`bundled cli into ${relative(root, entry)} (code split; .build/cli/current.json names it)\n`);
  }
}
