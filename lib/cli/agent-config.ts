// The parts of an agent configuration file (-c agent.yml) the CLI uses:
//
//   scope: orders
//   namespace: pgfloat
//   dcs:
//     table: pgfloat
//     region: eu-west-1
//     endpoint: http://127.0.0.1:8000   # DynamoDB Local only
//
// Every other key belongs to the agent and is ignored here.
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { z } from 'zod';
import { AgentConfigError } from './errors.js';

export const agentConfigSchema = z
  .object({
    scope: z.string().min(1).optional(),
    namespace: z.string().min(1).optional(),
    dcs: z
      .object({
        table: z.string().min(1).optional(),
        region: z.string().min(1).optional(),
        endpoint: z.url({ protocol: /^https?$/ }).optional(),
      })
      .loose()
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
    throw new AgentConfigError(path, `is not valid YAML (${(err as Error).message.split('\n')[0] ?? ''})`, { cause: err });
  }
  if (doc === null || doc === undefined) return {};
  const parsed = agentConfigSchema.safeParse(doc);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const key = first === undefined || first.path.length === 0 ? '(document)' : first.path.join('.');
    const hint = key === 'dcs.endpoint' ? ' (e.g. http://127.0.0.1:8000)' : '';
    throw new AgentConfigError(path, `key ${key}: ${first?.message ?? 'invalid'}${hint}`, { cause: parsed.error });
  }
  return parsed.data;
}
