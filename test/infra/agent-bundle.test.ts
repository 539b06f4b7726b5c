// The agent as installed on a node: one bundled ES module run by plain node.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';

const root = join(import.meta.dirname, '..', '..');

test('the bundled agent runs on plain node and refuses a malformed config, naming the keys', () => {
  // Prepare
  const built = spawnSync(process.execPath, ['scripts/bundle.mjs', 'agent'], { cwd: root, encoding: 'utf8' });
  assert.equal(built.status, 0, built.stderr);
  assert.match(built.stdout, /bundled agent into \.build\/agent\/index\.mjs .* sha256 [0-9a-f]{64}/);
  const dir = mkdtempSync('/tmp/pgf-bundle-');
  after(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'agent.yml');
  writeFileSync(config, 'scope: orders\nname: node1\ndcs: { table: pgfloat }\n');
  // Act
  const run = spawnSync(process.execPath, [join(root, '.build/agent/index.mjs'), '--config', config], { encoding: 'utf8', timeout: 120_000 });
  // Assess
  assert.equal(run.status, 2, run.stderr);
  assert.match(run.stderr, /restapi: missing \(add it\)/);
  assert.match(run.stderr, /postgresql: missing \(add it\)/);
});
