// `pgfloat list`: the members of a cluster, patronictl style.
import { clusterJson, readExistingCluster, footer, MEMBER_COLUMNS, memberRows, tableCells, tableTitle } from '../cluster-view.js';
import type { CommandSpec } from '../command.js';
import { renderTable } from '../table.js';

export const list: CommandSpec = {
  name: 'list',
  summary: 'the members, their role, state, timeline and lag',
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
    const lines = [
      ...renderTable(
        MEMBER_COLUMNS,
        rows.map((r) => tableCells(r)),
        tableTitle(snap),
      ),
      ...footer(snap),
    ];
    ctx.say(lines.join('\n'));
    return 0;
  },
};
