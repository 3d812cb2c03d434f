import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as protobufTypes from 'protobufjs';
import { ApiError, invalidArgument } from './api-error.ts';
import { packageDir, packageFile } from './module-path.ts';
import type { Json } from './state.ts';

const require = createRequire(import.meta.url);
const protobuf = require('protobufjs') as typeof protobufTypes;
// The JSON mapping the clients themselves use: google-gax's proto3-json-serializer (not a direct dependency).
const gaxRequire = createRequire(require.resolve('google-gax', { paths: [packageDir('@google-cloud/pubsub')] }));
const serializer = gaxRequire('proto3-json-serializer') as {
  fromProto3JSON(type: protobufTypes.Type, json: unknown): protobufTypes.Message | null;
  toProto3JSON(message: protobufTypes.Message, options?: { numericEnums?: boolean }): unknown;
};

/** Which client package ships the descriptors of each API (the same files the clients encode with). */
const sources: readonly (readonly [prefix: string, pkg: string])[] = [
  ['google.pubsub.v1.', '@google-cloud/pubsub'],
  ['google.cloud.scheduler.v1.', '@google-cloud/scheduler'],
  ['google.cloud.functions.v2.', '@google-cloud/functions'],
  ['google.cloud.run.v2.', '@google-cloud/run'],
  ['google.cloud.secretmanager.v1.', '@google-cloud/secret-manager'],
  ['google.firestore.admin.v1.', '@google-cloud/firestore-api'],
  ['google.firestore.v1.', '@google-cloud/firestore-api'],
  ['google.api.serviceusage.v1.', '@google-cloud/service-usage'],
  ['google.iam.v1.', '@google-cloud/resource-manager'],
];

const roots = new Map<string, protobufTypes.Root>();

/** The message type `name` as the pinned client knows it. */
export function protoType(name: string): protobufTypes.Type {
  const source = sources.find(([prefix]) => name.startsWith(prefix));
  if (!source) throw new Error(`no descriptor source for ${name}`);
  let root = roots.get(source[1]);
  if (!root) {
    root = protobuf.Root.fromJSON(JSON.parse(readFileSync(packageFile(source[1], 'build/protos/protos.json'), 'utf8')));
    root.resolveAll();
    roots.set(source[1], root);
  }
  return root.lookupType(name);
}

/**
 * The canonical JSON of `json` read as message `typeName`: enums as names (the clients send numbers
 * with `enum-encoding=int`), defaults dropped, unknown fields dropped. A value of the wrong type is a
 * 400 naming `field`.
 */
export function canonical(typeName: string, json: unknown, field: string): Json {
  if (json === undefined || json === null) return {};
  if (typeof json !== 'object' || Array.isArray(json)) throw invalidArgument(field, 'must be an object');
  const named = jsonNames(protoType(typeName), json as Json, field);
  let message: protobufTypes.Message | null;
  try {
    message = serializer.fromProto3JSON(protoType(typeName), named);
  } catch (e) {
    throw invalidArgument(field, (e as Error).message.replace(/^fromProto3JSONToInternalRepresentation: /, ''));
  }
  if (!message) return {};
  return stripEmptyMaps(protoType(typeName), serializer.toProto3JSON(message)) as Json;
}

/** Whether `json` decodes as `typeName` (for the contract tests); the error text otherwise. */
export function decodeProblem(typeName: string, json: unknown): string | undefined {
  try {
    serializer.fromProto3JSON(protoType(typeName), json);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** toProto3JSON writes empty maps (`labels: {}`); GCP's JSON leaves them out. Empty messages stay. */
function stripEmptyMaps(type: protobufTypes.Type, v: unknown): unknown {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
  const out: Json = {};
  for (const [k, x] of Object.entries(v as Json)) {
    const field = type.fields[k];
    if (field?.map && x !== null && typeof x === 'object' && Object.keys(x as Json).length === 0) continue;
    const sub = field?.resolvedType;
    if (sub && 'fields' in sub && !field.map && !sub.fullName.startsWith('.google.protobuf.')) {
      out[k] = Array.isArray(x)
        ? x.map((e) => stripEmptyMaps(sub as protobufTypes.Type, e))
        : stripEmptyMaps(sub as protobufTypes.Type, x);
    } else out[k] = x;
  }
  return out;
}

/**
 * `json` with every field under its JSON (camelCase) name, as GCP accepts both spellings; a field
 * the message type does not have is refused as GCP does (`Unknown name … Cannot find field`).
 */
function jsonNames(type: protobufTypes.Type, json: Json, at: string): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(json)) {
    const f = type.fields[k] ?? type.fieldsArray.find((x) => snake(x.name) === k);
    if (!f) {
      const text = `Invalid JSON payload received. Unknown name "${k}" at '${at}': Cannot find field.`;
      throw new ApiError('INVALID_ARGUMENT', text, [
        { '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field: at, description: text }] },
      ]);
    }
    f.resolve();
    const rt = f.resolvedType;
    const message =
      rt && 'fields' in rt && !rt.fullName.startsWith('.google.protobuf.') ? (rt as protobufTypes.Type) : undefined;
    const inner = (item: unknown) =>
      message && item !== null && typeof item === 'object' && !Array.isArray(item)
        ? jsonNames(message, item as Json, `${at}.${snake(f.name)}`)
        : item;
    if (v === null || typeof v !== 'object') out[f.name] = v;
    else if (f.map) out[f.name] = Object.fromEntries(Object.entries(v as Json).map(([mk, mv]) => [mk, inner(mv)]));
    else if (Array.isArray(v)) out[f.name] = v.map(inner);
    else out[f.name] = inner(v);
  }
  return out;
}

function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
