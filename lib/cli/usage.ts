// Usage texts: the general one and one per command.
import type { CommandSpec } from './command.js';

export const GLOBAL_HELP: readonly string[] = [
  '--cluster NS/SCOPE  the cluster (or a positional cluster name, or PGFLOAT_CLUSTER, or scope/namespace from -c)',
  '--table NAME        the DynamoDB table (PGFLOAT_TABLE; default "pgfloat")',
  '--endpoint URL      a local DynamoDB endpoint, e.g. http://127.0.0.1:8000 (PGFLOAT_DYNAMODB_ENDPOINT)',
  '--region REGION     the AWS region (default: the AWS SDK chain, e.g. AWS_REGION)',
  '-c, --config FILE   read scope, namespace, dcs.table/region/endpoint from an agent config (PGFLOAT_CONFIG)',
  '--json              machine-readable output',
  '-h, --help          this help',
];

export function generalUsage(commands: readonly CommandSpec[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'Usage: pgfloat [options] <command> [cluster] [command options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Options:',
    ...GLOBAL_HELP.map((l) => `  ${l}`),
    '',
    'Run "pgfloat <command> --help" for the options of a command.',
  ].join('\n');
}

export function commandUsage(spec: CommandSpec): string {
  return [
    `Usage: pgfloat ${spec.synopsis}`,
    '',
    `  ${spec.summary}`,
    ...(spec.help.length > 0 ? ['', 'Options:', ...spec.help.map((l) => `  ${l}`)] : []),
    '',
    'Global options:',
    ...GLOBAL_HELP.map((l) => `  ${l}`),
  ].join('\n');
}
