import { createHetznerProvider, hetznerModule } from '../providers/hetzner/index.ts';
import { startHetznerSimulator } from '../providers/hetzner/simulator/index.ts';
import { type DesiredResource, SecretValue } from '../providers/sdk/index.ts';
import { silentLogger } from '../providers/sdk/testing.ts';
import { runPass } from '../reconciler/engine/pass.ts';
import { envSecretSource } from '../reconciler/engine/secrets.ts';
import { ProviderRegistry } from '../reconciler/providers/registry.ts';
import { emptyState, type StateData, type StateStore } from '../reconciler/state/types.ts';

function server(i: number): DesiredResource {
  const name = `node-${i}`;
  return {
    key: `hetzner.Server/${name}`,
    kind: 'hetzner.Server',
    name,
    provider: 'hetzner',
    spec: { serverType: 'cx22', image: 'debian-12', location: 'fsn1' },
    policy: 'enforce',
    protect: false,
    allowReplace: false,
    adopt: false,
    dependsOn: [],
  };
}

/** API requests of a no-op pass over N servers: they should grow with pages (50 per page), not servers. */
export async function run(): Promise<void> {
  for (const n of [10, 100, 500]) {
    const sim = await startHetznerSimulator({
      actionDurationMs: 0,
      rateLimit: { limit: 100_000, refillPerSecond: 1000 },
    });
    const provider = createHetznerProvider({
      endpoint: sim.endpoint,
      token: new SecretValue('bench', 'bench'),
      concurrency: 16,
    });
    const registry = new ProviderRegistry([hetznerModule], [provider]);
    let data: StateData = emptyState();
    const store: StateStore = {
      load: async () => structuredClone(data),
      save: async (d) => {
        data = structuredClone(d);
      },
    };
    const resources = Array.from({ length: n }, (_, i) => server(i + 1));
    const pass = () =>
      runPass({
        resources,
        revision: 'bench',
        registry,
        store,
        owner: 'bench',
        mode: 'apply',
        secrets: envSecretSource({}),
        log: silentLogger,
      });
    await pass();
    const before = sim.requests.length;
    const t0 = performance.now();
    const result = await pass();
    const ms = performance.now() - t0;
    const calls = sim.requests.slice(before);
    console.log(
      `hetzner no-op pass, ${n} servers: ${calls.length} API requests (${calls.filter((c) => c.method !== 'GET').length} writes), outcome ${result.outcome}, ${ms.toFixed(0)} ms`,
    );
    await sim.close();
  }
}

if (import.meta.main) await run();
