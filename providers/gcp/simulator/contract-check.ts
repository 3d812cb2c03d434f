import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import type * as protobufTypes from 'protobufjs';
import { packageFile } from './module-path.ts';
import { decodeProblem, protoType } from './proto-types.ts';
import type { Exchange } from './server.ts';

/** Where the vendors' discovery documents are (`KEELSON_SPEC_DIR`, else `../shared/specs`). */
export const specDir = process.env.KEELSON_SPEC_DIR ?? resolve(import.meta.dirname, '../../../../shared/specs');

type Json = Record<string, unknown>;
interface DiscoveryMethod {
  readonly api: string;
  readonly httpMethod: string;
  readonly pattern: RegExp;
  readonly response?: string;
  readonly id: string;
}

/** Present discovery documents (`gcp-*.discovery.json`); empty when the folder is missing. */
export function discoveryFiles(): string[] {
  if (!existsSync(specDir)) return [];
  return readdirSync(specDir)
    .filter((f) => /^gcp-.*\.discovery\.json$/.test(f))
    .map((f) => join(specDir, f));
}

function toJsonSchema(s: Json): Json {
  if (typeof s.$ref === 'string') return { $ref: `#/definitions/${s.$ref}` };
  switch (s.type) {
    case 'object': {
      const out: Json = { type: 'object' };
      if (s.properties) {
        out.properties = Object.fromEntries(
          Object.entries(s.properties as Record<string, Json>).map(([k, v]) => [k, toJsonSchema(v)]),
        );
        out.additionalProperties = false;
      } else if (s.additionalProperties) out.additionalProperties = toJsonSchema(s.additionalProperties as Json);
      return out;
    }
    case 'array':
      return { type: 'array', items: s.items ? toJsonSchema(s.items as Json) : {} };
    case 'string':
      return s.enum ? { type: 'string', enum: s.enum } : { type: 'string' };
    case 'integer':
      return { type: 'integer' };
    case 'number':
      return { type: ['number', 'string'] };
    case 'boolean':
      return { type: 'boolean' };
    default:
      return {};
  }
}

/**
 * Checks each recorded response against the discovery document's response schema of the method it
 * matched (unknown fields, wrong types, enum values). Answers what was checked and the problems.
 */
export function checkAgainstDiscovery(exchanges: readonly Exchange[]): {
  checked: number;
  problems: string[];
  unmatched: string[];
} {
  const methods: DiscoveryMethod[] = [];
  const validators = new Map<string, ValidateFunction>();
  for (const file of discoveryFiles()) {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as Json;
    const api = String(doc.name);
    const ajv = new Ajv({ strict: false, allErrors: true });
    const definitions = Object.fromEntries(
      Object.entries(doc.schemas as Record<string, Json>).map(([k, v]) => [k, toJsonSchema(v)]),
    );
    const walk = (res: Json) => {
      for (const m of Object.values((res.methods ?? {}) as Record<string, Json>)) {
        const path = String(m.flatPath ?? m.path);
        const source = path
          .split(/(\{[^}]+\})/)
          .map((part) =>
            part.startsWith('{') ? (part.startsWith('{+') ? '.+' : '[^/]+') : part.replace(/[.*+?^$()|[\]\\]/g, '\\$&'),
          )
          .join('');
        const response = (m.response as Json | undefined)?.$ref as string | undefined;
        const key = `${api}:${response}`;
        if (response && !validators.has(key))
          validators.set(key, ajv.compile({ definitions, $ref: `#/definitions/${response}` }));
        methods.push({
          api,
          httpMethod: String(m.httpMethod),
          pattern: new RegExp(`^/${source}$`),
          response,
          id: String(m.id),
        });
      }
      for (const r of Object.values((res.resources ?? {}) as Record<string, Json>)) walk(r);
    };
    walk(doc);
  }
  const problems: string[] = [];
  const unmatched: string[] = [];
  let checked = 0;
  for (const e of exchanges) {
    const candidates = methods.filter((m) => m.httpMethod === e.method && m.pattern.test(e.path));
    // The most specific template wins (fewest wildcard characters matched).
    const m = candidates.sort((a, b) => b.pattern.source.length - a.pattern.source.length)[0];
    if (!m) {
      unmatched.push(`${e.method} ${e.template}`);
      continue;
    }
    const body = e.responseBody;
    if (e.status >= 400) {
      const err = (body as Json).error as Json | undefined;
      if (
        !err ||
        typeof err.code !== 'number' ||
        typeof err.message !== 'string' ||
        typeof err.status !== 'string' ||
        !Array.isArray(err.details)
      )
        problems.push(`${m.id} ${e.status}: not Google's error model`);
      checked++;
      continue;
    }
    if (!m.response) {
      checked++;
      continue;
    }
    const v = validators.get(`${m.api}:${m.response}`)!;
    for (const item of Array.isArray(body) ? body : [body]) {
      if (!v(item))
        problems.push(
          `${m.id} → ${m.response}: ${(v.errors ?? []).map((x) => `${x.instancePath} ${x.message}${x.params && 'additionalProperty' in x.params ? ` (${String(x.params.additionalProperty)})` : ''}`).join('; ')}`,
        );
    }
    checked++;
  }
  return { checked, problems: [...new Set(problems)], unmatched: [...new Set(unmatched)] };
}

