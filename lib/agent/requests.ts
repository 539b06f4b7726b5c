// The health API's mutating endpoints write operator requests into the
// store, exactly as the CLI does and with the CLI's checks (lib/ha/leadership.ts):
// a candidate the arbiter would refuse is refused here, and a pending
// request is never replaced; the arbiter carries them out.
import type { ClusterId } from '../dcs/keys.js';
import type { Store } from '../dcs/store.js';
import { currentLeader, mayTakeOver } from '../ha/leadership.js';

type Reply = { status: number; message: string };

export function switchoverHandlers(store: Store, c: ClusterId, now: () => number) {
  return {
    onSwitchover: async (req: { leader?: string; candidate?: string; scheduledAt?: number }): Promise<Reply> => {
      const snap = await store.readCluster(c);
      const leader = currentLeader(snap);
      if (leader === null || leader.phase !== 'active') return { status: 412, message: 'no healthy leader: a switchover needs one (use failover)' };
      if (req.leader !== undefined && req.leader !== leader.holder) return { status: 412, message: `leader name does not match: ${leader.holder} leads` };
      if (req.candidate !== undefined) {
        if (req.candidate === leader.holder) return { status: 412, message: `${req.candidate} already leads` };
        const e = mayTakeOver(snap, req.candidate, now());
        if (!e.eligible) return { status: 412, message: `candidate ${req.candidate} is not eligible: ${e.reason}` };
      }
      if (snap.config?.config.paused && req.candidate === undefined) return { status: 412, message: 'the cluster is paused: a switchover needs a candidate' };
      if (snap.failover !== null) return { status: 409, message: `a ${snap.failover.request.kind} request is already pending: cancel it first (pgfloat flush switchover)` };
      const r = await store.setFailover(
        c,
        {
          kind: 'switchover',
          from: leader.holder,
          ...(req.candidate !== undefined ? { to: req.candidate } : {}),
          ...(req.scheduledAt !== undefined ? { scheduledAt: req.scheduledAt } : {}),
          requestedAt: now(),
          requestedBy: 'rest-api',
        },
        null,
      );
      if (!r.ok) return { status: 409, message: 'another switchover or failover request is pending' };
      return { status: req.scheduledAt !== undefined ? 202 : 200, message: req.scheduledAt !== undefined ? 'switchover scheduled' : 'switchover requested' };
    },
    onFailover: async (req: { candidate: string }): Promise<Reply> => {
      const snap = await store.readCluster(c);
      const leader = currentLeader(snap);
      if (leader?.holder === req.candidate) return { status: 412, message: `${req.candidate} already leads` };
      const e = mayTakeOver(snap, req.candidate, now(), { skipLag: true });
      if (!e.eligible) return { status: 412, message: `candidate ${req.candidate} is not eligible: ${e.reason}` };
      if (leader?.unfenced === true) return { status: 412, message: `${leader.holder} holds its lease unfenced (paused): stop its PostgreSQL, then pgfloat failover --holder-stopped` };
      if (snap.failover !== null) return { status: 409, message: `a ${snap.failover.request.kind} request is already pending: cancel it first (pgfloat flush switchover)` };
      const r = await store.setFailover(c, { kind: 'failover', ...(leader !== null ? { from: leader.holder } : {}), to: req.candidate, requestedAt: now(), requestedBy: 'rest-api' }, null);
      if (!r.ok) return { status: 409, message: 'another switchover or failover request is pending' };
      return { status: 200, message: `failover to ${req.candidate} requested` };
    },
  };
}
