// The parts of an agent configuration file (-c agent.yml) the CLI uses:
//
//   scope: orders
//   namespace: pgfloat
//   dcs:
//     table: pgfloat
//     region: eu-west-1
//     endpoint: http://127.0.0.1:8000   # DynamoDB Local only
//
// The other keys belong to the agent and are not read here; a key the agent
// does not know either, at the top level or under dcs, is refused, as the
// agent refuses it.
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { z } from 'zod';
import { agentConfigSchema as agentFileSchema } from '../agent/config.js';
import { unknownKeyMessage, validate, yamlSyntaxMessage } from '../agent/config-errors.js';
import { AgentConfigError } from './errors.js';

const AGENT_KEYS = Object.keys(agentFileSchema.shape);

export const agentConfigSchema = z
  .object({
    scope: z.string().min(1).optional(),
    namespace: z.string().min(1).optional(),
    dcs: z
      .strictObject({
        table: z.string().min(1).optional(),
        region: z.string().min(1).optional(),
        endpoint: z.url({ protocol: /^https?$/ }).optional(),
      })
      .optional(),
  })
  .loose();
export type AgentConfig = z.infer<typeof agentConfigSchema>;

export async function readAgentConfig(path: string): Promise<AgentConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const why = (err as { code?: string }).code ?? String(err);
    throw new AgentConfigError(path, `cannot be read (${why}): check the path given with -c/--config`, { cause: err });
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new AgentConfigError(path, `is not valid YAML at ${yamlSyntaxMessage(err).split('\n')[0] ?? ''}`, { cause: err });
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc === 'object' && !Array.isArray(doc)) {
    const unknown = Object.keys(doc).find((k) => !AGENT_KEYS.includes(k));
    if (unknown !== undefined) throw new AgentConfigError(path, `key ${unknown}: ${unknownKeyMessage(unknown, AGENT_KEYS)}`);
  }
  const parsed = validate(agentConfigSchema, doc);
  if (!parsed.ok) {
    // The first problem, as "key <path>: <message>".
    const [, key = '(document)', message = 'invalid'] = /^ {2}(.*?): (.*)$/.exec(parsed.lines[0] ?? '') ?? [];
    const shown = key === '(top level)' ? '(document)' : key;
    const hint = shown === 'dcs.endpoint' ? ' (e.g. http://127.0.0.1:8000)' : '';
    throw new AgentConfigError(path, `key ${shown}: ${message}${hint}`);
  }
  return parsed.data;
}
