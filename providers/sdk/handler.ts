import type { FieldChange } from './diff.ts';
import type { ObservedResource, ResolvedResource } from './resource.ts';
import type { KindSchema } from './schema.ts';

/** Minimal structured logger (pino-compatible). Never pass a secret value to it. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/**
 * Inventory for resources whose API cannot carry labels (R2 buckets, Worker secrets): the handler
 * records what it created, and what digest it last wrote, in keelson's state store.
 */
export interface InventoryAccess {
  /** Recorded entry for this key, if keelson created or adopted it. */
  get(key: string): InventoryEntry | undefined;
  /** Every recorded entry of a kind. */
  list(kind: string): InventoryEntry[];
  set(entry: InventoryEntry): Promise<void>;
  remove(key: string): Promise<void>;
}

export interface InventoryEntry {
  readonly key: string;
  readonly kind: string;
  readonly id: string;
  /** Free-form data the handler needs (e.g. a secret's digest). Never a secret value. */
  readonly data?: Readonly<Record<string, unknown>>;
}

/** What every handler call receives. */
export interface HandlerContext {
  /** This keelson instance's owner id; goes into ownership labels (`keelson.io/owner`). */
  readonly owner: string;
  readonly log: Logger;
  readonly signal: AbortSignal;
  readonly inventory: InventoryAccess;
}

/** What observe is asked for: the names Git wants, so unowned resources of those names are seen too. */
export interface ObserveQuery {
  readonly kind: string;
  /** Names of the desired resources of this kind (may be empty). */
  readonly names: readonly string[];
  /** Desired resources of this kind with references resolved as far as known (for lookups). */
  readonly desired: readonly ResolvedResource[];
}

/**
 * One handler per kind (Crossplane's ExternalClient). All verbs are idempotent:
 * - `observe` is read-only and list-based: it returns every resource of the kind that keelson owns
 *   plus any resource (owned or not) whose name is in `query.names`. API calls grow with pages,
 *   never with the number of resources.
 * - `create` of something that already exists and is ours returns it.
 * - `update` changes only what `changes` lists.
 * - `delete` of something already gone succeeds.
 * - Long operations return at once; the next observe shows them with `ready: false`.
 */
export interface ResourceHandler {
  observe(ctx: HandlerContext, query: ObserveQuery): Promise<ObservedResource[]>;
  create(ctx: HandlerContext, desired: ResolvedResource): Promise<ObservedResource>;
  update(
    ctx: HandlerContext,
    desired: ResolvedResource,
    observed: ObservedResource,
    changes: readonly FieldChange[],
  ): Promise<ObservedResource>;
  delete(ctx: HandlerContext, observed: ObservedResource): Promise<void>;
  /**
   * Optional: wait until a just-applied resource settles (a Swarm rolling update). Throws a
   * `KeelsonError` (ROLLBACK, UPDATE_PAUSED, TIMEOUT) when it does not. Resolves `'unconfirmed'`
   * when it deliberately did not wait (the resource runs keelson itself, so the waiter would be
   * the task being replaced): the change is sent but not recorded as applied; a later pass that
   * finds the resource ready and matching Git records it.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: handlers that always wait keep resolving void
  settle?(ctx: HandlerContext, applied: ObservedResource): Promise<void | 'unconfirmed'>;
  /**
   * Optional: normalise a desired spec the way the API would store it (defaults, ordering,
   * TTL 1 = auto), so that a converged resource plans as no-op. Must be pure.
   */
  normalize?(spec: Readonly<Record<string, unknown>>): Record<string, unknown>;
  /** Optional: delete leftovers no longer used (old secret versions), after a pass. */
  collectGarbage?(ctx: HandlerContext): Promise<void>;
  /**
   * Optional, read-only: resolves the look-ups the desired resources need (a zone, an image, a
   * location, a server type) while observing, and returns, per resource key, why one cannot be
   * resolved. Such a resource is left alone by the plan (skipped with the reason, never created,
   * never replaced), so a typo never deletes what cannot be made again.
   */
  preflight?(ctx: HandlerContext, desired: readonly ResolvedResource[]): Promise<Readonly<Record<string, string>>>;
}

