import type { ProviderModule } from '../../providers/sdk/index.ts';
import { loadProviderModules } from './catalogue.ts';

/**
 * Every built-in provider module, loaded at once (the daemon and tests). The list itself is
 * `providerCatalogue` (catalogue.ts); the CLI loads from it only what a tree uses.
 */
export const builtinModules: readonly ProviderModule[] = await loadProviderModules();
