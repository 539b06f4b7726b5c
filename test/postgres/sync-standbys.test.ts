import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatSyncStandbys, parseSyncStandbys, type SyncStandbys } from '../../lib/postgres/sync-standbys.js';
import { InvalidSyncStandbysError } from '../../lib/postgres/errors.js';

describe('synchronous_standby_names', () => {
  test('writes quorum and priority forms with every name quoted', () => {
    // Prepare
    const quorum: SyncStandbys = { method: 'any', count: 1, names: ['b', 'c'] };
    const priority: SyncStandbys = { method: 'first', count: 2, names: ['node-1', 'ANY', '2'] };

    // Act
    const any = formatSyncStandbys(quorum);
    const first = formatSyncStandbys(priority);

    // Assess
    assert.equal(any, 'ANY 1 ("b", "c")');
    assert.equal(first, 'FIRST 2 ("node-1", "ANY", "2")');
  });

  test('writes asynchronous replication as the empty string', () => {
    // Act + Assess
    assert.equal(formatSyncStandbys(null), '');
    assert.equal(parseSyncStandbys(''), null);
    assert.equal(parseSyncStandbys('   '), null);
  });

  test('doubles a double quote inside a name', () => {
    // Prepare
    const spec: SyncStandbys = { method: 'first', count: 1, names: ['we"ird, (name)'] };

    // Act
    const text = formatSyncStandbys(spec);

    // Assess
    assert.equal(text, 'FIRST 1 ("we""ird, (name)")');
    assert.deepEqual(parseSyncStandbys(text), spec);
  });

  test('reads every form PostgreSQL 15 accepts', () => {
    // Act + Assess
    assert.deepEqual(parseSyncStandbys('a, b'), { method: 'first', count: 1, names: ['a', 'b'] });
    assert.deepEqual(parseSyncStandbys('2 (a,b,c)'), { method: 'first', count: 2, names: ['a', 'b', 'c'] });
    assert.deepEqual(parseSyncStandbys('first 1 (a)'), { method: 'first', count: 1, names: ['a'] });
    assert.deepEqual(parseSyncStandbys('ANY 2 ( "x" , y )'), { method: 'any', count: 2, names: ['x', 'y'] });
    assert.deepEqual(parseSyncStandbys('*'), { method: 'first', count: 1, names: ['*'] });
  });

  test('round-trips any valid specification', () => {
    // Act + Assess
    const name = fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !s.includes('\0'));
    fc.assert(
      fc.property(
        fc.constantFrom<'first' | 'any'>('first', 'any'),
        fc.uniqueArray(name, { minLength: 1, maxLength: 5, selector: (s) => s.toLowerCase() }),
        fc.nat(),
        (method, names, n) => {
          const spec: SyncStandbys = { method, count: 1 + (n % names.length), names };
          assert.deepEqual(parseSyncStandbys(formatSyncStandbys(spec)), spec);
        },
      ),
    );
  });

  test('refuses to write specifications that would block or never match', () => {
    // Act + Assess
    const refused: SyncStandbys[] = [
      { method: 'any', count: 1, names: [] },
      { method: 'any', count: 0, names: ['a'] },
      { method: 'first', count: 3, names: ['a', 'b'] },
      { method: 'first', count: 1, names: ['a', 'A'] },
      { method: 'first', count: 1, names: ['x'.repeat(64)] },
      { method: 'first', count: 1, names: [''] },
    ];
    for (const spec of refused) assert.throws(() => formatSyncStandbys(spec), InvalidSyncStandbysError, JSON.stringify(spec));
  });

  test('refuses malformed setting texts', () => {
    // Act + Assess
    for (const bad of ['ANY (a)', 'ANY 1 a', 'FIRST 1 (a', '1 (a) b', '"a', 'a,', '0 (a)', 'ANY 1 ()']) {
      assert.throws(() => parseSyncStandbys(bad), InvalidSyncStandbysError, bad);
    }
  });
});
