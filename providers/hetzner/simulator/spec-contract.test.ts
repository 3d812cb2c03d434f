import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HetznerWorld } from '../../../test/support/hetzner-world.ts';
import type { Exchange } from './server.ts';

const specDir = process.env.KEELSON_SPEC_DIR ?? resolve(import.meta.dirname, '../../../../shared/specs');
const specFile = join(specDir, 'hetzner-cloud.json');
const present = existsSync(specFile);

if (!present) {
  console.log(
    `Hetzner simulator contract check NOT run: ${specFile} is missing. Fetch the current document with\n` +
      `  curl -o hetzner-cloud.json https://docs.hetzner.cloud/cloud.spec.json\n` +
      'and point KEELSON_SPEC_DIR at its folder.',
  );
}

type Operation = {
  requestBody?: { content?: Record<string, { schema?: object }> };
  responses: Record<string, { content?: Record<string, { schema?: object }> }>;
};

describe.runIf(present)('the Hetzner simulator against the vendor OpenAPI document', { timeout: 120_000 }, () => {
  const exchanges: Exchange[] = [];
  let world: HetznerWorld;
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

  beforeAll(async () => {
    world = await HetznerWorld.start({ onExchange: (e) => exchanges.push(e) });
    // Drive every endpoint the provider uses: create the system, change it, fault it, remove parts.
    await world.pass();
    const fw = [...world.sim.state.firewalls.values()][0]!;
    fw.rules = fw.rules.slice(1);
    await world.pass();
    world.sim.faults.inject({ type: 'status', status: 503, match: { method: 'GET', path: '/v1/volumes' } });
    world.write('extra.yaml', 'kind: hetzner.PlacementGroup\nname: extra\nspec: {}\n');
    await world.pass();
    world.remove('extra.yaml');
    await world.pass();
  });
  afterAll(() => world.close());

  it('every request and response the simulator handled matches the spec', () => {
    const raw = readFileSync(specFile, 'utf8').replace(/"([45])xx"\s*:/g, '"$1XX":');
    const spec = JSON.parse(raw) as { paths: Record<string, Record<string, Operation>> };
    const templates = Object.keys(spec.paths).map((p) => ({
      path: p,
      pattern: new RegExp(`^/v1${p.replace(/\{[^}]+\}/g, '[^/]+')}$`),
    }));
    const problems: string[] = [];
    let checked = 0;
    for (const e of exchanges) {
      const template = templates.find((t) => t.pattern.test(e.path));
      const op = template ? spec.paths[template.path]?.[e.method.toLowerCase()] : undefined;
      if (!op) {
        problems.push(`${e.method} ${e.path}: not in the spec`);
        continue;
      }
      const reqSchema = op.requestBody?.content?.['application/json']?.schema;
      if (reqSchema && e.requestBody !== undefined) {
        const v = validator(reqSchema);
        if (!v(e.requestBody)) problems.push(`${e.method} ${e.path} request: ${ajv.errorsText(v.errors)}`);
      }
      const answer = op.responses[String(e.status)] ?? op.responses[`${String(e.status)[0]}XX`];
      if (!answer) {
        problems.push(`${e.method} ${e.path}: status ${e.status} not documented`);
        continue;
      }
      const resSchema = answer.content?.['application/json']?.schema;
      if (resSchema) {
        const v = validator(resSchema);
        if (!v(e.responseBody))
          problems.push(`${e.method} ${e.path} ${e.status} response: ${ajv.errorsText(v.errors)}`);
      }
      checked++;
    }
    console.log(`checked ${checked} simulator exchanges against ${specFile}`);
    expect([...new Set(problems)]).toEqual([]);
    expect(checked).toBeGreaterThan(50);
  });
});
