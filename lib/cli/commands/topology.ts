// `pgfloat topology`: the leader, then the replicas that follow it, indented.
import { clusterJson, readExistingCluster, currentLeader, footer, memberColumns, memberRows, tableCells, tableTitle } from '../cluster-view.js';
import type { CommandSpec } from '../command.js';
import { renderTable } from '../table.js';

export const topology: CommandSpec = {
  name: 'topology',
  summary: 'the leader and the replicas that follow it, as a tree',
  synopsis: 'topology [cluster]',
  help: [],
  options: {},
  positionals: [],
  async run(ctx) {
    const snap = await readExistingCluster(ctx);
    const leader = currentLeader(snap);
    const rows = memberRows(snap, ctx.now());
    // Every replica follows the leader (there is no cascading replication);
    // without a leader, every member is a root.
    const head = rows.filter((r) => r.role === 'Leader');
    const rest = rows.filter((r) => r.role !== 'Leader');
    const ordered = [...head, ...rest];
    if (ctx.json) {
      ctx.result(clusterJson(snap, ordered));
      return 0;
    }
    const columns = memberColumns(rows);
    const cells = [
      ...head.map((r) => tableCells(r, r.member, columns)),
      ...rest.map((r) => tableCells(r, leader !== null && r.role !== 'Primary (no lease)' ? `+ ${r.member}` : r.member, columns)),
    ];
    ctx.say([...renderTable(columns, cells, tableTitle(snap)), ...footer(snap)].join('\n'));
    return 0;
  },
};
