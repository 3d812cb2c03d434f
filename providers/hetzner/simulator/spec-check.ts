import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { Exchange } from './server.ts';

/** The vendor's OpenAPI document: `$KEELSON_SPEC_DIR/hetzner-cloud.json` (default `../shared/specs`). */
export const hetznerSpecFile = join(
  process.env.KEELSON_SPEC_DIR ?? resolve(import.meta.dirname, '../../../../shared/specs'),
  'hetzner-cloud.json',
);

/** Why the document cannot be used, or undefined when it is there. */
export function hetznerSpecMissing(): string | undefined {
  return existsSync(hetznerSpecFile)
    ? undefined
    : `${hetznerSpecFile} is missing. Fetch the current document with\n` +
        '  curl -o hetzner-cloud.json https://docs.hetzner.cloud/cloud.spec.json\n' +
        'and point KEELSON_SPEC_DIR at its folder.';
}

type Operation = {
  requestBody?: { content?: Record<string, { schema?: object }> };
  responses: Record<string, { content?: Record<string, { schema?: object }> }>;
};

export interface SpecReport {
  /** Exchanges whose operation and status the document has. */
  readonly checked: number;
  /** Answers the document does not allow (the simulator's fault), deduplicated. */
  readonly responseProblems: string[];
  /** Requests the document does not allow (the client's, when the client is not keelson). */
  readonly requestProblems: string[];
}

/** Validates exchanges (from `onExchange`) against the vendor's OpenAPI document with ajv. */
export function checkExchanges(exchanges: readonly Exchange[]): SpecReport {
  const ajv = new Ajv({ strict: false, allErrors: true });
  // ajv-formats is CommonJS: under Node's ESM loader its default export is the module object.
  const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (
    a: Ajv,
  ) => void;
  addFormats(ajv);
  for (const f of ['int64', 'int32', 'float', 'double', 'decimal']) ajv.addFormat(f, true);
  const compiled = new Map<object, ValidateFunction>();
  const validator = (schema: object): ValidateFunction => {
    let v = compiled.get(schema);
    if (!v) {
      v = ajv.compile(schema);
      compiled.set(schema, v);
    }
    return v;
  };
  const raw = readFileSync(hetznerSpecFile, 'utf8').replace(/"([45])xx"\s*:/g, '"$1XX":');
  const spec = JSON.parse(raw) as { paths: Record<string, Record<string, Operation>> };
  // Literal segments win over parameters: `/servers/actions` before `/servers/{id}`.
  const templates = Object.keys(spec.paths)
    .map((p) => ({
      path: p,
      params: (p.match(/\{/g) ?? []).length,
      pattern: new RegExp(`^/v1${p.replace(/\{[^}]+\}/g, '[^/]+')}$`),
    }))
    .sort((a, b) => a.params - b.params);
  const responseProblems: string[] = [];
  const requestProblems: string[] = [];
  let checked = 0;
  for (const e of exchanges) {
    const template = templates.find((t) => t.pattern.test(e.path));
    const op = template ? spec.paths[template.path]?.[e.method.toLowerCase()] : undefined;
    if (!op) {
      responseProblems.push(`${e.method} ${e.path}: not in the spec`);
      continue;
    }
    const reqSchema = op.requestBody?.content?.['application/json']?.schema;
    if (reqSchema && e.requestBody !== undefined) {
      const v = validator(reqSchema);
      if (!v(e.requestBody)) requestProblems.push(`${e.method} ${template!.path} request: ${ajv.errorsText(v.errors)}`);
    }
    const answer = op.responses[String(e.status)] ?? op.responses[`${String(e.status)[0]}XX`];
    if (!answer) {
      responseProblems.push(`${e.method} ${e.path}: status ${e.status} not documented`);
      continue;
    }
    const resSchema = answer.content?.['application/json']?.schema;
    if (resSchema) {
      const v = validator(resSchema);
      if (!v(e.responseBody))
        responseProblems.push(`${e.method} ${template!.path} ${e.status} response: ${ajv.errorsText(v.errors)}`);
    }
    checked++;
  }
  return { checked, responseProblems: [...new Set(responseProblems)], requestProblems: [...new Set(requestProblems)] };
}
