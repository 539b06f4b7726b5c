// PostgreSQL parameters checked as the server would check them (pure): the
// name exists in its pg_settings, the value parses for the setting's type and
// unit, and lies in its range. On top, the settings that the HA logic owns
// are refused or held to what replication needs, as Patroni does. Nothing is
// stored or written unless it passes here; a refusal names the parameter and
// the fix.
import type { SettingDef } from './settings-catalogue.js';
import { PG15_SETTINGS } from './pg15-settings.js';
import type { ParameterValue } from './config.js';

/** Where a parameter comes from: the cluster's config item (edit-config) or one node's agent.yml. */
export type ParameterSource = 'cluster' | 'node';

export type ProblemCode = 'bad_name' | 'unknown' | 'fixed' | 'invalid_value' | 'out_of_range' | 'ha_owned' | 'cluster_only' | 'too_large';

export interface ParameterProblem {
  readonly name: string;
  readonly code: ProblemCode;
  /** "<name>=<value>: why (fix: what to do)". */
  readonly message: string;
}

/** When a change of the setting takes effect. */
export type ApplyBy = 'reload' | 'restart';

export interface CheckOptions {
  readonly source: ParameterSource;
  readonly catalogue?: readonly SettingDef[];
  /** The smallest memory of the nodes the value will run on, bytes; absent skips the memory check. */
  readonly memoryBytes?: number;
}

