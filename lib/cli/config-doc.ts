// The cluster config as operators read and edit it: Patroni's snake_case
// names (ttl, loop_wait, ..., pause, postgresql.parameters), in a fixed key
// order so that two renderings of the same config are the same text.
// Edits are merge patches, as in `patronictl edit-config`: mappings merge
// key by key, null removes a key (a top-level key then takes its default).
import { parse, stringify } from 'yaml';
import { clusterConfigSchema, type ClusterConfig } from '../dcs/items.js';

export type Doc = { [key: string]: unknown };

const TOP: readonly (readonly [keyof ClusterConfig, string])[] = [
  ['ttl', 'ttl'],
  ['loopWait', 'loop_wait'],
  ['retryTimeout', 'retry_timeout'],
  ['maximumLagOnFailover', 'maximum_lag_on_failover'],
  ['synchronousMode', 'synchronous_mode'],
  ['synchronousModeStrict', 'synchronous_mode_strict'],
  ['synchronousNodeCount', 'synchronous_node_count'],
  ['paused', 'pause'],
  ['failsafeMode', 'failsafe_mode'],
  ['permanentSlots', 'permanent_slots'],
  ['slotGracePeriod', 'slot_grace_period'],
  ['endpoint', 'endpoint'],
  ['postgresql', 'postgresql'],
];

const ENDPOINT: readonly (readonly [string, string])[] = [
  ['kind', 'kind'],
  ['allocationId', 'allocation_id'],
  ['address', 'address'],
  ['hostedZoneId', 'hosted_zone_id'],
  ['recordName', 'record_name'],
  ['ttl', 'ttl'],
  ['waitForSync', 'wait_for_sync'],
  ['host', 'host'],
  ['port', 'port'],
];

const ENDPOINT_KINDS = 'none, elastic-ip, private-ip, route53, local-proxy';
export const CONFIG_KEYS: readonly string[] = TOP.map(([, s]) => s);

const snakeOf = (pairs: readonly (readonly [string, string])[], camel: string): string =>
  pairs.find(([c]) => c === camel)?.[1] ?? camel;
const camelOf = (pairs: readonly (readonly [string, string])[], snake: string): string | undefined =>
  pairs.find(([, s]) => s === snake)?.[0];

export function isMapping(v: unknown): v is Doc {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The config in snake_case, every key present but the optional ones unset, parameters sorted by name. */
export function toDocument(config: ClusterConfig): Doc {
  const doc: Doc = {};
  for (const [camel, snake] of TOP) {
    if (camel === 'endpoint') {
      const e: Doc = {};
      for (const [k, v] of Object.entries(config.endpoint)) e[snakeOf(ENDPOINT, k)] = v;
      doc[snake] = e;
    } else if (camel === 'postgresql') {
      const params = config.postgresql.parameters;
      const sorted: Doc = {};
      for (const name of Object.keys(params).sort()) sorted[name] = params[name];
      doc[snake] = { parameters: sorted };
    } else if (config[camel] !== undefined) {
      doc[snake] = config[camel];
    }
  }
  return doc;
}

export function renderYaml(doc: Doc): string {
  return stringify(doc, { lineWidth: 0 });
}

export type Validated = { readonly ok: true; readonly config: ClusterConfig } | { readonly ok: false; readonly errors: readonly string[] };

/** Reads a snake_case document into a validated config; errors name the key in snake_case and the fix. */
export function fromDocument(doc: unknown): Validated {
  if (!isMapping(doc)) return { ok: false, errors: ['(document): expected a mapping of config keys'] };
  const errors: string[] = [];
  const camel: Doc = {};
  for (const [key, value] of Object.entries(doc)) {
    const name = camelOf(TOP, key);
    if (name === undefined) {
      errors.push(`${key}: unknown key (the keys are ${CONFIG_KEYS.join(', ')})`);
    } else if (name === 'endpoint') {
      if (!isMapping(value)) {
        errors.push(`endpoint: expected a mapping with kind (one of ${ENDPOINT_KINDS})`);
        continue;
      }
      const e: Doc = {};
      for (const [k, v] of Object.entries(value)) {
        const c = camelOf(ENDPOINT, k);
        if (c === undefined) errors.push(`endpoint.${k}: unknown key (the keys are ${ENDPOINT.map(([, s]) => s).join(', ')})`);
        else e[c] = v;
      }
      camel.endpoint = e;
    } else if (name === 'postgresql') {
      if (!isMapping(value)) {
        errors.push('postgresql: expected a mapping with parameters');
        continue;
      }
      for (const k of Object.keys(value)) {
        if (k !== 'parameters') errors.push(`postgresql.${k}: unknown key (only postgresql.parameters is cluster-wide)`);
      }
      camel.postgresql = value.parameters === undefined ? {} : { parameters: value.parameters };
    } else {
      camel[name] = value;
    }
  }
  if (errors.length > 0) return { ok: false, errors };
  const parsed = clusterConfigSchema.safeParse(camel);
  if (parsed.success) return { ok: true, config: parsed.data };
  return { ok: false, errors: parsed.error.issues.map((i) => describeIssue(i.path, i.message, i.code)) };
}

function describeIssue(path: readonly PropertyKey[], message: string, code: string): string {
  const [first, ...rest] = path.map(String);
  const top = first === undefined ? '(document)' : snakeOf(TOP, first);
  const inner = top === 'endpoint' ? rest.map((k) => snakeOf(ENDPOINT, k)) : rest;
  const key = [top, ...inner].join('.');
  let text = message;
  for (const [c, s] of [...TOP, ...ENDPOINT]) text = text.replace(new RegExp(`\\b${c}\\b`, 'g'), s);
  if (key === 'endpoint.kind' && code === 'invalid_union') text = `one of ${ENDPOINT_KINDS}`;
  else if (top === 'postgresql' && code === 'invalid_union') text = 'a parameter value is a string, a number or a boolean';
  else if (/received undefined$/.test(text)) text = `missing: set ${key}`;
  return `${key}: ${text}`;
}

/** A merge patch applied to a copy of `doc`: mappings merge, null removes, anything else replaces. */
export function mergePatch(doc: Doc, patch: Doc): Doc {
  const out: Doc = { ...doc };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (isMapping(v) && isMapping(out[k])) out[k] = mergePatch(out[k], v);
    else if (isMapping(v)) out[k] = mergePatch({}, v);
    else out[k] = v;
  }
  return out;
}

/** A value given on the command line, read as YAML: 30 is a number, true a boolean, empty or null removes. */
export function parseValue(text: string): unknown {
  try {
    return parse(text) ?? null;
  } catch {
    return text;
  }
}

/** The patch of one "a.b.c=value" (path split on dots) or of one postgresql parameter. */
export function pathPatch(path: readonly string[], value: unknown): Doc {
  let patch: unknown = value;
  for (const key of [...path].reverse()) patch = { [key]: patch };
  return patch as Doc;
}
