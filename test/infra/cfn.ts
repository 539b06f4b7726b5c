// Reading CloudFormation templates the way CloudFormation does: YAML with its
// short-form intrinsic tags, and the names each template refers to.
import { parse, type CollectionTag, type ScalarTag, type YAMLMap, type YAMLSeq } from 'yaml';

type Json = unknown;
type JsonObject = Record<string, unknown>;
export type Template = JsonObject;

const INTRINSICS = [
  'Base64',
  'Cidr',
  'Equals',
  'FindInMap',
  'GetAtt',
  'GetAZs',
  'If',
  'ImportValue',
  'Join',
  'Not',
  'And',
  'Or',
  'Select',
  'Split',
  'Sub',
  'Transform',
] as const;

function longName(short: string): string {
  return short === 'Ref' || short === 'Condition' ? short : `Fn::${short}`;
}

/** One scalar, sequence and mapping form of every short tag (!Ref, !Sub, !If, ...). */
const cfnTags = [...INTRINSICS, 'Ref', 'Condition'].flatMap((short): (ScalarTag | CollectionTag)[] => {
  const name = longName(short);
  const collection = (value: YAMLMap.Parsed | YAMLSeq.Parsed): Json => ({ [name]: value.toJSON() });
  return [
    {
      tag: `!${short}`,
      resolve: (value: string): Json =>
        // !GetAtt Resource.Attribute is the short form of [Resource, Attribute].
        short === 'GetAtt' ? { [name]: splitGetAtt(value) } : { [name]: value },
    },
    { tag: `!${short}`, collection: 'seq', resolve: collection },
    { tag: `!${short}`, collection: 'map', resolve: collection },
  ];
});

function splitGetAtt(value: string): string[] {
  const dot = value.indexOf('.');
  return dot < 0 ? [value] : [value.slice(0, dot), value.slice(dot + 1)];
}

/** Parses a CloudFormation YAML template; unknown tags and YAML errors throw. */
export function parseCfnYaml(text: string): Template {
  const doc = parse(text, { customTags: cfnTags, strict: true, uniqueKeys: true, prettyErrors: true });
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('a template is a YAML mapping');
  return doc as Template;
}

export const PSEUDO_PARAMETERS = new Set([
  'AWS::AccountId',
  'AWS::NotificationARNs',
  'AWS::NoValue',
  'AWS::Partition',
  'AWS::Region',
  'AWS::StackId',
  'AWS::StackName',
  'AWS::URLSuffix',
]);

function keysOf(t: Template, section: string): Set<string> {
  const s = t[section];
  return new Set(s !== undefined && s !== null && typeof s === 'object' && !Array.isArray(s) ? Object.keys(s) : []);
}

function isObject(v: Json): v is JsonObject {
  return v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v);
}

/** The `${Name}` and `${Name.Attr}` variables of a Sub string (`${!Literal}` is not one). */
export function subVariables(text: string): string[] {
  return [...text.matchAll(/\$\{([^}!][^}]*)\}/g)].map((m) => (m[1] ?? '').trim());
}

/**
 * Every reference in the template that names nothing it defines: Ref, GetAtt,
 * Sub variables, If and Condition names, DependsOn, FindInMap. Each problem is
 * "<where>: <what>".
 */