export interface CheckResult {
  /** The parameters that passed, as given. */
  readonly accepted: Readonly<Record<string, ParameterValue>>;
  readonly problems: readonly ParameterProblem[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)*$/;

type Rule =
  | { readonly kind: 'refused'; readonly why: string }
  | { readonly kind: 'required'; readonly allowed: (v: number | string | boolean) => boolean; readonly why: string };

const FROM_AGENT_YML = 'is set from agent.yml (postgresql.listen, postgresql.socket_dir, name) and must not be set here';
const FIXED_PATHS = 'is fixed by postgresql.data_dir: pgfloat finds the node\'s files there';
const RECOVERY_TARGET = 'would stop a replica at a recovery target instead of following the leader';

/** Settings the HA logic owns: refused outright, or held to what replication and pg_rewind need. */
export const HA_RULES: Readonly<Record<string, Rule>> = {
  listen_addresses: { kind: 'refused', why: FROM_AGENT_YML },
  port: { kind: 'refused', why: FROM_AGENT_YML },
  unix_socket_directories: { kind: 'refused', why: FROM_AGENT_YML },
  cluster_name: { kind: 'refused', why: FROM_AGENT_YML },
  data_directory: { kind: 'refused', why: FIXED_PATHS },
  config_file: { kind: 'refused', why: FIXED_PATHS },
  hba_file: { kind: 'refused', why: FIXED_PATHS },
  ident_file: { kind: 'refused', why: FIXED_PATHS },
  primary_conninfo: { kind: 'refused', why: 'is written by pgfloat so that each replica follows the current leader' },
  primary_slot_name: { kind: 'refused', why: 'is written by pgfloat: each replica streams through its own slot on the leader' },
  synchronous_standby_names: { kind: 'refused', why: 'is set by pgfloat from synchronous_mode (fix: pgfloat edit-config --set synchronous_mode=true)' },
  promote_trigger_file: { kind: 'refused', why: 'would let a file promote a replica behind the arbiter\'s back' },
  recovery_target: { kind: 'refused', why: RECOVERY_TARGET },
  recovery_target_lsn: { kind: 'refused', why: RECOVERY_TARGET },
  recovery_target_name: { kind: 'refused', why: RECOVERY_TARGET },
  recovery_target_time: { kind: 'refused', why: RECOVERY_TARGET },
  recovery_target_xid: { kind: 'refused', why: RECOVERY_TARGET },
  recovery_target_action: { kind: 'refused', why: RECOVERY_TARGET },
  recovery_target_inclusive: { kind: 'refused', why: RECOVERY_TARGET },
  recovery_target_timeline: { kind: 'refused', why: 'must stay latest so a replica follows every promotion' },
  hot_standby: { kind: 'required', allowed: (v) => v === true, why: 'must be on: replicas serve reads and report their state' },
  wal_log_hints: { kind: 'required', allowed: (v) => v === true, why: 'must be on: pg_rewind needs it to rejoin a former primary' },
  wal_level: { kind: 'required', allowed: (v) => v === 'replica' || v === 'logical', why: 'must be replica or logical: streaming replication needs it' },
  max_wal_senders: { kind: 'required', allowed: (v) => typeof v === 'number' && v >= 10, why: 'must be at least 10: every member streams or clones from the leader' },
  max_replication_slots: { kind: 'required', allowed: (v) => typeof v === 'number' && v >= 10, why: 'must be at least 10: the leader keeps a slot per member' },
};

/**
 * A hot standby refuses to start with a lower value than its primary's, so
 * these are set for the whole cluster (edit-config), never per node.
 */
export const CLUSTER_ONLY: ReadonlySet<string> = new Set([
  'max_connections',
  'max_worker_processes',
  'max_wal_senders',
  'max_prepared_transactions',
  'max_locks_per_transaction',
]);

const MEMORY_UNITS: Readonly<Record<string, number>> = { B: 1, kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };
const TIME_UNITS: Readonly<Record<string, number>> = { us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };
/** Bytes (memory) or milliseconds (time) in one of a setting's own unit. */
const BASE_UNITS: Readonly<Record<string, { table: Readonly<Record<string, number>>; size: number }>> = {
  B: { table: MEMORY_UNITS, size: 1 },
  kB: { table: MEMORY_UNITS, size: 1024 },
  '8kB': { table: MEMORY_UNITS, size: 8192 },
  MB: { table: MEMORY_UNITS, size: 1024 ** 2 },
  us: { table: TIME_UNITS, size: 0.001 },
  ms: { table: TIME_UNITS, size: 1 },
  s: { table: TIME_UNITS, size: 1000 },
  min: { table: TIME_UNITS, size: 60_000 },
};

const BOOL_WORDS: Readonly<Record<string, boolean>> = { on: true, off: false, true: true, false: false, yes: true, no: false, '1': true, '0': false };

/** PostgreSQL's parse_bool: on/off, true/false, yes/no, 1/0, and unique prefixes of true, false, yes, no. */
export function parseBool(value: ParameterValue): boolean | null {
  if (typeof value === 'boolean') return value;
  const text = String(value).trim().toLowerCase();
  if (text in BOOL_WORDS) return BOOL_WORDS[text] ?? null;
  if (text.length === 0) return null;
  const matches = ['true', 'false', 'yes', 'no'].filter((w) => w.startsWith(text));
  if (matches.length !== 1) return null;
  return matches[0] === 'true' || matches[0] === 'yes';
}

type Parsed = { ok: true; value: number | string | boolean } | { ok: false; why: string; range?: true };

function unitHint(def: SettingDef): string {
  const base = def.unit === null ? undefined : BASE_UNITS[def.unit];
  if (base === undefined) return 'a plain number';
  const units = Object.keys(base.table).join(', ');
  return `a number with an optional unit (${units}); a bare number is in ${def.unit}`;
}

/** A number with an optional unit, in the setting's own unit (PostgreSQL's parse_int / parse_real). */
function parseNumber(def: SettingDef, value: ParameterValue): Parsed {
  if (typeof value === 'boolean') return { ok: false, why: `expected ${unitHint(def)}` };
  const text = String(value).trim();
  const match = /^([+-]?(?:0x[0-9a-f]+|\d+(?:\.\d*)?(?:e[+-]?\d+)?|\.\d+(?:e[+-]?\d+)?))\s*([A-Za-z]*)$/i.exec(text);
  if (!match) return { ok: false, why: `expected ${unitHint(def)}` };
  const [, digits = '', unit = ''] = match;
  let n = /^[+-]?0x/i.test(digits) ? Number.parseInt(digits, 16) : Number(digits);
  if (!Number.isFinite(n)) return { ok: false, why: `expected ${unitHint(def)}` };
  if (unit !== '') {
    const base = def.unit === null ? undefined : BASE_UNITS[def.unit];
    const factor = base?.table[unit];
    if (base === undefined || factor === undefined) return { ok: false, why: `unit "${unit}" does not apply: expected ${unitHint(def)}` };
    n = (n * factor) / base.size;
  }
  // Integer settings round a fractional value (1.5MB of a kB setting is 1536).
  if (def.vartype === 'integer') n = Math.round(n);
  const unitText = def.unit === null ? '' : ` ${def.unit}`;
  if ((def.min !== null && n < def.min) || (def.max !== null && n > def.max)) {
    return { ok: false, range: true, why: `${n}${unitText} is outside the range ${def.min ?? '-inf'}..${def.max ?? 'inf'}${unitText}` };
  }
  return { ok: true, value: n };
}

/** The value as the server would read it from postgresql.conf, or why it would refuse it. */
export function parseSetting(def: SettingDef, value: ParameterValue): Parsed {
  switch (def.vartype) {
    case 'bool': {
      const b = parseBool(value);
      return b === null ? { ok: false, why: 'expected on or off' } : { ok: true, value: b };
    }
    case 'integer':
    case 'real':
      return parseNumber(def, value);
    case 'enum': {
      const vals = def.enumvals ?? [];
      const text = typeof value === 'boolean' ? (value ? 'on' : 'off') : String(value).trim().toLowerCase();
      const found = vals.find((v) => v.toLowerCase() === text);
      if (found !== undefined) return { ok: true, value: found };
      // Enums with on/off also take the other boolean spellings, as the server does.
      const b = vals.includes('on') && vals.includes('off') ? parseBool(value) : null;
      if (b !== null) return { ok: true, value: b ? 'on' : 'off' };
      return { ok: false, why: `expected one of ${vals.join(', ')}` };
    }
    case 'string': {
      const text = String(value);
      if (/[\0\n\r]/.test(text)) return { ok: false, why: 'a value may not hold a line break or a NUL byte' };
      return { ok: true, value: text };
    }
  }
}

function byName(catalogue: readonly SettingDef[]): Map<string, SettingDef> {
  return new Map(catalogue.map((d) => [d.name.toLowerCase(), d]));
}

const defaultIndex = byName(PG15_SETTINGS);

function indexOf(catalogue: readonly SettingDef[] | undefined): Map<string, SettingDef> {
  return catalogue === undefined || catalogue === PG15_SETTINGS ? defaultIndex : byName(catalogue);
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const keep = row[j] ?? 0;
      row[j] = Math.min(keep + 1, (row[j - 1] ?? 0) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = keep;
    }
  }
  return row[b.length] ?? 0;
}

