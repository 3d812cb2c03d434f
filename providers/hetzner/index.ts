import { buildKinds, type KindEntry, type Provider, type ProviderModule, schemasOf } from '../sdk/index.ts';
import { actionTracker } from './client/actions.ts';
import { readHetznerConfig } from './client/config.ts';
import { HcloudClient, type HcloudClientOptions } from './client/hcloud-client.ts';
import { FirewallHandler, firewallSchema } from './kinds/firewall.ts';
import { ImageHandler, imageSchema } from './kinds/image.ts';
import { NetworkHandler, networkSchema } from './kinds/network.ts';
import { PlacementGroupHandler, placementGroupSchema } from './kinds/placement-group.ts';
import type { HetznerRuntime } from './kinds/runtime.ts';
import { ServerHandler, serverSchema } from './kinds/server.ts';
import { SshKeyHandler, sshKeySchema } from './kinds/ssh-key.ts';
import { VolumeHandler, volumeSchema } from './kinds/volume.ts';

/** Every Hetzner kind, in dependency-friendly order (what others reference comes first). */
const hetznerKinds: readonly KindEntry<HetznerRuntime>[] = [
  { schema: sshKeySchema, handler: (rt) => new SshKeyHandler(rt) },
  { schema: networkSchema, handler: (rt) => new NetworkHandler(rt) },
  { schema: placementGroupSchema, handler: (rt) => new PlacementGroupHandler(rt) },
  { schema: imageSchema, handler: (rt) => new ImageHandler(rt) },
  { schema: firewallSchema, handler: (rt) => new FirewallHandler(rt) },
  { schema: serverSchema, handler: (rt) => new ServerHandler(rt) },
  { schema: volumeSchema, handler: (rt) => new VolumeHandler(rt) },
];

/** Every Hetzner kind's schema, in the order of the kind list. */
export const hetznerSchemas = schemasOf(hetznerKinds);

export interface HetznerProviderOptions extends HcloudClientOptions {
  /** Concurrent write calls (default 4). */
  readonly concurrency?: number;
  /** Longest wait for one action, ms (default 120 s). */
  readonly actionTimeoutMs?: number;
}

/** A Hetzner provider on one project: one client, one rate budget, one action tracker. */
export function createHetznerProvider(options: HetznerProviderOptions): Provider & { readonly client: HcloudClient } {
  const client = new HcloudClient(options);
  const rt: HetznerRuntime = {
    client,
    actions: actionTracker(client),
    actionTimeoutMs: options.actionTimeoutMs ?? 120_000,
  };
  return {
    name: 'hetzner',
    client,
    concurrency: options.concurrency ?? 4,
    kinds: buildKinds(hetznerKinds, rt),
    endpoint: { url: client.endpoint, setting: 'HCLOUD_ENDPOINT' },
    rateBudget: () => client.budget.snapshot(),
  };
}

/** The Hetzner Cloud provider module: unavailable (with the reason) when no token is configured. */
export const hetznerModule: ProviderModule = {
  name: 'hetzner',
  schemas: hetznerSchemas,
  create({ env, log }) {
    const config = readHetznerConfig(env);
    if ('unavailable' in config) return config;
    log.info({ endpoint: config.endpoint }, 'hetzner provider configured');
    return createHetznerProvider({ endpoint: config.endpoint, token: config.token });
  },
  // Imported only when a simulator is started: validate and plan never load simulator code.
  simulator: {
    start: async (options) => (await import('./simulator/entry.ts')).hetznerSimulatorEntry.start(options),
  },
};
