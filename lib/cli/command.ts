// A CLI command: its options (node:util parseArgs), its usage text and what it runs.
import type { ParseArgsConfig } from 'node:util';
import type { CommandContext, Reporter } from './context.js';
import { UsageError } from './errors.js';

export type OptionSpecs = NonNullable<ParseArgsConfig['options']>;
export type OptionValues = Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;

export interface CommandArgs {
  readonly values: OptionValues;
  /** The command's own positionals (the cluster name, if one was given, is removed). */
  readonly positionals: readonly string[];
}

export interface CommandSpec {
  readonly name: string;
  readonly summary: string;
  /** Synopsis after "pgfloat ", e.g. "switchover [cluster] [--candidate M]". */
  readonly synopsis: string;
  /** One line per option: "--candidate M   the member to promote". */
  readonly help: readonly string[];
  readonly options: OptionSpecs;
  /** Names of the positionals the command requires after the optional cluster name. */
  readonly positionals: readonly string[];
  /** Checks the command's own positionals before the cluster is resolved; throws UsageError. */
  checkPositionals?(positionals: readonly string[]): void;
  /**
   * The command takes member names after the optional cluster, as patronictl
   * does (`restart pgfloat/orders node1 node2`): a first positional is the
   * cluster only when it is written <namespace>/<scope>.
   */
  readonly trailingMembers?: boolean;
  run(ctx: CommandContext, args: CommandArgs): Promise<number>;
  /** Runs when no cluster is named anywhere; without it, a missing cluster is a usage error. */
  runWithoutCluster?(out: Reporter, args: CommandArgs): Promise<number>;
}

export function stringOption(spec: CommandSpec, args: CommandArgs, name: string): string | undefined {
  const v = args.values[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new UsageError(`--${name} takes a value`, spec.name);
  return v;
}

export function stringsOption(args: CommandArgs, name: string): string[] {
  const v = args.values[name];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string');
}

export function flag(args: CommandArgs, name: string): boolean {
  return args.values[name] === true;
}

/** --wait S / --no-wait: the wait in ms, or null for no wait. */
export function waitOption(spec: CommandSpec, args: CommandArgs, defaultSeconds: number): number | null {
  const raw = stringOption(spec, args, 'wait');
  if (flag(args, 'no-wait')) {
    if (raw !== undefined) throw new UsageError('--wait and --no-wait contradict each other: pass one of them', spec.name);
    return null;
  }
  if (raw === undefined) return defaultSeconds * 1000;
  const s = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw.trim()) || !Number.isFinite(s) || s <= 0 || s > 3600) {
    throw new UsageError(`--wait ${raw}: give the seconds to wait, more than 0 and at most 3600 (e.g. --wait 60), or --no-wait`, spec.name);
  }
  return Math.round(s * 1000);
}

export const WAIT_OPTIONS: OptionSpecs = {
  wait: { type: 'string' },
  'no-wait': { type: 'boolean' },
};

export const FORCE_OPTION: OptionSpecs = {
  force: { type: 'boolean', short: 'f' },
};
