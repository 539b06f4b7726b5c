// Parameter checks as a table: what is stored and written, what is refused
// and why. The server's own verdict on the same values is checked in
// settings-catalogue.test.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { applyBy, checkParameter, checkParameters, parseBool, type ProblemCode } from '../../lib/postgres/parameters.js';

const GiB = 1024 ** 3;

describe('parameter checks', () => {
  const cases: Array<[string, string | number | boolean, 'cluster' | 'node', ProblemCode | null]> = [
    ['work_mem', '64MB', 'cluster', null],
    ['work_mem', 65536, 'cluster', null],
    ['work_mem', '1.5MB', 'cluster', null],
    ['work_mem', 'lots', 'cluster', 'invalid_value'],
    ['work_mem', '64 parsecs', 'cluster', 'invalid_value'],
    ['work_mem', '32kB', 'cluster', 'out_of_range'],
    ['work_mem', '5TB', 'cluster', 'out_of_range'],
    ['statement_timeout', '30s', 'cluster', null],
    ['statement_timeout', '30MB', 'cluster', 'invalid_value'],
    ['checkpoint_completion_target', 0.9, 'cluster', null],
    ['checkpoint_completion_target', 1.5, 'cluster', 'out_of_range'],
    ['log_connections', 'yes', 'cluster', null],
    ['log_connections', 'maybe', 'cluster', 'invalid_value'],
    ['synchronous_commit', 'remote_apply', 'cluster', null],
    ['synchronous_commit', 'sometimes', 'cluster', 'invalid_value'],
    ['huge_pages', true, 'cluster', null],
    ['search_path', '"$user", public', 'cluster', null],
    ['application_name', 'two\nlines', 'cluster', 'invalid_value'],
    ['foo bar; DROP TABLE x', 1, 'cluster', 'bad_name'],
    ['work_mme', '64MB', 'cluster', 'unknown'],
    ['pg_stat_statements.max', 10000, 'cluster', null],
    ['block_size', 8192, 'cluster', 'fixed'],
    ['port', 5433, 'cluster', 'ha_owned'],
    ['primary_conninfo', 'host=evil', 'cluster', 'ha_owned'],
    ['synchronous_standby_names', '*', 'cluster', 'ha_owned'],
    ['hot_standby', 'off', 'cluster', 'ha_owned'],
    ['hot_standby', 'on', 'cluster', null],
    ['wal_level', 'minimal', 'cluster', 'ha_owned'],
    ['wal_level', 'logical', 'cluster', null],
    ['wal_log_hints', false, 'cluster', 'ha_owned'],
    ['max_wal_senders', 5, 'cluster', 'ha_owned'],
    ['max_wal_senders', 20, 'cluster', null],
    ['max_connections', 200, 'cluster', null],
    ['max_connections', 200, 'node', 'cluster_only'],
    ['recovery_target_time', '2026-01-01', 'node', 'ha_owned'],
    ['fsync', 'off', 'node', null],
  ];
  for (const [name, value, source, expected] of cases) {
    test(`${name}=${JSON.stringify(value)} from the ${source} is ${expected ?? 'accepted'}`, () => {
      // Act
      const problem = checkParameter(name, value, { source });

      // Assess
      assert.equal(problem?.code ?? null, expected, problem?.message);
      if (problem !== null) assert.ok(problem.message.startsWith(`${name}=`), problem.message);
    });
  }

  test('a refusal names the parameter and the fix', () => {
    // Act
    const unknown = checkParameter('work_mme', '64MB', { source: 'cluster' });
    const bad = checkParameter('work_mem', 'lots', { source: 'cluster' });
    const perNode = checkParameter('max_connections', 200, { source: 'node' });

    // Assess
    assert.match(unknown?.message ?? '', /did you mean work_mem\?/);
    assert.match(bad?.message ?? '', /^work_mem=lots: expected a number with an optional unit \(B, kB, MB, GB, TB\)/);
    assert.match(perNode?.message ?? '', /pgfloat edit-config --pg max_connections=200/);
  });

  test('shared_buffers at or above a node\'s memory is refused, below it accepted', () => {
    // Act
    const huge = checkParameter('shared_buffers', '1TB', { source: 'cluster', memoryBytes: 24 * GiB });
    const fine = checkParameter('shared_buffers', '4GB', { source: 'cluster', memoryBytes: 24 * GiB });
    const unknownMemory = checkParameter('shared_buffers', '1TB', { source: 'cluster' });

    // Assess
    assert.equal(huge?.code, 'too_large');
    assert.match(huge?.message ?? '', /1024\.0 GiB is not less than the node's memory \(24\.0 GiB\)/);
    assert.equal(fine, null);
    assert.equal(unknownMemory, null);
  });

  test('checkParameters keeps what passed and lists each refusal', () => {
    // Act
    const r = checkParameters({ work_mem: '64MB', shared_buffers: 'lots', port: 1 }, { source: 'cluster' });

    // Assess
    assert.deepEqual(r.accepted, { work_mem: '64MB' });
    assert.deepEqual(r.problems.map((p) => p.name), ['shared_buffers', 'port']);
  });

  test('postmaster settings apply by restart, the rest by reload', () => {
    // Assess
    assert.equal(applyBy('shared_buffers'), 'restart');
    assert.equal(applyBy('max_connections'), 'restart');
    assert.equal(applyBy('work_mem'), 'reload');
    assert.equal(applyBy('checkpoint_timeout'), 'reload');
    assert.equal(applyBy('pg_stat_statements.track'), 'reload');
  });

  test('booleans parse as the server parses them, prefixes included', () => {
    // Assess
    assert.deepEqual(['on', 'OFF', 'tr', 'f', 'y', 'no', '1', '0', 'o', 'x', ''].map(parseBool), [true, false, true, false, true, false, true, false, null, null, null]);
  });
});
