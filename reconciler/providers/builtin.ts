import { cloudflareModule } from '../../providers/cloudflare/index.ts';
import { gcpModule } from '../../providers/gcp/index.ts';
import { hetznerModule } from '../../providers/hetzner/index.ts';
import { swarmModule } from '../../providers/swarm/index.ts';
import type { ProviderModule } from './registry.ts';

/**
 * The provider modules built into keelson. Each provider adds its one line here.
 */
export const builtinModules: readonly ProviderModule[] = [hetznerModule, cloudflareModule, swarmModule, gcpModule];
