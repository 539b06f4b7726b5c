// pg_rewind's failure at a target whose WAL ends exactly at the fork, as seen
// on PostgreSQL 15: nothing to rewind, the standby follows the new timeline.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { targetEndsAtFork } from '../../lib/postgres/rewind-output.js';

const AT_FORK = [
  'pg_rewind: servers diverged at WAL location 0/4054288 on timeline 1',
  'pg_rewind: error: could not find previous WAL record at 0/4054288: invalid record length at 0/4054288: wanted 24, got 0',
].join('\n');

test('a target whose WAL ends at the divergence point has nothing to rewind', () => {
  assert.equal(targetEndsAtFork(AT_FORK), true);
});

test('any other pg_rewind failure is a failure', () => {
  const cases = [
    // The unreadable record lies elsewhere: the target may hold WAL past the fork.
    AT_FORK.replace('record at 0/4054288: invalid record length at 0/4054288', 'record at 0/4054200: invalid record length at 0/4054200'),
    // A record there, but broken: not the end of WAL.
    AT_FORK.replace('wanted 24, got 0', 'wanted 24, got 16'),
    'pg_rewind: error: could not find previous WAL record at 0/4054288: invalid record length at 0/4054288: wanted 24, got 0',
    'pg_rewind: servers diverged at WAL location 0/4054288 on timeline 1\npg_rewind: error: could not open file "000000010000000000000004": No such file or directory',
    'pg_rewind: error: target server must be shut down cleanly',
  ];
  for (const c of cases) assert.equal(targetEndsAtFork(c), false, c);
});
