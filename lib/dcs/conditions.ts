// DynamoDB condition expressions built from named sub-expressions, so each
// write's condition reads as its contract does: `absent`, `versionIs(v)`, ...
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';

export interface Expr {
  readonly text: string;
  readonly names: Readonly<Record<string, string>>;
  readonly values: Readonly<Record<string, unknown>>;
}

function expr(text: string, names: Record<string, string> = {}, values: Record<string, unknown> = {}): Expr {
  return { text, names, values };
}

export const absent = expr('attribute_not_exists(#pk)', { '#pk': 'pk' });
export const present = expr('attribute_exists(#pk)', { '#pk': 'pk' });
export const versionIs = (v: number): Expr => expr('#version = :expectedVersion', { '#version': 'version' }, { ':expectedVersion': v });
export const holderIs = (holder: string): Expr => expr('#holder = :holder', { '#holder': 'holder' }, { ':holder': holder });
export const termIs = (term: number): Expr => expr('#term = :term', { '#term': 'term' }, { ':term': term });
export const termBelow = (term: number): Expr => expr('#term < :term', { '#term': 'term' }, { ':term': term });
export const memberIs = (member: string): Expr => expr('#member = :member', { '#member': 'member' }, { ':member': member });
export const phaseIs = (phase: string): Expr => expr('#phase = :phase', { '#phase': 'phase' }, { ':phase': phase });
export const phaseIsNot = (phase: string): Expr => expr('#phase <> :notPhase', { '#phase': 'phase' }, { ':notPhase': phase });
export const stepAbsent = (step: string): Expr => expr('attribute_not_exists(#step)', { '#step': step });

/** DynamoDB attribute types a shape may allow. */
export type AttributeType = 'S' | 'N' | 'NULL' | 'BOOL' | 'M' | 'L';

export interface FieldShape {
  readonly types: readonly AttributeType[];
  readonly optional?: boolean;
  /** The only values a string field may hold (an enum). */
  readonly oneOf?: readonly string[];
}

/**
 * What a condition expression can check of an item's well-formedness: each
 * field's type, presence and enum values. Value ranges and patterns are the
 * schema's alone. An update guarded by its item's shape never lands on an
 * item whose fields are of the wrong type or an unknown enum value.
 */
export type Shape = Readonly<Record<string, FieldShape>>;

const N = { types: ['N'] } as const;
const S = { types: ['S'] } as const;
const optionalN = { types: ['N'], optional: true } as const;
const nullableS = { types: ['S', 'NULL'] } as const;

export const LEADER_SHAPE = (phases: readonly string[]): Shape => ({
  holder: S,
  term: N,
  phase: { types: ['S'], oneOf: phases },
  lastLsn: N,
  timeline: N,
  previous: nullableS,
  reason: S,
  candidate: { types: ['S'], optional: true },
  finalLsn: optionalN,
  failsafe: { types: ['L'], optional: true },
  unfenced: { types: ['BOOL'], optional: true },
  version: N,
});

export const ENDPOINT_SHAPE: Shape = { member: S, term: N, target: S, movedAt: N, version: N };

export const HISTORY_SHAPE = (kinds: readonly string[]): Shape => ({
  term: N,
  kind: { types: ['S'], oneOf: kinds },
  from: nullableS,
  to: S,
  reason: S,
  lsn: N,
  timeline: N,
  grantedAt: N,
  promotedAt: optionalN,
  endpointMovedAt: optionalN,
  version: N,
});

/** The condition that the stored item has `shape`. */
export function wellFormed(shape: Shape): Expr {
  const parts: string[] = [];
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  for (const [field, f] of Object.entries(shape)) {
    const name = `#w_${field}`;
    names[name] = field;
    const typed = f.types.map((t) => {
      values[`:w_type${t}`] = t;
      return `attribute_type(${name}, :w_type${t})`;
    });
    let test = typed.length === 1 ? (typed[0] as string) : `(${typed.join(' OR ')})`;
    if (f.oneOf !== undefined) {
      const placeholders = f.oneOf.map((v, i) => {
        values[`:w_${field}${i}`] = v;
        return `:w_${field}${i}`;
      });
      test = `${name} IN (${placeholders.join(', ')})`;
    }
    parts.push(f.optional ? `(attribute_not_exists(${name}) OR ${test})` : test);
  }
  return expr(parts.join(' AND '), names, values);
}

function typeOf(v: unknown): AttributeType | undefined {
  if (typeof v === 'string') return 'S';
  if (typeof v === 'number') return 'N';
  if (typeof v === 'boolean') return 'BOOL';
  if (v === null) return 'NULL';
  if (Array.isArray(v)) return 'L';
  if (typeof v === 'object') return 'M';
  return undefined;
}

/** The predicate `wellFormed(shape)` states, for the in-memory twin. */
export function hasShape(shape: Shape, item: Readonly<Record<string, unknown>>): boolean {
  return Object.entries(shape).every(([field, f]) => {
    const present = Object.hasOwn(item, field) && item[field] !== undefined;
    if (!present) return f.optional === true;
    const v = item[field];
    if (f.oneOf !== undefined) return typeof v === 'string' && f.oneOf.includes(v);
    const t = typeOf(v);
    return t !== undefined && f.types.includes(t);
  });
}

/** `expectedVersion` null means the item must not exist yet. */
export const versionOrAbsent = (expectedVersion: number | null): Expr =>
  expectedVersion === null ? absent : versionIs(expectedVersion);

function join(op: 'AND' | 'OR', parts: readonly Expr[]): Expr {
  return {
    text: parts.map((p) => `(${p.text})`).join(` ${op} `),
    names: Object.assign({}, ...parts.map((p) => p.names)),
    values: Object.assign({}, ...parts.map((p) => p.values)),
  };
}
export const and = (...parts: Expr[]): Expr => join('AND', parts);
export const or = (...parts: Expr[]): Expr => join('OR', parts);

/** An UpdateExpression `SET a = :a, ..., version = version + 1` (or starting at 1). */
export function setFields(fields: Record<string, unknown>, startVersion = false, remove: readonly string[] = []): Expr {
  const names: Record<string, string> = { '#version': 'version' };
  const values: Record<string, unknown> = { ':one': 1 };
  const sets: string[] = [];
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    names[`#f_${k}`] = k;
    values[`:f_${k}`] = v;
    sets.push(`#f_${k} = :f_${k}`);
  }
  for (const k of remove) names[`#r_${k}`] = k;
  if (startVersion) {
    values[':zero'] = 0;
    sets.push('#version = if_not_exists(#version, :zero) + :one');
  } else {
    sets.push('#version = #version + :one');
  }
  const removes = remove.length === 0 ? '' : ` REMOVE ${remove.map((k) => `#r_${k}`).join(', ')}`;
  return expr(`SET ${sets.join(', ')}${removes}`, names, values);
}

/** The Expression* parameters of a request, merging the condition and the update. */
export function compile(
  condition: Expr,
  update?: Expr,
): {
  ConditionExpression: string;
  UpdateExpression?: string;
  ExpressionAttributeNames: Record<string, string>;
  ExpressionAttributeValues?: Record<string, AttributeValue>;
} {
  const names = { ...condition.names, ...(update?.names ?? {}) };
  const values = { ...condition.values, ...(update?.values ?? {}) };
  return {
    ConditionExpression: condition.text,
    ...(update ? { UpdateExpression: update.text } : {}),
    ExpressionAttributeNames: names,
    ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: marshall(values, { removeUndefinedValues: true }) } : {}),
  };
}