const require = createRequire(import.meta.url);
const protobuf = require('protobufjs') as typeof protobufTypes;

interface ProtoRule {
  readonly httpMethod: string;
  readonly pattern: RegExp;
  readonly response: string;
  readonly id: string;
}

const clients = [
  '@google-cloud/pubsub',
  '@google-cloud/scheduler',
  '@google-cloud/functions',
  '@google-cloud/run',
  '@google-cloud/secret-manager',
  '@google-cloud/firestore-api',
  '@google-cloud/service-usage',
  '@google-cloud/resource-manager',
];

function templateRegex(template: string): RegExp {
  const source = template
    .split(/(\{[^}]+\})/)
    .map((part) => {
      const m = /^\{[\w.]+(?:=(.+))?\}$/.exec(part);
      if (!m) return part.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
      if (!m[1]) return '[^/]+';
      return m[1]
        .split('/')
        .map((seg) => (seg === '**' ? '.+' : seg === '*' ? '[^/]+' : seg.replace(/[.*+?^$()|[\]\\]/g, '\\$&')))
        .join('/');
    })
    .join('');
  return new RegExp(`^${source}$`);
}

/**
 * Checks each recorded JSON response against the message type of the method the pinned client
 * calls (its `google.api.http` rules): every field must exist in the client's descriptor and decode.
 */
