// The endpoint follows the leader: desired state, reconciled every tick.
// It moves only to a holder that confirmed its promotion (phase active) and
// only forward in term, so a late tick can never point it back.
import type { ArbiterAction } from './actions.js';
import type { Tick } from './tick.js';

export interface EndpointPlan {
  readonly actions: readonly ArbiterAction[];
  readonly notes: readonly string[];
}

export function reconcileEndpoint(t: Tick): EndpointPlan {
  const leader = t.snapshot.leader;
  if (leader === null || leader.phase !== 'active' || t.leaseExpired) return { actions: [], notes: [] };
  const record = t.snapshot.endpoint;
  if (record !== null && record.term > leader.term) {
    return {
      actions: [],
      notes: [`endpoint record (${record.member}, term ${record.term}) is ahead of the leader's term ${leader.term}: left alone`],
    };
  }
  if (record !== null && record.term === leader.term) {
    if (record.member === leader.holder) {
      // The record is the arbiter's word; the endpoint itself is the truth. A look that found it elsewhere moves it again.
      const c = t.endpointCheck;
      if (c === null || c.member !== record.member || c.term !== record.term || c.pointsThere) return { actions: [], notes: [] };
      return {
        actions: [
          {
            type: 'moveEndpoint',
            member: leader.holder,
            term: leader.term,
            reason: `endpoint to ${leader.holder} for term ${leader.term} again: its record names ${record.member}, but the endpoint itself does not point there`,
          },
        ],
        notes: [],
      };
    }
    return {
      actions: [],
      notes: [`endpoint record names ${record.member} for term ${record.term}, held by ${leader.holder}: left alone`],
    };
  }
  const was = record === null ? 'no record yet' : `was ${record.member}, term ${record.term}`;
  // The move comes first: the history step is a create-once write, and a
  // shell that stops at its refusal must not leave the endpoint behind.
  return {
    actions: [
      {
        type: 'moveEndpoint',
        member: leader.holder,
        term: leader.term,
        reason: `endpoint to ${leader.holder} for term ${leader.term} (${was})`,
      },
      {
        type: 'recordHistoryStep',
        term: leader.term,
        step: 'promotedAt',
        at: t.now,
        reason: `${leader.holder} confirmed its promotion to term ${leader.term}`,
      },
    ],
    notes: [],
  };
}
