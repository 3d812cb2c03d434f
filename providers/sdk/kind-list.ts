import type { CompositeExpander, ProviderKind, ResourceHandler } from './handler.ts';
import type { KindSchema } from './schema.ts';

/**
 * One entry of a provider's list of kinds, the one place a kind is registered: its schema and
 * either how to build its handler from what the provider's handlers share (`S`: the client, the
 * rate budget, the operation tracker) or, for a composite kind, its expander. The module's
 * `schemas` and `expanders` and the provider's `kinds` are all derived from this list.
 */
export type KindEntry<S> =
  | { readonly schema: KindSchema; readonly handler: (shared: S) => ResourceHandler }
  | { readonly schema: KindSchema; readonly expander: CompositeExpander };

/** The schemas of a kind list, in its order (for `ProviderModule.schemas`). */
export function schemasOf<S>(kinds: readonly KindEntry<S>[]): KindSchema[] {
  return kinds.map((k) => k.schema);
}

/** The expanders of a kind list's composite kinds, by kind (for `ProviderModule.expanders`). */
export function expandersOf<S>(kinds: readonly KindEntry<S>[]): Record<string, CompositeExpander> {
  const out: Record<string, CompositeExpander> = {};
  for (const k of kinds) if ('expander' in k) out[k.schema.kind] = k.expander;
  return out;
}

/** The provider's kinds, each handler built once on what the handlers share (for `Provider.kinds`). */
export function buildKinds<S>(kinds: readonly KindEntry<S>[], shared: S): ProviderKind[] {
  return kinds.map((k) =>
    'expander' in k ? { schema: k.schema, expander: k.expander } : { schema: k.schema, handler: k.handler(shared) },
  );
}