function nearest(name: string, index: Map<string, SettingDef>): string | null {
  let best: string | null = null;
  let bestD = 3;
  for (const key of index.keys()) {
    const d = distance(name, key);
    if (d < bestD) {
      best = key;
      bestD = d;
    }
  }
  return best;
}

function show(value: ParameterValue): string {
  return typeof value === 'string' ? value : String(value);
}

/** The setting's definition, or null for a custom (dotted, extension) name the server cannot check. */
export function settingDef(name: string, catalogue?: readonly SettingDef[]): SettingDef | null {
  return indexOf(catalogue).get(name.toLowerCase()) ?? null;
}

/** Whether a change of `name` takes effect on reload or needs a restart (custom names: reload). */
export function applyBy(name: string, catalogue?: readonly SettingDef[]): ApplyBy {
  return settingDef(name, catalogue)?.context === 'postmaster' ? 'restart' : 'reload';
}

/** One parameter: null when it may be stored and written, else the problem. */
export function checkParameter(name: string, value: ParameterValue, options: CheckOptions): ParameterProblem | null {
  const index = indexOf(options.catalogue);
  const fail = (code: ProblemCode, why: string): ParameterProblem => ({ name, code, message: `${name}=${show(value)}: ${why}` });
  if (!NAME.test(name)) return fail('bad_name', 'is not a PostgreSQL parameter name (fix: letters, digits and _, e.g. work_mem)');
  const key = name.toLowerCase();
  const def = index.get(key);
  if (def === undefined) {
    // A dotted name belongs to an extension (pg_stat_statements.max): the server takes it as a string placeholder.
    if (key.includes('.')) return null;
    const near = nearest(key, index);
    return fail('unknown', `no such parameter in PostgreSQL 15${near === null ? '' : ` (fix: did you mean ${near}?)`}`);
  }
  if (def.context === 'internal') return fail('fixed', 'is fixed when PostgreSQL is built or initialized and cannot be set');
  const parsed = parseSetting(def, value);
  if (!parsed.ok) return fail(parsed.range ? 'out_of_range' : 'invalid_value', `${parsed.why} (fix: give a valid ${def.vartype} value)`);
  const rule = HA_RULES[key];
  if (rule?.kind === 'refused') return fail('ha_owned', rule.why);
  if (rule?.kind === 'required' && !rule.allowed(parsed.value)) return fail('ha_owned', rule.why);
  if (options.source === 'node' && CLUSTER_ONLY.has(key)) {
    return fail('cluster_only', `a replica does not start with a lower value than its primary's (fix: set it for the whole cluster: pgfloat edit-config --pg ${key}=${show(value)})`);
  }
  if (key === 'shared_buffers' && options.memoryBytes !== undefined && typeof parsed.value === 'number') {
    const bytes = parsed.value * 8192;
    if (bytes >= options.memoryBytes) {
      const gib = (b: number): string => `${(b / 1024 ** 3).toFixed(1)} GiB`;
      return fail('too_large', `${gib(bytes)} is not less than the node's memory (${gib(options.memoryBytes)}): PostgreSQL would not start (fix: about a quarter of the memory, e.g. ${Math.max(16, Math.floor(options.memoryBytes / 4 / 1024 ** 2))}MB)`);
    }
  }
  return null;
}

/** Every parameter checked: what passed, and one problem per parameter that did not. */
export function checkParameters(params: Readonly<Record<string, ParameterValue>>, options: CheckOptions): CheckResult {
  const accepted: Record<string, ParameterValue> = {};
  const problems: ParameterProblem[] = [];
  for (const [name, value] of Object.entries(params)) {
    const problem = checkParameter(name, value, options);
    if (problem === null) accepted[name] = value;
    else problems.push(problem);
  }
  return { accepted, problems };
}
