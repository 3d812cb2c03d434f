import { createHetznerProvider } from '../../providers/hetzner/index.ts';
import {
  type HetznerSimulator,
  type HetznerSimulatorOptions,
  startHetznerSimulator,
} from '../../providers/hetzner/simulator/index.ts';
import { SecretValue } from '../../providers/sdk/index.ts';
import { skippingClock } from '../../providers/sdk/testing.ts';
import { EngineRig } from './engine-rig.ts';

/**
 * The company's Hetzner desired state (`desired-state/hetzner`), a Hetzner simulator and a
 * provider on it, run through the engine rig. The provider's rate budget runs on a clock that
 * skips its waits and calls `onBudgetWait`, so a test decides what a wait brings.
 */
export class HetznerWorld {
  readonly sim: HetznerSimulator;
  readonly provider: ReturnType<typeof createHetznerProvider>;
  readonly rig: EngineRig;
  /** Called each time the provider's rate budget waits (e.g. to refill the simulator's bucket). */
  onBudgetWait: (() => void) | undefined;

  private constructor(sim: HetznerSimulator) {
    this.sim = sim;
    this.provider = createHetznerProvider({
      endpoint: sim.endpoint,
      token: new SecretValue('sim-token', 'test'),
      backoffMs: 20,
      rateBudget: { clock: skippingClock(() => this.onBudgetWait?.()) },
    });
    this.rig = new EngineRig({
      providers: [this.provider],
      retry: { attempts: 4, baseDelayMs: 20, maxDelayMs: 2000 },
    }).copyDesired('hetzner');
  }

  static async start(options: HetznerSimulatorOptions = {}): Promise<HetznerWorld> {
    const world = new HetznerWorld(await startHetznerSimulator({ actionDurationMs: 15, ...options }));
    // The backup function's snapshot, which the desired state looks up by label.
    world.sim.state.addSnapshot('backup server', { role: 'backup-server' });
    return world;
  }

  write(file: string, text: string): void {
    this.rig.write(file, text);
  }

  remove(file: string): void {
    this.rig.remove(file);
  }

  pass(mode?: Parameters<EngineRig['pass']>[0]) {
    return this.rig.pass(mode);
  }

  async close(): Promise<void> {
    await this.sim.close();
    this.rig.close();
  }
}
