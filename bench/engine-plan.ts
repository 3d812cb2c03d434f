/**
 * plan() on 1,000 and 10,000 synthetic resources (pure; budget: well under a second), and
 * load + validate of 10,000 documents from YAML files.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DesiredResource, ObservedResource } from '../providers/sdk/index.ts';
import { silentLogger } from '../providers/sdk/testing.ts';
import { buildGraph } from '../reconciler/desired/graph.ts';
import { loadDesiredState } from '../reconciler/desired/load.ts';
import { planChanges, specDigest } from '../reconciler/plan/plan.ts';
import { ProviderRegistry } from '../reconciler/providers/registry.ts';
import { memoryModule, memoryWorld, thingSchema } from '../test/support/memory-provider.ts';

export function synthetic(n: number): { desired: DesiredResource[]; observed: Map<string, ObservedResource> } {
  const desired: DesiredResource[] = [];
  const observed = new Map<string, ObservedResource>();
  for (let i = 0; i < n; i++) {
    const key = `mem.Thing/t${i}`;
    const spec = { size: i, color: i % 10 === 0 ? 'red' : 'blue', zone: 'z1', labels: { team: `t${i % 7}` } };
    desired.push({
      key,
      kind: 'mem.Thing',
      name: `t${i}`,
      provider: 'mem',
      spec,
      policy: 'enforce',
      protect: false,
      allowReplace: false,
      adopt: false,
      dependsOn: i > 0 && i % 3 === 0 ? [`mem.Thing/t${i - 1}`] : [],
    });
    // every 20th drifted, every 50th missing: the planner has real work to do
    if (i % 50 === 49) continue;
    observed.set(key, {
      key,
      kind: 'mem.Thing',
      name: `t${i}`,
      id: String(i),
      owned: true,
      spec: { ...spec, size: i % 20 === 0 ? i + 1 : i },
      outputs: {},
      ready: true,
    });
  }
  return { desired, observed };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

export async function run(): Promise<void> {
  for (const n of [1_000, 10_000]) {
    const { desired, observed } = synthetic(n);
    const graph = buildGraph(desired);
    const applied = Object.fromEntries(
      desired.map((r) => [r.key, { digest: specDigest(r.spec), revision: 'r', protect: false, at: '' }]),
    );
    const times: number[] = [];
    let changes = 0;
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      const plan = planChanges({
        revision: 'bench',
        desired,
        waveOf: graph.waveOf,
        observed,
        unobservable: new Map(),
        schema: () => thingSchema,
        normalize: (_k, s) => s,
        secrets: new Map(),
        applied,
      });
      times.push(performance.now() - t);
      changes = plan.changes.filter((c) => c.action !== 'no-op').length;
    }
    console.log(
      `plan() on ${n.toLocaleString('en')} resources: median ${median(times).toFixed(1)} ms over 5 runs (${changes} changes, ${graph.waves.length} waves)`,
    );
  }

  const dir = mkdtempSync(join(tmpdir(), 'keelson-bench-load-'));
  try {
    for (let f = 0; f < 100; f++) {
      mkdirSync(join(dir, `team-${f % 10}`), { recursive: true });
      const docs = Array.from(
        { length: 100 },
        (_, i) => `kind: mem.Thing\nname: t${f}-${i}\nspec:\n  size: ${i}\n  labels: { team: t${f} }\n`,
      ).join('---\n');
      writeFileSync(join(dir, `team-${f % 10}`, `things-${f}.yaml`), docs);
    }
    const registry = ProviderRegistry.create([memoryModule(memoryWorld())], { env: {}, log: silentLogger });
    const times: number[] = [];
    let count = 0;
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      const loaded = loadDesiredState(dir, registry);
      times.push(performance.now() - t);
      count = loaded.resources.length;
    }
    console.log(
      `load + validate of ${count.toLocaleString('en')} documents in 100 files: median ${median(times).toFixed(0)} ms over 3 runs`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
