import { resolve } from 'node:path';
import type { HandlerContext, RateBudget, ResourceHandler } from '../sdk/index.ts';
import { silentLogger, testContext } from '../sdk/testing.ts';
import { cloudflareBudget } from './client/client.ts';
import { readCloudflareConfig } from './client/config.ts';
import { type CloudflareProvider, createCloudflareProvider } from './index.ts';
import {
  type CloudflareSimulator,
  type CloudflareSimulatorOptions,
  startCloudflareSimulator,
} from './simulator/index.ts';

/** A simulator and a provider pointed at it, for tests and benchmarks. */
export interface CloudflareTestRig {
  readonly sim: CloudflareSimulator;
  readonly provider: CloudflareProvider;
  handler(kind: string): ResourceHandler;
  close(): Promise<void>;
}

/** The repository root (Worker sources resolve against it). */
export const REPO_ROOT = resolve(import.meta.dirname, '../..');

/** Starts a simulator and a provider on it; the budget's clock is real, so keep limits generous. */
export async function startCloudflareRig(
  options: CloudflareSimulatorOptions & { readonly budget?: RateBudget } = {},
): Promise<CloudflareTestRig> {
  const sim = await startCloudflareSimulator(options);
  const config = readCloudflareConfig({ ...sim.env(), KEELSON_REPO_ROOT: REPO_ROOT });
  if ('unavailable' in config) throw new Error(config.unavailable);
  const provider = createCloudflareProvider(config, {
    log: silentLogger,
    budget: options.budget ?? cloudflareBudget(),
  });
  return {
    sim,
    provider,
    handler(kind: string): ResourceHandler {
      const handler = provider.kinds.find((k) => k.schema.kind === kind)?.handler;
      if (!handler) throw new Error(`no handler for ${kind}`);
      return handler;
    },
    close: () => sim.close(),
  };
}

/** A test context whose inventory persists across calls (one keelson instance). */
export function rigContext(owner = 'keelson-test'): HandlerContext {
  return testContext({ owner });
}
