import type { ArtifactBuilder, CompositeExpander, Logger, Provider } from './handler.ts';
import type { KindSchema } from './schema.ts';

/** What a provider module exports: its schemas (always available, for validation and editors) and a factory. */
export interface ProviderModule {
  readonly name: string;
  readonly schemas: readonly KindSchema[];
  /** Composite kinds (a `swarm.Stack`) expanded at load time. */
  readonly expanders?: Readonly<Record<string, CompositeExpander>>;
  /** Load-time builders of artifacts a plan compares (a Worker's bundle), by kind. */
  readonly builders?: Readonly<Record<string, ArtifactBuilder>>;
  /**
   * Builds the provider from the environment (endpoints, credential files). Returns a sentence
   * saying why it is unavailable (e.g. "HCLOUD_TOKEN is not set") instead of throwing, so one
   * missing provider never blocks the others.
   */
  create(options: ProviderOptions): Provider | { readonly unavailable: string };
  /** The provider's stateful fake of the vendor API, when it has one (Swarm has none: it runs for real). */
  readonly simulator?: SimulatorEntry;
}

export interface ProviderOptions {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly log: Logger;
}

/** A provider's simulator, runnable standalone (`keelson simulate NAME`), by the demo and by tests. */
export interface SimulatorEntry {
  start(options: { port?: number; statePath?: string; log?: Logger }): Promise<RunningSimulator>;
}

export interface RunningSimulator {
  /** The environment a client needs to talk to the simulator (`HCLOUD_ENDPOINT`, ...). */
  readonly env: Readonly<Record<string, string>>;
  close(): Promise<void>;
}
