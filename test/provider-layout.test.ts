import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ProviderModule } from '../providers/sdk/index.ts';
import { silentLogger, testContext } from '../providers/sdk/testing.ts';

// Every provider has the same shape (README "Writing a provider"), so that the next one is written by
// copying a folder. This test holds each folder of providers/ (but the SDK) to it.
const ROOT = join(import.meta.dirname, '..', 'providers');
const names = readdirSync(ROOT, { withFileTypes: true })
  .filter((e) => e.isDirectory() && e.name !== 'sdk')
  .map((e) => e.name);

/** An environment that makes each provider available without reaching anything (no call is made). */
const ENV: Record<string, Record<string, string>> = {
  hetzner: { HCLOUD_TOKEN: 'layout-test' },
  cloudflare: { CLOUDFLARE_API_TOKEN: 'layout-test', CLOUDFLARE_ACCOUNT_ID: 'layout-test' },
  swarm: { DOCKER_HOST: 'tcp://127.0.0.1:9' },
  gcp: { GCP_PROJECT_ID: 'layout-test', GCP_ACCESS_TOKEN: 'layout-test', GCP_API_ENDPOINT: 'http://127.0.0.1:9' },
};

/** Providers tested against the real thing instead of a simulator. */
const NO_SIMULATOR = new Set(['swarm']);

async function moduleOf(name: string): Promise<ProviderModule> {
  const exports = (await import(join(ROOT, name, 'index.ts'))) as Record<string, unknown>;
  const found = Object.values(exports).find(
    (v): v is ProviderModule =>
      typeof v === 'object' && v !== null && (v as ProviderModule).name === name && 'schemas' in v && 'create' in v,
  );
  if (!found) throw new Error(`providers/${name}/index.ts exports no ProviderModule named ${name}`);
  return found;
}

describe.each(names)('provider %s', (name) => {
  it('has the template files: index.ts, README.md, ownership.ts, client/, kinds/ (and simulator/)', () => {
    const expected = ['index.ts', 'README.md', 'ownership.ts', 'client', 'kinds'];
    if (!NO_SIMULATOR.has(name)) expected.push('simulator');
    expect(expected.filter((f) => !existsSync(join(ROOT, name, f)))).toEqual([]);
  });

  it("lists its kinds once: the module's schemas are the created provider's kinds, in order", async () => {
    const module = await moduleOf(name);
    const env = ENV[name];
    if (!env) throw new Error(`add to ENV in this test the environment that makes provider ${name} available`);
    const provider = module.create({ env, log: silentLogger });
    if ('unavailable' in provider) throw new Error(`provider ${name} is unavailable: ${provider.unavailable}`);
    expect(provider.kinds.map((k) => k.schema.kind)).toEqual(module.schemas.map((s) => s.kind));
    expect(module.schemas.every((s) => s.kind.startsWith(`${name}.`))).toBe(true);
    for (const [kind, expander] of Object.entries(module.expanders ?? {})) {
      expect(provider.kinds.find((k) => k.schema.kind === kind)?.expander).toBe(expander);
    }
    expect(module.simulator === undefined).toBe(NO_SIMULATOR.has(name));
  });

  it('importing it loads no simulator code (validate and plan never start one)', () => {
    // A child process records every module Node resolves while index.ts is imported.
    const script = `
      import { registerHooks } from 'node:module';
      const seen = [];
      registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); seen.push(r.url); return r; } });
      await import(${JSON.stringify(join(ROOT, name, 'index.ts'))});
      console.log(JSON.stringify(seen));`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    const loaded = JSON.parse(run.stdout.trim().split('\n').pop() as string) as string[];
    expect(loaded.length).toBeGreaterThan(1);
    expect(loaded.filter((url) => url.includes(`/providers/${name}/simulator/`))).toEqual([]);
  });

  // Swarm has no simulator (it is tested on a real engine): the case above checks that it declares none.
  if (NO_SIMULATOR.has(name)) return;
  it('its simulator entry starts a simulator that its own provider works against', async () => {
    const module = await moduleOf(name);
    const running = await (module.simulator as NonNullable<ProviderModule['simulator']>).start({});
    try {
      const provider = module.create({ env: running.env, log: silentLogger });
      if ('unavailable' in provider) throw new Error(`provider ${name} is unavailable: ${provider.unavailable}`);
      const ctx = testContext();
      await provider.connect?.(ctx);
      const first = provider.kinds.find((k) => k.handler && !k.schema.readOnly);
      const found = await first?.handler?.observe(ctx, { kind: first.schema.kind, names: [], desired: [] });
      expect(found).toEqual([]);
    } finally {
      await running.close();
    }
  });
});