export function checkAgainstClientProtos(exchanges: readonly Exchange[]): {
  checked: number;
  problems: string[];
  unmatched: string[];
} {
  const rules: ProtoRule[] = [];
  for (const pkg of clients) {
    const root = protobuf.Root.fromJSON(JSON.parse(readFileSync(packageFile(pkg, 'build/protos/protos.json'), 'utf8')));
    const walk = (ns: protobufTypes.NamespaceBase) => {
      for (const obj of ns.nestedArray) {
        if (obj instanceof protobuf.Service) {
          if (
            !/pubsub\.v1|scheduler\.v1\.|functions\.v2\.|run\.v2\.|secretmanager\.v1\.|firestore\.admin\.v1|serviceusage\.v1\.|resourcemanager\.v3\.Projects/.test(
              obj.fullName,
            )
          )
            continue;
          for (const method of obj.methodsArray) {
            const o = (method.options ?? {}) as Record<string, string>;
            for (const verb of ['get', 'post', 'put', 'patch', 'delete']) {
              for (const key of [`(google.api.http).${verb}`, `(google.api.http).additional_bindings.${verb}`]) {
                if (!o[key]) continue;
                method.resolve();
                rules.push({
                  httpMethod: verb.toUpperCase(),
                  pattern: templateRegex(o[key]!),
                  response: method.resolvedResponseType!.fullName.slice(1),
                  id: `${obj.fullName.slice(1)}.${method.name}`,
                });
              }
            }
          }
        } else if ('nestedArray' in obj) walk(obj as protobufTypes.NamespaceBase);
      }
    };
    walk(root);
  }
  rules.push({
    httpMethod: 'GET',
    pattern: /^\/v[12]\/(projects\/[^/]+\/(locations|databases)\/[^/]+\/)?operations\/[^/]+$/,
    response: 'google.longrunning.Operation',
    id: 'Operations.GetOperation',
  });
  const problems: string[] = [];
  const unmatched: string[] = [];
  let checked = 0;
  for (const e of exchanges) {
    if (e.status >= 400 || typeof e.responseBody !== 'object' || Array.isArray(e.responseBody)) continue;
    const rule = rules
      .filter((r) => r.httpMethod === e.method && r.pattern.test(e.path))
      .sort((a, b) => b.pattern.source.length - a.pattern.source.length)[0];
    if (!rule) {
      unmatched.push(`${e.method} ${e.template}`);
      continue;
    }
    const body = e.responseBody as Json;
    let parts: [string, Json][] = [[rule.response, body]];
    if (rule.response === 'google.longrunning.Operation') {
      const extra = Object.keys(body).filter((k) => !['name', 'metadata', 'done', 'response', 'error'].includes(k));
      if (extra.length > 0)
        problems.push(`${rule.id} → Operation: fields the client does not know: ${extra.join(', ')}`);
      parts = operationParts(body);
    }
    for (const [typeName, json] of parts) {
      const unknown: string[] = [];
      unknownFields(protoType(typeName), json, '', unknown);
      if (unknown.length > 0)
        problems.push(`${rule.id} → ${typeName}: fields the client does not know: ${unknown.join(', ')}`);
      const problem = decodeProblem(typeName, json);
      if (problem) problems.push(`${rule.id} → ${typeName}: ${problem}`);
    }
    checked++;
  }
  return { checked, problems: [...new Set(problems)], unmatched: [...new Set(unmatched)] };
}

/** An operation's metadata and response, each with the message type its `@type` names. */
function operationParts(body: Json): [string, Json][] {
  const out: [string, Json][] = [];
  for (const key of ['metadata', 'response']) {
    const part = body[key] as Json | undefined;
    const t = part?.['@type'];
    if (typeof t === 'string' && !t.endsWith('google.protobuf.Empty'))
      out.push([t.replace(/^type\.googleapis\.com\//, ''), part!]);
  }
  return out;
}

function unknownFields(type: protobufTypes.Type, json: Json, path: string, out: string[]): void {
  const target = json;
  for (const [k, v] of Object.entries(target)) {
    if (k === '@type') continue;
    const f = type.fields[k];
    if (!f) {
      out.push(`${path}${k}`);
      continue;
    }
    f.resolve();
    const rt = f.resolvedType;
    if (
      !(rt instanceof protobuf.Type) ||
      rt.fullName.startsWith('.google.protobuf.') ||
      v === null ||
      typeof v !== 'object'
    )
      continue;
    const items = f.map ? Object.values(v as Json) : Array.isArray(v) ? v : [v];
    for (const item of items)
      if (item && typeof item === 'object') unknownFields(rt, item as Json, `${path}${k}.`, out);
  }
}

/** Both checks, as one test assertion: no problems, and at least `minimum` answers checked by the protos. */
export function contractProblems(exchanges: readonly Exchange[]): {
  protos: number;
  discovery: number;
  problems: string[];
} {
  const protos = checkAgainstClientProtos(exchanges);
  const discovery = discoveryFiles().length > 0 ? checkAgainstDiscovery(exchanges) : { checked: 0, problems: [] };
  // Fields the pinned clients' descriptors have but the older discovery documents lack.
  const newerThanDiscovery = /\((databaseEdition|density)\)$/;
  return {
    protos: protos.checked,
    discovery: discovery.checked,
    problems: [...protos.problems, ...discovery.problems.filter((p) => !newerThanDiscovery.test(p))],
  };
}
