import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { RequestLogEntry } from './simulator.ts';

/** Cloudflare's OpenAPI document (a 2024 subset): `$KEELSON_SPEC_DIR/cloudflare-subset.json` (default `../shared/specs`). */
export const cloudflareSpecFile = join(
  process.env.KEELSON_SPEC_DIR ?? resolve(import.meta.dirname, '../../../../shared/specs'),
  'cloudflare-subset.json',
);

/** Why the document cannot be used, or undefined when it is there. */
export function cloudflareSpecMissing(): string | undefined {
  return existsSync(cloudflareSpecFile)
    ? undefined
    : `${cloudflareSpecFile} is missing. Set KEELSON_SPEC_DIR to a folder holding cloudflare-subset.json ` +
        '(a subset of https://github.com/cloudflare/api-schemas openapi.json: zones/{id}/dns_records, accounts/{id}/r2/buckets, ' +
        'accounts/{id}/workers/scripts, zones/{id}/workers/routes).';
}

/**
 * Where the document and the SDK disagree, the SDK (generated from the current API) wins; these
 * exchanges are not checked against the 2024 document (see ../shared/specs/README.md).
 */
const SDK_WINS: readonly RegExp[] = [
  // the document has `result: Bucket[]`; the live API and the SDK have `result: {buckets}`
  /^GET \/accounts\/[^/]+\/r2\/buckets$/,
  // the document's binding union lacks plain_text and secret_text, which the SDK's has
  /^GET \/accounts\/[^/]+\/workers\/scripts\/[^/]+\/settings$/,
];

type Json = Record<string, unknown>;

/** OpenAPI 3.0 only allows `4XX`; the vendor's document writes `4xx`. */
function upperCaseWildcards(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(upperCaseWildcards);
  if (typeof value !== 'object' || value === null) return value;
  const out: Json = {};
  for (const [k, v] of Object.entries(value)) out[/^[1-5]xx$/.test(k) ? k.toUpperCase() : k] = upperCaseWildcards(v);
  return out;
}

/** Property names the document marks `readOnly` (ids, timestamps): a request never sends them. */
function readOnlyNames(spec: Json): Set<string> {
  const schemas = (spec.components as { schemas: Record<string, Json> }).schemas;
  const names = new Set<string>();
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(walk);
    if (typeof value !== 'object' || value === null) return;
    const props = (value as Json).properties as Record<string, Json> | undefined;
    for (const [name, prop] of Object.entries(props ?? {})) {
      const ref = typeof prop.$ref === 'string' ? schemas[prop.$ref.split('/').pop() as string] : undefined;
      if (prop.readOnly === true || ref?.readOnly === true) names.add(name);
    }
    Object.values(value).forEach(walk);
  };
  walk(spec);
  return names;
}

/** The document for checking requests: readOnly properties are not required in a request (OpenAPI 3.0). */
function requestView(value: unknown, readOnly: Set<string>): unknown {
  if (Array.isArray(value)) return value.map((v) => requestView(v, readOnly));
  if (typeof value !== 'object' || value === null) return value;
  const out: Json = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] =
      k === 'required' && Array.isArray(v) ? v.filter((n) => !readOnly.has(String(n))) : requestView(v, readOnly);
  }
  return out;
}

/** The document's 4XX schemas are `allOf: [success shape, failure shape]`, which no body can meet; the failure shape is what applies. */
function failureRef(schema: Json | undefined): string | undefined {
  const allOf = schema?.allOf as Json[] | undefined;
  const ref = allOf?.find((s) => typeof s.$ref === 'string' && s.$ref.includes('common-failure'))?.$ref;
  return typeof ref === 'string' ? `cf${ref}` : undefined;
}

const pointer = (...parts: string[]) =>
  parts.map((p) => encodeURIComponent(p.replaceAll('~', '~0').replaceAll('/', '~1'))).join('/');

function operationFor(spec: Json, method: string, path: string): { template: string; op: Json } | undefined {
  const paths = spec.paths as Record<string, Record<string, Json>>;
  for (const [template, ops] of Object.entries(paths)) {
    const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
    const op = ops[method.toLowerCase()];
    if (op && pattern.test(path)) return { template, op };
  }
  return undefined;
}

/** What `checkCloudflareExchanges` found. */
export interface CloudflareSpecReport {
  readonly checked: number;
  readonly problems: string[];
}

let compiled: { spec: Json; ajv: Ajv } | undefined;

/**
 * Validates logged exchanges (a simulator started with `recordBodies: true`) against the document:
 * answers always, requests that succeeded when they were JSON. Exchanges the document does not
 * cover are skipped.
 */
export function checkCloudflareExchanges(requests: readonly RequestLogEntry[]): CloudflareSpecReport {
  if (!compiled) {
    const spec = upperCaseWildcards(JSON.parse(readFileSync(cloudflareSpecFile, 'utf8'))) as Json;
    const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
    (addFormatsModule as unknown as (a: Ajv) => void)(ajv);
    ajv.addSchema(spec, 'cf');
    ajv.addSchema(requestView(spec, readOnlyNames(spec)) as Json, 'cf-request');
    compiled = { spec, ajv };
  }
  const { spec, ajv } = compiled;
  const problems: string[] = [];
  let checked = 0;
  for (const entry of requests) {
    const label = `${entry.method} ${entry.path}`;
    if (SDK_WINS.some((re) => re.test(label))) continue;
    const found = operationFor(spec, entry.method, entry.path);
    if (!found) continue;
    const responses = found.op.responses as Record<string, Json>;
    const status = String(entry.status);
    const responseKey = responses[status] ? status : responses[`${status[0]}XX`] ? `${status[0]}XX` : undefined;
    if (!responseKey) {
      problems.push(`${label}: status ${status} is not in the document`);
      continue;
    }
    const content = (responses[responseKey]?.content as Record<string, Json> | undefined)?.['application/json'];
    if (content?.schema) {
      const failure = entry.status >= 400 ? failureRef(content.schema as Json) : undefined;
      const ref =
        failure ??
        `cf#/${pointer('paths', found.template, entry.method.toLowerCase(), 'responses', responseKey, 'content', 'application/json', 'schema')}`;
      if (!ajv.validate({ $ref: ref }, entry.responseBody)) {
        problems.push(`${label} -> ${status}: ${ajv.errorsText(ajv.errors)}`);
      }
      checked++;
    }
    const body = found.op.requestBody as Json | undefined;
    const jsonBody = (body?.content as Record<string, Json> | undefined)?.['application/json'];
    // A request the API refused (on purpose, above) is not expected to match the document.
    if (jsonBody?.schema && entry.requestBody !== undefined && entry.status < 400) {
      const ref = `cf-request#/${pointer('paths', found.template, entry.method.toLowerCase(), 'requestBody', 'content', 'application/json', 'schema')}`;
      if (!ajv.validate({ $ref: ref }, entry.requestBody))
        problems.push(`${label} request: ${ajv.errorsText(ajv.errors)}`);
      checked++;
    }
  }
  return { checked, problems: [...new Set(problems)] };
}
