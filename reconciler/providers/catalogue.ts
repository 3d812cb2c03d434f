import { readFileSync } from 'node:fs';
import type { ProviderModule } from '../../providers/sdk/index.ts';

/**
 * The providers built into keelson, each loaded on demand: `keelson validate` and `keelson plan`
 * import only the providers a tree uses, so validating a Swarm-only tree never loads the
 * Cloudflare SDK (and no provider loads its vendor client before it is created). Each provider
 * adds its one line here.
 */
export const providerCatalogue: Readonly<Record<string, () => Promise<ProviderModule>>> = {
  hetzner: async () => (await import('../../providers/hetzner/index.ts')).hetznerModule,
  cloudflare: async () => (await import('../../providers/cloudflare/index.ts')).cloudflareModule,
  swarm: async () => (await import('../../providers/swarm/index.ts')).swarmModule,
  gcp: async () => (await import('../../providers/gcp/index.ts')).gcpModule,
};

/** Loads the named providers' modules (all of them when `names` is undefined), in catalogue order. */
export async function loadProviderModules(names?: ReadonlySet<string>): Promise<ProviderModule[]> {
  const wanted = Object.entries(providerCatalogue).filter(([name]) => names === undefined || names.has(name));
  return Promise.all(wanted.map(([, load]) => load()));
}

/**
 * The providers the YAML files use, from a scan of their `kind:` lines (no parse). Undefined when a
 * kind names no known provider: then every provider is loaded, so the loader can suggest a kind.
 */
export function providersUsedBy(files: readonly string[]): Set<string> | undefined {
  const used = new Set<string>();
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const m of text.matchAll(/^kind:\s*["']?([^\s"'#]+)/gm)) {
      const kind = m[1] ?? '';
      const provider = kind.slice(0, kind.indexOf('.'));
      if (!Object.hasOwn(providerCatalogue, provider)) return undefined;
      used.add(provider);
    }
  }
  return used;
}
