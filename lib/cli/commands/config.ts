// `pgfloat show-config`: the cluster-wide configuration in Patroni's
// snake_case names, the text `edit-config` opens in the editor.
import { clusterLabel } from '../../dcs/keys.js';
import type { CommandSpec } from '../command.js';
import { renderYaml, toDocument } from '../config-doc.js';
import { readConfig } from './config-item.js';

export const showConfig: CommandSpec = {
  name: 'show-config',
  summary: 'the cluster configuration (YAML; --json for JSON)',
  synopsis: 'show-config [cluster]',
  help: [],
  options: {},
  positionals: [],
  async run(ctx) {
    const read = await readConfig(ctx);
    const doc = toDocument(read.config);
    if (read.version === null) ctx.io.stderr.write(`No config stored for ${clusterLabel(ctx.cluster)} yet: these are the defaults\n`);
    if (ctx.json) ctx.result(doc);
    else ctx.say(renderYaml(doc).trimEnd());
    return 0;
  },
};
