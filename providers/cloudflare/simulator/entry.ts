import type { Logger } from '../../sdk/index.ts';
import { StateFile } from '../../sdk/simulator-state-file.ts';
import { type SerializedCloudflareState, startCloudflareSimulator } from './simulator.ts';

/** The API token the standalone simulator accepts. */
export const standaloneCloudflareToken = 'keelson-simulator-cloudflare-token';

/** Runs the Cloudflare API simulator standalone (what `keelson simulate cloudflare` starts). */
export const cloudflareSimulatorEntry = {
  async start(
    o: { port?: number; statePath?: string; log?: Logger } = {},
  ): Promise<{ env: Record<string, string>; close(): Promise<void> }> {
    let file: StateFile<SerializedCloudflareState> | undefined;
    const sim = await startCloudflareSimulator({
      token: standaloneCloudflareToken,
      ...(o.port === undefined ? {} : { port: o.port }),
      onChange: () => file?.changed(),
    });
    if (o.statePath !== undefined) {
      file = new StateFile(o.statePath, () => sim.serialize());
      try {
        const saved = file.load();
        if (saved !== undefined) sim.restore(saved as SerializedCloudflareState);
      } catch (error) {
        await sim.close();
        const message = (error as Error).message;
        throw new Error(
          message.startsWith(o.statePath)
            ? message
            : `${o.statePath}: ${message}; move it away or pick another --state`,
        );
      }
      file.save();
      o.log?.info({ path: o.statePath, scripts: sim.state.scripts.size }, 'cloudflare simulator state loaded');
    }
    return {
      env: sim.env(),
      async close() {
        file?.save();
        await sim.close();
      },
    };
  },
};
