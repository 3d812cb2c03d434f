import type { Logger } from '../../sdk/index.ts';
import { StateFile } from '../../sdk/simulator-state-file.ts';
import { startHetznerSimulator } from './server.ts';
import type { SerializedState } from './state.ts';

/** The token the standalone simulator accepts (64 characters, like a real Hetzner API token). */
export const standaloneHetznerToken = 'keelson-simulator-'.padEnd(64, '0');

export interface SimulatorStartOptions {
  /** Loopback port (default: any free one). */
  readonly port?: number;
  /** JSON file that keeps the simulated project across restarts. */
  readonly statePath?: string;
  readonly log?: Logger;
  /** How long actions run (ms, default 500: clients see them `running` before `success`). */
  readonly actionDurationMs?: number;
}

/** Runs the Hetzner Cloud simulator standalone (what `keelson simulate hetzner` starts). */
export const hetznerSimulatorEntry = {
  async start(o: SimulatorStartOptions = {}): Promise<{ env: Record<string, string>; close(): Promise<void> }> {
    let file: StateFile<SerializedState> | undefined;
    const sim = await startHetznerSimulator({
      token: standaloneHetznerToken,
      actionDurationMs: o.actionDurationMs ?? 500,
      ...(o.port === undefined ? {} : { port: o.port }),
      onExchange: (e) => {
        if (e.method !== 'GET' && e.status < 400) file?.changed();
      },
    });
    if (o.statePath !== undefined) {
      file = new StateFile(o.statePath, () => sim.state.serialize());
      try {
        const saved = file.load();
        if (saved !== undefined) sim.state.restore(saved as SerializedState);
      } catch (error) {
        await sim.close();
        const message = (error as Error).message;
        throw new Error(
          message.startsWith(o.statePath)
            ? message
            : `${o.statePath}: ${message}; move it away or pick another --state`,
        );
      }
      sim.state.onChange = () => file?.changed();
      file.save();
      o.log?.info({ path: o.statePath, servers: sim.state.servers.size }, 'hetzner simulator state loaded');
    }
    return {
      env: { HCLOUD_ENDPOINT: sim.endpoint, HCLOUD_TOKEN: standaloneHetznerToken },
      async close() {
        await sim.close();
        file?.save();
      },
    };
  },
};
