// The endpoint's record is the arbiter's word; the endpoint itself is the
// truth. When the shell has looked at the endpoint and found it elsewhere
// (a restarted local proxy, an address moved by hand), the arbiter moves it
// again to the recorded holder; a look that found it in place, or no look,
// moves nothing.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decide } from '../../lib/ha/arbiter.js';
import { decisionReason, endpoint, input, leader, member, observed, primary, summary } from './fixtures.js';

const live = observed({ leader: leader('a'), members: [primary('a'), member('b'), member('c')], endpoint: endpoint('a', 3) });

describe('decide: the endpoint itself', () => {
  test('an endpoint found not pointing at the recorded holder is moved to it again', () => {
    // Act
    const d = decide({ ...input(live), endpointCheck: { member: 'a', term: 3, pointsThere: false } });
    // Assess
    assert.deepEqual(summary(d), ['moveEndpoint a 3'], decisionReason(d));
    assert.match(decisionReason(d), /endpoint to a for term 3 again: .* does not point there/);
  });

  test('an endpoint found in place is left alone', () => {
    const d = decide({ ...input(live), endpointCheck: { member: 'a', term: 3, pointsThere: true } });
    assert.ok(!summary(d).some((x) => x.startsWith('moveEndpoint')), decisionReason(d));
  });

  test('without a look, the record is trusted', () => {
    const d = decide(input(live));
    assert.ok(!summary(d).some((x) => x.startsWith('moveEndpoint')), decisionReason(d));
  });

  test('a look at an older term or another member says nothing about the current record', () => {
    const stale = decide({ ...input(live), endpointCheck: { member: 'a', term: 2, pointsThere: false } });
    const other = decide({ ...input(live), endpointCheck: { member: 'b', term: 3, pointsThere: false } });
    assert.ok(![...summary(stale), ...summary(other)].some((x) => x.startsWith('moveEndpoint')));
  });
});
