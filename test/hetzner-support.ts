import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHetznerProvider, hetznerModule } from '../providers/hetzner/index.ts';
import { type HetznerSimulator, startHetznerSimulator } from '../providers/hetzner/simulator/index.ts';
import { type Clock, SecretValue } from '../providers/sdk/index.ts';
import { silentLogger } from '../providers/sdk/testing.ts';
import { loadDesiredState } from '../reconciler/desired/load.ts';
import { type PassInput, type PassResult, runPass } from '../reconciler/engine/pass.ts';
import { envSecretSource } from '../reconciler/engine/secrets.ts';
import { ProviderRegistry } from '../reconciler/providers/registry.ts';
import { FileStateStore } from '../reconciler/state/file-store.ts';

const repoDesired = join(import.meta.dirname, '..', 'desired-state', 'hetzner');

/** The company's Hetzner desired state, a simulator and a state file, to run engine passes against. */
export class HetznerWorld {
  readonly dir = mkdtempSync(join(tmpdir(), 'keelson-hetzner-'));
  readonly desired = join(this.dir, 'desired');
  readonly store = new FileStateStore(join(this.dir, 'state.json'));
  readonly sim: HetznerSimulator;
  readonly provider: ReturnType<typeof createHetznerProvider>;
  readonly registry: ProviderRegistry;
  /**
   * Called each time the provider's rate budget waits. Its clock skips the wait instead of sleeping,
   * so a test decides what the wait brings (a refilled simulator bucket), whatever the machine's load.
   */
  onBudgetWait: (() => void) | undefined;
  #skipped = 0;
  #revision = 0;

  private constructor(sim: HetznerSimulator) {
    this.sim = sim;
    this.provider = createHetznerProvider({
      endpoint: sim.endpoint,
      token: new SecretValue('sim-token', 'test'),
      backoffMs: 20,
      rateBudget: { clock: this.#budgetClock },
    });
    this.registry = new ProviderRegistry([hetznerModule], [this.provider]);
    cpSync(repoDesired, this.desired, { recursive: true });
  }

  readonly #budgetClock: Clock = {
    now: () => Date.now() + this.#skipped,
    sleep: async (ms, signal) => {
      signal?.throwIfAborted();
      this.#skipped += ms;
      this.onBudgetWait?.();
    },
  };

  static async start(options: Parameters<typeof startHetznerSimulator>[0] = {}): Promise<HetznerWorld> {
    const world = new HetznerWorld(await startHetznerSimulator({ actionDurationMs: 15, ...options }));
    // The backup function's snapshot, which the desired state looks up by label.
    world.sim.state.addSnapshot('backup server', { role: 'backup-server' });
    return world;
  }

  write(file: string, text: string): void {
    writeFileSync(join(this.desired, file), text);
  }

  remove(file: string): void {
    rmSync(join(this.desired, file));
  }

  async pass(mode: PassInput['mode'] = 'apply'): Promise<PassResult> {
    const loaded = loadDesiredState(this.desired, this.registry);
    const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
    if (errors.length > 0) throw new Error(`invalid desired state: ${errors.map((d) => d.message).join('; ')}`);
    return runPass({
      resources: loaded.resources,
      revision: `r${++this.#revision}`,
      registry: this.registry,
      store: this.store,
      owner: 'keelson-test',
      mode,
      secrets: envSecretSource({}),
      log: silentLogger,
      retry: { attempts: 4, baseDelayMs: 20, maxDelayMs: 2000 },
    });
  }

  async close(): Promise<void> {
    await this.sim.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
