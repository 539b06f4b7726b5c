import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatLsn, isLsn, lsnDiff, parseLsn } from '../../lib/postgres/lsn.js';
import { InvalidLsnError } from '../../lib/postgres/errors.js';

describe('LSN', () => {
  test('reads the two hexadecimal halves as one byte position', () => {
    // Prepare
    const text = '16/B374D848';

    // Act
    const bytes = parseLsn(text);

    // Assess
    assert.equal(bytes, 0x16 * 2 ** 32 + 0xb374d848);
  });

  test('prints positions as PostgreSQL does: upper case, no padding', () => {
    // Prepare
    const bytes = 0x16 * 2 ** 32 + 0xb374d848;

    // Act
    const small = formatLsn(0x3000060);
    const large = formatLsn(bytes);

    // Assess
    assert.equal(small, '0/3000060');
    assert.equal(large, '16/B374D848');
  });

  test('round-trips every representable position', () => {
    // Act + Assess
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (bytes) => {
        assert.equal(parseLsn(formatLsn(bytes)), bytes);
      }),
    );
  });

  test('accepts lower-case hexadecimal', () => {
    // Act + Assess
    assert.equal(parseLsn('a/ff'), 10 * 2 ** 32 + 255);
  });

  test('refuses malformed texts with an error naming the input and the expected form', () => {
    // Act + Assess
    for (const bad of ['', '0', '0/', '/1', '1/2/3', 'G/1', '0/123456789', ' 0/1', '0x1/2', '-1/0']) {
      assert.throws(
        () => parseLsn(bad),
        (error: unknown) => error instanceof InvalidLsnError && error.message.includes(JSON.stringify(bad)) && /16\/B374D848/.test(error.message),
        bad,
      );
      assert.equal(isLsn(bad), false);
    }
  });

  test('refuses positions that a number cannot hold exactly', () => {
    // Prepare
    const beyond = '200000/0';

    // Act + Assess
    assert.equal(parseLsn('1FFFFF/FFFFFFFF'), Number.MAX_SAFE_INTEGER);
    assert.throws(() => parseLsn(beyond), InvalidLsnError);
    assert.throws(() => formatLsn(Number.MAX_SAFE_INTEGER + 1), InvalidLsnError);
    assert.throws(() => formatLsn(-1), InvalidLsnError);
    assert.throws(() => formatLsn(1.5), InvalidLsnError);
  });

  test('measures how far one position is ahead of another, in bytes', () => {
    // Prepare
    const primary = '1/10';
    const replica = '0/FFFFFFF0';

    // Act
    const ahead = lsnDiff(primary, replica);
    const behind = lsnDiff(replica, primary);
    const mixed = lsnDiff(parseLsn(primary), replica);

    // Assess
    assert.equal(ahead, 0x20);
    assert.equal(behind, -0x20);
    assert.equal(mixed, 0x20);
  });
});