/**
 * Builds what a plan must compare but cannot read itself (a Worker's bundle, a Cloud Function's
 * source archive), at load time, before planning: the planner stays pure (no file reads, no
 * bundler). Runs without credentials (`keelson validate` and `plan` use it). A builder caches by
 * content, so an unchanged source costs a hash, not a build.
 */
export interface ArtifactBuilder {
  /**
   * The spec field naming the source folder, relative to the repository root (`source`). The
   * loader checks it before building: a path that leaves the checkout (`/etc`, `../..`, a link out
   * of it) or a folder that is not there is an error with file:line, and nothing is read.
   */
  readonly sourceField?: string;
  /**
   * Returns the spec fields the build decides (e.g. `bundleHash`), merged into the desired spec.
   * Throws a `BuildError` (with the source file and line when known) when the source does not
   * build: that resource is skipped and reported; the rest of the revision goes on.
   */
  build(spec: Readonly<Record<string, unknown>>, ctx: BuildContext): BuiltArtifact;
}

export interface BuildContext {
  /** The root of the checked-out repository (sources are resolved against it). */
  readonly root: string;
  /** The resource key, for messages. */
  readonly resource: string;
}

export interface BuiltArtifact {
  /** Content hash of the artifact (what decides whether an upload is needed). */
  readonly hash: string;
  /** Fields merged into the desired spec (the plan compares them with the live ones). */
  readonly fields: Readonly<Record<string, unknown>>;
}

/** A source that does not build, with where (relative to the repository root) when known. */
export class BuildError extends Error {
  readonly file: string | undefined;
  readonly line: number | undefined;
  readonly column: number | undefined;

  constructor(message: string, where: { file?: string; line?: number; column?: number } = {}) {
    super(message);
    this.name = 'BuildError';
    this.file = where.file;
    this.line = where.line;
    this.column = where.column;
  }
}

/** Turns a composite kind (a `swarm.Stack`) into the resources it stands for, at load time. */
export interface CompositeExpander {
  expand(
    resource: { readonly name: string; readonly spec: Readonly<Record<string, unknown>> },
    io: ExpandIO,
  ): ExpandedDocument[];
}

export interface ExpandIO {
  /** The root of the checked-out repository (charts live in `charts/`). */
  readonly root: string;
  readFile(path: string): string;
}

export interface ExpandedDocument {
  readonly kind: string;
  readonly name: string;
  readonly spec: Record<string, unknown>;
  readonly dependsOn?: readonly string[];
}

/** A provider plugin: a set of kinds sharing one client, rate budget and queue. */
export interface Provider {
  /** `swarm`, `hetzner`, `cloudflare`, `gcp`: the prefix of its kinds. */
  readonly name: string;
  readonly kinds: readonly ProviderKind[];
  /** Concurrent write calls allowed (one p-queue per provider). */
  readonly concurrency: number;
  /** Checks that the provider can be reached; throws a `KeelsonError` (UNAVAILABLE) if not. */
  connect?(ctx: HandlerContext): Promise<void>;
  /**
   * The API endpoint the provider talks to and the setting that chooses it (`HCLOUD_ENDPOINT`), for
   * the one error of a pass in which the endpoint cannot be reached at all (`connectFailure`).
   * Never put user info or a query in `url`; messages show only scheme, host, port and path.
   */
  readonly endpoint?: { readonly url: string; readonly setting: string };
  /**
   * Only for a provider whose endpoint belongs to this replica alone (the Swarm provider's local
   * Docker Engine), not for a cloud API that every replica reaches alike: throws when that endpoint
   * does not answer. The leader lease consults it: a leader whose own endpoint is gone steps down,
   * and a replica in that state does not claim the lease, because a replica on another node may
   * still reach its own. Should settle within `timeoutMs` (the caller counts a later answer as a
   * failure).
   */
  localHealth?(timeoutMs: number): Promise<void>;
  /** Remaining rate budget, for metrics; undefined when the vendor does not say. */
  rateBudget?(): { remaining: number; limit: number } | undefined;
  close?(): Promise<void>;
}

export interface ProviderKind {
  readonly schema: KindSchema;
  readonly handler?: ResourceHandler;
  /** Composite kinds are expanded at load time and have no handler. */
  readonly expander?: CompositeExpander;
}
