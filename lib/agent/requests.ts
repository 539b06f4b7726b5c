// The health API's mutating endpoints write operator requests into the
// store, exactly as the CLI does; the arbiter carries them out.
import type { ClusterId } from '../dcs/keys.js';
import type { Store } from '../dcs/store.js';

type Reply = { status: number; message: string };

export function switchoverHandlers(store: Store, c: ClusterId, now: () => number) {
  return {
    onSwitchover: async (req: { leader?: string; candidate?: string; scheduledAt?: number }): Promise<Reply> => {
      const snap = await store.readCluster(c);
      const leader = snap.leader;
      if (leader === null || leader.phase !== 'active') return { status: 412, message: 'no healthy leader: a switchover needs one (use failover)' };
      if (req.leader !== undefined && req.leader !== leader.holder) return { status: 412, message: `leader name does not match: ${leader.holder} leads` };
      if (req.candidate !== undefined && !snap.members.some((m) => m.name === req.candidate)) return { status: 412, message: `no member named ${req.candidate}` };
      if (snap.config?.config.paused && req.candidate === undefined) return { status: 412, message: 'the cluster is paused: a switchover needs a candidate' };
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
        snap.failover?.version ?? null,
      );
      if (!r.ok) return { status: 409, message: 'another switchover or failover request is pending' };
      return { status: req.scheduledAt !== undefined ? 202 : 200, message: req.scheduledAt !== undefined ? 'switchover scheduled' : 'switchover requested' };
    },
    onFailover: async (req: { candidate: string }): Promise<Reply> => {
      const snap = await store.readCluster(c);
      if (!snap.members.some((m) => m.name === req.candidate)) return { status: 412, message: `no member named ${req.candidate}` };
      const r = await store.setFailover(c, { kind: 'failover', to: req.candidate, requestedAt: now(), requestedBy: 'rest-api' }, snap.failover?.version ?? null);
      if (!r.ok) return { status: 409, message: 'another switchover or failover request is pending' };
      return { status: 200, message: `failover to ${req.candidate} requested` };
    },
  };
}
