import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { planChanges } from '../plan/plan.ts';
import { builtinModules } from '../providers/builtin.ts';
import { ProviderRegistry } from '../providers/registry.ts';
import { loadDesiredState } from './load.ts';

const worker = (name: string, source: string) =>
  `kind: cloudflare.WorkerScript\nname: ${name}\nspec:\n  source: ${source}\n  compatibilityDate: '2024-09-23'\n---\n`;

/** A repository with two Workers, one of which does not compile. */
function repo(): string {
  const root = mkdtempSync(join(tmpdir(), 'keelson-build-'));
  mkdirSync(join(root, 'workers', 'good', 'src'), { recursive: true });
  mkdirSync(join(root, 'workers', 'bad', 'src'), { recursive: true });
  mkdirSync(join(root, 'desired'), { recursive: true });
  writeFileSync(
    join(root, 'workers', 'good', 'src', 'index.ts'),
    'export default { fetch: () => new Response("ok") };\n',
  );
  writeFileSync(
    join(root, 'workers', 'bad', 'src', 'index.ts'),
    'export default {\n  fetch: () => new Response(,\n};\n',
  );
  writeFileSync(join(root, 'desired', 'workers.yaml'), worker('good', 'workers/good') + worker('bad', 'workers/bad'));
  return root;
}

describe('the load step builds artifacts before planning', () => {
  const registry = new ProviderRegistry(builtinModules);

  it('puts the bundle hash into the desired spec, and a source that does not build fails only its resource', () => {
    const root = repo();
    const loaded = loadDesiredState(join(root, 'desired'), registry, { root });
    expect(loaded.resources.map((r) => r.key)).toEqual(['cloudflare.WorkerScript/good', 'cloudflare.WorkerScript/bad']);
    const [good, bad] = loaded.resources;
    expect(good?.spec.bundleHash).toMatch(/^[0-9a-f]{32}$/);
    expect(good?.buildError).toBeUndefined();
    expect(bad?.buildError).toMatch(/workers\/bad\/src\/index\.ts:2: .*Unexpected/);
    expect(loaded.diagnostics).toEqual([
      expect.objectContaining({
        severity: 'warning',
        code: 'build-failed',
        file: '../workers/bad/src/index.ts',
        line: 2,
      }),
    ]);

    const plan = planChanges({
      revision: 'r1',
      desired: loaded.resources,
      waveOf: loaded.graph.waveOf,
      observed: new Map(),
      unobservable: new Map(),
      schema: (kind) => registry.schema(kind),
      normalize: (_kind, spec) => spec,
      secrets: new Map(),
      applied: {},
    });
    expect(plan.changes.map((c) => [c.key, c.action, c.reason])).toEqual([
      ['cloudflare.WorkerScript/bad', 'skip', 'build-failed'],
      ['cloudflare.WorkerScript/good', 'create', undefined],
    ]);
  });

  it('rebuilds when a source file changes, and not otherwise (cached by content)', () => {
    const root = repo();
    const hash = () =>
      loadDesiredState(join(root, 'desired'), registry, { root }).resources.find((r) => r.name === 'good')?.spec
        .bundleHash;
    const first = hash();
    expect(hash()).toBe(first);
    writeFileSync(
      join(root, 'workers', 'good', 'src', 'index.ts'),
      'export default { fetch: () => new Response("v2") };\n',
    );
    expect(hash()).not.toBe(first);
  });
});
