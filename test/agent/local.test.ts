// What the agent reads of its data directory, on real PostgreSQL: a base
// backup that never started is a standby's data, whatever its pg_control says.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { readLocal } from '../../lib/agent/local.js';
import type { PostgresNode } from '../../lib/postgres/node.js';
import { TestCluster } from '../postgres/fixture.js';

let cluster: TestCluster;
let a: PostgresNode;
let b: PostgresNode;

before(async () => {
  cluster = await TestCluster.create();
  a = await cluster.node('a');
  b = await cluster.node('b');
  await a.initdb({ noSync: true });
  await a.start();
});
after(async () => cluster.cleanup());

test('a clone that never started reads as a standby copy, not as a primary (no rewind of it)', async () => {
  // Prepare: pg_basebackup of a running primary, not started (its first start failed, say)
  await b.clone({ ...a.address('b'), createSlot: true }, { noSync: true });
  // Act
  const r = await readLocal(b, []);
  // Assess
  assert.equal(r.state.empty, false);
  assert.equal(r.state.running, false);
  assert.equal(r.state.wasPrimary, false);
});

test('a stopped primary reads as a primary', async () => {
  // Act
  await a.stop('fast');
  const r = await readLocal(a, []);
  // Assess
  assert.equal(r.state.wasPrimary, true);
  assert.equal(r.state.cleanShutdown, true);
});
