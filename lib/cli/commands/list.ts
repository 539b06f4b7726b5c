// `pgfloat list`: the members of a cluster, patronictl style.
import { clusterJson, readExistingCluster, footer, memberColumns, memberRows, tableCells, tableTitle } from '../cluster-view.js';
import type { CommandSpec } from '../command.js';
import { renderTable } from '../table.js';

export const list: CommandSpec = {
  name: 'list',
  summary: 'the members, their role, state, timeline, lag, pending restart and tags',
  synopsis: 'list [cluster]',
  help: [],
  options: {},
  positionals: [],
  async run(ctx) {
    const snap = await readExistingCluster(ctx);
    const rows = memberRows(snap, ctx.now());
    if (ctx.json) {
      ctx.result(clusterJson(snap, rows));
      return 0;
    }
    const columns = memberColumns(rows);
    const lines = [
      ...renderTable(
        columns,
        rows.map((r) => tableCells(r, r.member, columns)),
        tableTitle(snap),
      ),
      ...footer(snap),
    ];
    ctx.say(lines.join('\n'));
    return 0;
  },
};
