// `pgfloat history`: every leadership change with its cause, and how long
// each step took, measured from the grant: the new leader's promotion and
// the endpoint move. Times are the arbiter's clock.
import type { HistoryItem } from '../../dcs/items.js';
import type { CommandSpec } from '../command.js';
import { formatIso, formatLsn, seconds } from '../format.js';
import { renderTable, type Column } from '../table.js';

const COLUMNS: readonly Column[] = [
  { header: 'Term', align: 'right' },
  { header: 'Kind' },
  { header: 'From' },
  { header: 'To' },
  { header: 'Reason' },
  { header: 'LSN' },
  { header: 'Granted at' },
  { header: 'Promoted after (s)', align: 'right' },
  { header: 'Endpoint moved after (s)', align: 'right' },
];

const after = (h: HistoryItem, at: number | undefined): number | null => (at === undefined ? null : Math.max(0, at - h.grantedAt) / 1000);

/**
 * JSON shape, one object per term ascending:
 * { term, kind, from, to, reason, lsn (bytes), lsnText ("0/3000060"), timeline,
 *   grantedAt, promotedAt, endpointMovedAt (ISO 8601 or null),
 *   promotedAfterSeconds, endpointMovedAfterSeconds (from the grant, or null) }
 */
export function historyJson(rows: readonly HistoryItem[]): unknown {
  return rows.map((h) => ({
    term: h.term,
    kind: h.kind,
    from: h.from,
    to: h.to,
    reason: h.reason,
    lsn: h.lsn,
    lsnText: formatLsn(h.lsn),
    timeline: h.timeline,
    grantedAt: formatIso(h.grantedAt),
    promotedAt: h.promotedAt === undefined ? null : formatIso(h.promotedAt),
    endpointMovedAt: h.endpointMovedAt === undefined ? null : formatIso(h.endpointMovedAt),
    promotedAfterSeconds: after(h, h.promotedAt),
    endpointMovedAfterSeconds: after(h, h.endpointMovedAt),
  }));
}

export const history: CommandSpec = {
  name: 'history',
  summary: 'every leadership change, its cause and how long each step took',
  synopsis: 'history [cluster]',
  help: [],
  options: {},
  positionals: [],
  async run(ctx) {
    const rows = await ctx.store.listHistory(ctx.cluster);
    if (ctx.json) {
      ctx.result(historyJson(rows));
      return 0;
    }
    const step = (h: HistoryItem, at: number | undefined): string => (at === undefined ? '' : seconds(Math.max(0, at - h.grantedAt)));
    const cells = rows.map((h) => [
      String(h.term),
      h.kind,
      h.from ?? '',
      h.to,
      h.reason,
      formatLsn(h.lsn),
      formatIso(h.grantedAt),
      step(h, h.promotedAt),
      step(h, h.endpointMovedAt),
    ]);
    ctx.say(renderTable(COLUMNS, cells).join('\n'));
    return 0;
  },
};
