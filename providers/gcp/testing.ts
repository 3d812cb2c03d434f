import { fileURLToPath } from 'node:url';
import type { HandlerContext, ResourceHandler } from '../sdk/index.ts';
import { MemoryInventory, testContext } from '../sdk/testing.ts';
import { createGcpProvider, type GcpProvider, type GcpProviderOptions, readGcpConfig } from './index.ts';
import { type GcpSimulator, type GcpSimulatorOptions, startGcpSimulator } from './simulator/index.ts';

/** The repository root (function sources are resolved against it). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A simulator and a provider pointed at it, for tests and benches. */
export interface GcpRig {
  readonly sim: GcpSimulator;
  readonly provider: GcpProvider;
  handler(kind: string): ResourceHandler;
  close(): Promise<void>;
}

export async function startGcpRig(
  options: { sim?: GcpSimulatorOptions; provider?: GcpProviderOptions; root?: string } = {},
): Promise<GcpRig> {
  const sim = await startGcpSimulator({ runFunctions: false, ...options.sim });
  const config = readGcpConfig({ ...sim.env, KEELSON_REPO_ROOT: options.root ?? REPO_ROOT });
  if ('unavailable' in config) throw new Error(config.unavailable);
  const provider = createGcpProvider(config, { backoffMs: 5, ...options.provider });
  return {
    sim,
    provider,
    handler(kind: string) {
      const found = provider.kinds.find((k) => k.schema.kind === kind)?.handler;
      if (!found) throw new Error(`kind ${kind} missing`);
      return found;
    },
    async close() {
      await provider.close?.();
      await sim.close();
    },
  };
}

/** One context (one inventory) shared by a test file's handler calls, as the engine shares one per pass. */
export function rigContext(): HandlerContext {
  return testContext({ inventory: new MemoryInventory() });
}
