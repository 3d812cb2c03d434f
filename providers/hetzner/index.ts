import type { ProviderModule } from '../../reconciler/providers/registry.ts';
import { readHetznerConfig } from './client/config.ts';
import { createHetznerProvider, hetznerSchemas } from './provider.ts';

export { createHetznerProvider, type HetznerProviderOptions, hetznerSchemas } from './provider.ts';

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
