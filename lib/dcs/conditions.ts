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

/**
 * The leader item has the shape its schema requires, so an update made on the
 * holder's word never lands on an item that is malformed (an unknown phase,
 * a field of the wrong type).
 */
export const leaderWellFormed = (phases: readonly string[]): Expr =>
  expr(
    [
      `#phase IN (${phases.map((_, i) => `:knownPhase${i}`).join(', ')})`,
      'attribute_type(#lastLsn, :typeN)',
      'attribute_type(#timeline, :typeN)',
      'attribute_type(#version, :typeN)',
      'attribute_type(#reason, :typeS)',
    ].join(' AND '),
    { '#phase': 'phase', '#lastLsn': 'lastLsn', '#timeline': 'timeline', '#version': 'version', '#reason': 'reason' },
    { ...Object.fromEntries(phases.map((p, i) => [`:knownPhase${i}`, p])), ':typeN': 'N', ':typeS': 'S' },
  );

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
export function setFields(fields: Record<string, unknown>, startVersion = false): Expr {
  const names: Record<string, string> = { '#version': 'version' };
  const values: Record<string, unknown> = { ':one': 1 };
  const sets: string[] = [];
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    names[`#f_${k}`] = k;
    values[`:f_${k}`] = v;
    sets.push(`#f_${k} = :f_${k}`);
  }
  if (startVersion) {
    values[':zero'] = 0;
    sets.push('#version = if_not_exists(#version, :zero) + :one');
  } else {
    sets.push('#version = #version + :one');
  }
  return expr(`SET ${sets.join(', ')}`, names, values);
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
