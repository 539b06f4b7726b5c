// What switchover and failover share: the operator's name for the request,
// the refusal of a pending request without --force, the write with CAS.
import type { FailoverItem, FailoverRequest } from '../../dcs/items.js';
import type { CommandContext } from '../context.js';
import { LostRaceError, RefusedError } from '../errors.js';
import { formatIso } from '../format.js';

export function describeRequest(item: FailoverItem): string {
  const r = item.request;
  const parts = [
    r.kind,
    r.from === undefined ? null : `from ${r.from}`,
    r.to === undefined ? null : `to ${r.to}`,
    r.scheduledAt === undefined ? null : `scheduled at ${formatIso(r.scheduledAt)}`,
    `requested by ${r.requestedBy} at ${formatIso(r.requestedAt)}`,
  ];
  return parts.filter((p) => p !== null).join(' ');
}

/** Refuses when a request is pending and --force was not given. */
export function refusePending(existing: FailoverItem | null, force: boolean, action: string): void {
  if (existing !== null && !force) {
    throw new RefusedError(
      `${action} refused: a request is already pending (${describeRequest(existing)}): pass --force to replace it; nothing written`,
    );
  }
}

/** Writes the request with CAS on the item read (absent or the pending one); a lost race is an error. */
export async function writeRequest(
  ctx: CommandContext,
  request: FailoverRequest,
  existing: FailoverItem | null,
  action: string,
): Promise<FailoverItem> {
  const res = await ctx.store.setFailover(ctx.cluster, request, existing?.version ?? null);
  if (!res.ok) {
    const now = res.current === null ? 'it was cleared' : `now: ${describeRequest(res.current)}, version ${res.current.version}`;
    throw new LostRaceError(`${action} not written: the request item changed while you decided (${now}); run again`);
  }
  return res.item;
}

export function requestJson(item: FailoverItem): unknown {
  const r = item.request;
  return {
    written: {
      kind: r.kind,
      from: r.from ?? null,
      to: r.to ?? null,
      scheduledAt: r.scheduledAt === undefined ? null : formatIso(r.scheduledAt),
      requestedAt: formatIso(r.requestedAt),
      requestedBy: r.requestedBy,
      version: item.version,
    },
  };
}
