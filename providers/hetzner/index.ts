import type { Provider, ProviderModule } from '../sdk/index.ts';
import { ActionTracker } from './client/action-tracker.ts';
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

/** Every Hetzner kind's schema, in dependency-friendly order (what others reference comes first). */
export const hetznerSchemas = [
  sshKeySchema,
  networkSchema,
  placementGroupSchema,
  imageSchema,
  firewallSchema,
  serverSchema,
  volumeSchema,
];

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
    actions: new ActionTracker(),
    actionTimeoutMs: options.actionTimeoutMs ?? 120_000,
  };
  return {
    name: 'hetzner',
    client,
    concurrency: options.concurrency ?? 4,
    kinds: [
      { schema: sshKeySchema, handler: new SshKeyHandler(rt) },
      { schema: networkSchema, handler: new NetworkHandler(rt) },
      { schema: placementGroupSchema, handler: new PlacementGroupHandler(rt) },
      { schema: imageSchema, handler: new ImageHandler(rt) },
      { schema: firewallSchema, handler: new FirewallHandler(rt) },
      { schema: serverSchema, handler: new ServerHandler(rt) },
      { schema: volumeSchema, handler: new VolumeHandler(rt) },
    ],
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
};
