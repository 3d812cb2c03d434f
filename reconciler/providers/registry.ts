import type {
  ArtifactBuilder,
  CompositeExpander,
  KindSchema,
  Provider,
  ProviderModule,
  ProviderOptions,
  ResourceHandler,
} from '../../providers/sdk/index.ts';

export type { ProviderModule, ProviderOptions };

/** The kinds keelson knows, and the providers that can act on them in this process. */
export class ProviderRegistry {
  readonly #schemas = new Map<string, KindSchema>();
  readonly #expanders = new Map<string, CompositeExpander>();
  readonly #builders = new Map<string, ArtifactBuilder>();
  readonly #providers = new Map<string, Provider>();
  readonly #unavailable = new Map<string, string>();

  constructor(
    modules: readonly ProviderModule[],
    providers: readonly Provider[] = [],
    unavailable: Record<string, string> = {},
  ) {
    for (const m of modules) {
      for (const s of m.schemas) this.#schemas.set(s.kind, s);
      for (const [kind, e] of Object.entries(m.expanders ?? {})) this.#expanders.set(kind, e);
      for (const [kind, b] of Object.entries(m.builders ?? {})) this.#builders.set(kind, b);
    }
    for (const p of providers) {
      this.#providers.set(p.name, p);
      for (const k of p.kinds) {
        if (!this.#schemas.has(k.schema.kind)) this.#schemas.set(k.schema.kind, k.schema);
        if (k.expander) this.#expanders.set(k.schema.kind, k.expander);
      }
    }
    for (const [name, why] of Object.entries(unavailable)) this.#unavailable.set(name, why);
  }

  /** Builds every module's provider from the environment; unavailable ones are recorded with their reason. */
  static create(modules: readonly ProviderModule[], options: ProviderOptions): ProviderRegistry {
    const providers: Provider[] = [];
    const unavailable: Record<string, string> = {};
    for (const m of modules) {
      const made = m.create(options);
      if ('unavailable' in made) unavailable[m.name] = made.unavailable;
      else providers.push(made);
    }
    return new ProviderRegistry(modules, providers, unavailable);
  }

  schema(kind: string): KindSchema | undefined {
    return this.#schemas.get(kind);
  }

  schemas(): KindSchema[] {
    return [...this.#schemas.values()].sort((a, b) => a.kind.localeCompare(b.kind));
  }

  expander(kind: string): CompositeExpander | undefined {
    return this.#expanders.get(kind);
  }

  /** The load-time artifact builder of a kind (a Worker's bundle), if it has one. */
  builder(kind: string): ArtifactBuilder | undefined {
    return this.#builders.get(kind);
  }

  provider(name: string): Provider | undefined {
    return this.#providers.get(name);
  }

  providers(): Provider[] {
    return [...this.#providers.values()];
  }

  handler(kind: string): ResourceHandler | undefined {
    const dot = kind.indexOf('.');
    const provider = this.#providers.get(dot < 0 ? kind : kind.slice(0, dot));
    return provider?.kinds.find((k) => k.schema.kind === kind)?.handler;
  }

  /** Why a provider cannot act here (not configured, not reachable), if it cannot. */
  unavailable(name: string): string | undefined {
    return this.#unavailable.get(name);
  }

  unavailableProviders(): Record<string, string> {
    return Object.fromEntries(this.#unavailable);
  }
}
