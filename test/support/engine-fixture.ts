import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../providers/sdk/testing.ts';
import { loadDesiredState } from '../../reconciler/desired/load.ts';
import { type PassInput, type PassResult, runPass } from '../../reconciler/engine/pass.ts';
import { envSecretSource } from '../../reconciler/engine/secrets.ts';
import { ProviderRegistry } from '../../reconciler/providers/registry.ts';
import { FileStateStore } from '../../reconciler/state/file-store.ts';
import type { StateStore } from '../../reconciler/state/types.ts';
import { type MemoryWorld, memoryModule, memoryWorld } from './memory-provider.ts';

/** A desired-state directory, a state file and an in-memory cloud, to run passes against. */
export class EngineFixture {
  readonly world: MemoryWorld = memoryWorld();
  readonly dir = mkdtempSync(join(tmpdir(), 'keelson-engine-'));
  readonly store: StateStore = new FileStateStore(join(this.dir, 'state', 'state.json'));
  readonly registry = ProviderRegistry.create([memoryModule(this.world)], { env: {}, log: silentLogger });
  secrets: Record<string, string> = {};
  revision = 0;

  /** Replaces the desired state with these YAML files. */
  write(files: Record<string, string>): this {
    const root = join(this.dir, `rev-${++this.revision}`);
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(join(root, name, '..'), { recursive: true });
      writeFileSync(join(root, name), text);
    }
    mkdirSync(root, { recursive: true });
    return this;
  }

  get root(): string {
    return join(this.dir, `rev-${this.revision}`);
  }

  load() {
    return loadDesiredState(this.root, this.registry);
  }

  async pass(mode: PassInput['mode'] = 'apply', extra: Partial<PassInput> = {}): Promise<PassResult> {
    const loaded = this.load();
    if (loaded.diagnostics.some((d) => d.severity === 'error')) {
      throw new Error(`fixture desired state is invalid: ${loaded.diagnostics.map((d) => d.message).join('; ')}`);
    }
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.secrets)) env[`KEELSON_SECRET_${k.toUpperCase()}`] = v;
    return runPass({
      resources: loaded.resources,
      revision: `r${this.revision}`,
      registry: this.registry,
      store: this.store,
      owner: 'keelson-test',
      mode,
      secrets: envSecretSource(env),
      log: silentLogger,
      retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
      ...extra,
    });
  }
}

export function thing(name: string, spec: string, extra = ''): string {
  return `kind: mem.Thing\nname: ${name}\n${extra}spec:\n${spec
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n')}\n---\n`;
}