export function unresolvedReferences(t: Template): string[] {
  const parameters = keysOf(t, 'Parameters');
  const resources = keysOf(t, 'Resources');
  const conditions = keysOf(t, 'Conditions');
  const mappings = keysOf(t, 'Mappings');
  const problems: string[] = [];
  const known = (name: string, locals: ReadonlySet<string>) =>
    parameters.has(name) || resources.has(name) || PSEUDO_PARAMETERS.has(name) || locals.has(name);

  const walk = (node: Json, path: string, locals: ReadonlySet<string>): void => {
    if (Array.isArray(node)) {
      node.forEach((n, i) => walk(n, `${path}[${i}]`, locals));
      return;
    }
    if (!isObject(node)) return;
    for (const [key, value] of Object.entries(node)) {
      const at = `${path}.${key}`;
      if (key === 'Ref' && typeof value === 'string') {
        if (!known(value, locals)) problems.push(`${at}: Ref ${value} is no parameter, resource or pseudo parameter`);
      } else if (key === 'Fn::GetAtt') {
        const target = Array.isArray(value) ? value[0] : typeof value === 'string' ? splitGetAtt(value)[0] : undefined;
        if (typeof target !== 'string' || !resources.has(target)) problems.push(`${at}: GetAtt ${String(target)} is no resource`);
        if (Array.isArray(value)) walk(value.slice(1), at, locals);
      } else if (key === 'Fn::Sub') {
        const [text, vars] = Array.isArray(value) ? [value[0], value[1]] : [value, undefined];
        const names = new Set(isObject(vars) ? Object.keys(vars) : []);
        if (typeof text !== 'string') problems.push(`${at}: Sub needs a string`);
        for (const v of typeof text === 'string' ? subVariables(text) : []) {
          const dot = v.indexOf('.');
          const ok = v.includes('::') || dot < 0 ? known(v, names) : resources.has(v.slice(0, dot)) || names.has(v);
          if (!ok) problems.push(`${at}: \${${v}} names nothing defined`);
        }
        if (isObject(vars)) walk(vars, at, locals);
      } else if (key === 'Fn::If') {
        const cond = Array.isArray(value) ? value[0] : undefined;
        if (typeof cond !== 'string' || !conditions.has(cond)) problems.push(`${at}: If ${String(cond)} is no condition`);
        if (Array.isArray(value)) walk(value.slice(1), at, locals);
      } else if (key === 'Condition' && typeof value === 'string') {
        if (!conditions.has(value)) problems.push(`${at}: Condition ${value} is no condition`);
      } else if (key === 'DependsOn') {
        for (const d of Array.isArray(value) ? value : [value]) {
          if (typeof d !== 'string' || !resources.has(d)) problems.push(`${at}: DependsOn ${String(d)} is no resource`);
        }
      } else if (key === 'Fn::FindInMap') {
        const map = Array.isArray(value) ? value[0] : undefined;
        if (typeof map !== 'string' || !mappings.has(map)) problems.push(`${at}: FindInMap ${String(map)} is no mapping`);
        if (Array.isArray(value)) walk(value.slice(1), at, locals);
      } else {
        walk(value, at, locals);
      }
    }
  };
  for (const section of ['Rules', 'Conditions', 'Resources', 'Outputs']) walk(t[section], section, new Set());
  return problems;
}

/** Parameters no Ref or Sub in the template uses. */
export function unusedParameters(t: Template): string[] {
  const used = new Set<string>();
  const walk = (node: Json): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!isObject(node)) return;
    for (const [key, value] of Object.entries(node)) {
      if (key === 'Ref' && typeof value === 'string') used.add(value);
      if (key === 'Fn::Sub') {
        const text = Array.isArray(value) ? value[0] : value;
        if (typeof text === 'string') subVariables(text).forEach((v) => used.add(v));
      }
      walk(value);
    }
  };
  for (const section of ['Rules', 'Conditions', 'Resources', 'Outputs']) walk(t[section]);
  return [...keysOf(t, 'Parameters')].filter((p) => !used.has(p));
}

export interface FoundStatement {
  /** Resource logical id and where in it. */
  readonly where: string;
  readonly statement: JsonObject;
}

/** Every policy statement in the template's resources, both branches of any Fn::If included. */
export function policyStatements(t: Template): FoundStatement[] {
  const found: FoundStatement[] = [];
  const collect = (node: Json, where: string): void => {
    if (Array.isArray(node)) return node.forEach((n, i) => collect(n, `${where}[${i}]`));
    if (!isObject(node)) return;
    if (Array.isArray(node['Fn::If'])) return collect(node['Fn::If'].slice(1), `${where}.Fn::If`);
    // { Ref: AWS::NoValue } (the other branch of an If) is no statement.
    if (typeof node.Effect === 'string') found.push({ where, statement: node });
  };
  const walk = (node: Json, where: string): void => {
    if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${where}[${i}]`));
    if (!isObject(node)) return;
    for (const [key, value] of Object.entries(node)) {
      if (key === 'Statement') collect(value, `${where}.Statement`);
      else walk(value, `${where}.${key}`);
    }
  };
  const resources = t.Resources;
  if (isObject(resources)) for (const [id, r] of Object.entries(resources)) walk(r, id);
  return found;
}

/** The actions (or NotActions) a statement names, as strings. */
export function actionsOf(statement: JsonObject): string[] {
  const a = statement.Action ?? statement.NotAction;
  return (Array.isArray(a) ? a : [a]).map((x) => (typeof x === 'string' ? x : JSON.stringify(x)));
}

export function resourcesOfType(t: Template, type: string): [string, JsonObject][] {
  const resources = t.Resources;
  if (!isObject(resources)) return [];
  return Object.entries(resources).filter((e): e is [string, JsonObject] => isObject(e[1]) && e[1].Type === type);
}
