import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { desiredStateJsonSchema } from '../reconciler/desired/json-schema.ts';
import { loadDesiredState } from '../reconciler/desired/load.ts';
import { builtinModules } from '../reconciler/providers/builtin.ts';
import { ProviderRegistry } from '../reconciler/providers/registry.ts';

const root = join(import.meta.dirname, '..');
const registry = new ProviderRegistry(builtinModules);

describe("the company's desired state (desired-state/)", () => {
  const loaded = loadDesiredState(join(root, 'desired-state'), registry, { root });

  it('is valid: no diagnostics at all', () => {
    expect(loaded.diagnostics).toEqual([]);
    expect(loaded.resources.length).toBeGreaterThan(20);
  });

  it('covers every provider', () => {
    expect(new Set(loaded.resources.map((r) => r.provider))).toEqual(
      new Set(['hetzner', 'cloudflare', 'swarm', 'gcp']),
    );
  });

  it('has the committed JSON Schema up to date (run "npm run schema" after changing a kind)', () => {
    const committed = JSON.parse(readFileSync(join(root, 'desired-state', 'keelson.schema.json'), 'utf8'));
    expect(committed).toEqual(JSON.parse(JSON.stringify(desiredStateJsonSchema(registry.schemas()))));
  });

  it('passes the JSON Schema editors use, document by document (so the schema accepts what keelson accepts)', () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    const validate = ajv.compile(desiredStateJsonSchema(registry.schemas()));
    const files = [...new Set(loaded.resources.map((r) => r.source?.file))];
    let checked = 0;
    for (const file of files) {
      for (const doc of parseAllDocuments(readFileSync(join(root, 'desired-state', file as string), 'utf8'))) {
        const value = doc.toJS();
        if (value === null) continue;
        checked++;
        expect(validate(value), `${file} ${value.kind}/${value.name}: ${ajv.errorsText(validate.errors)}`).toBe(true);
      }
    }
    expect(checked).toBeGreaterThan(10);
  });

  it('the JSON Schema rejects an unknown field and an inline secret, as keelson does', () => {
    const ajv = new Ajv2020({ strict: false });
    const validate = ajv.compile(desiredStateJsonSchema(registry.schemas()));
    expect(validate({ kind: 'swarm.Stack', name: 'x', spec: { chart: 'traefik', colour: 1 } })).toBe(false);
    expect(validate({ kind: 'swarm.Secret', name: 'x', spec: { data: 'inline-value' } })).toBe(false);
  });
});
