import type { KindSchema } from './schema.ts';

/** Per-resource drift policy. `enforce` heals drift, `observe` only reports it, `paused` leaves it alone. */
export type Policy = 'enforce' | 'observe' | 'paused';

/** Where a document came from, for diagnostics. Lines and columns are 1-based. */
export interface SourceLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** One desired resource as loaded from Git (references not yet resolved). */
export interface DesiredResource {
  /** `kind/name`, unique in a revision. */
  readonly key: string;
  readonly kind: string;
  readonly name: string;
  /** Provider name: the part of `kind` before the dot. */
  readonly provider: string;
  readonly spec: Readonly<Record<string, unknown>>;
  /** Default `enforce`. */
  readonly policy: Policy;
  /** Never deleted by keelson, not even when it leaves Git. Default false. */
  readonly protect: boolean;
  /** A stateful resource may be replaced only when this is true. Default false. */
  readonly allowReplace: boolean;
  /** Take over an existing resource of the same name that keelson does not own. Default false. */
  readonly adopt: boolean;
  /** Keys of resources this one depends on (explicit `dependsOn` plus references). */
  readonly dependsOn: readonly string[];
  readonly source?: SourceLocation;
  /** Set on resources expanded from a composite (a `swarm.Stack`): the composite's key. */
  readonly parent?: string;
  /** Set when the load-time build of its artifact failed (file:line and why): the plan skips it. */
  readonly buildError?: string;
}

/**
 * A desired resource with every reference and secret reference resolved, as handed to
 * create/update. Secrets are `SecretValue`s.
 */
export interface ResolvedResource extends DesiredResource {
  readonly spec: Readonly<Record<string, unknown>>;
}

/** Live state of one resource as a handler reports it. */
export interface ObservedResource {
  readonly key: string;
  readonly kind: string;
  readonly name: string;
  /** The vendor's id. */
  readonly id: string;
  /** Carries keelson's ownership marker for this instance (label, tag, comment, or inventory). */
  readonly owned: boolean;
  /**
   * Live values in the same shape as the desired spec, normalised so that a converged resource
   * compares equal. Sensitive write-only fields appear as `SecretDigest`s.
   */
  readonly spec: Readonly<Record<string, unknown>>;
  readonly outputs: Readonly<Record<string, unknown>>;
  /** False while the vendor is still working on it (an async action, a rolling update). */
  readonly ready: boolean;
  /** Why it is not ready, or a status worth showing. */
  readonly message?: string;
  /** Protected at the vendor (Hetzner delete protection), or by keelson's own labels. */
  readonly protect?: boolean;
  /**
   * The spec of the vendor's last change that failed and was undone (a Swarm rolling update that
   * rolled back), in the same shape as `spec`, and why. The planner does not send that spec again:
   * it would be undone again (`rolled-back`).
   */
  readonly rolledBack?: { readonly spec: Readonly<Record<string, unknown>>; readonly message: string };
}

/** A kind's schema together with its handler: what a provider registers. */
export interface KindDefinition<H = unknown> {
  readonly schema: KindSchema;
  readonly handler: H;
}

export function resourceKey(kind: string, name: string): string {
  return `${kind}/${name}`;
}

export function splitKey(key: string): { kind: string; name: string } {
  const slash = key.indexOf('/');
  if (slash < 0) return { kind: key, name: '' };
  return { kind: key.slice(0, slash), name: key.slice(slash + 1) };
}

export function providerOf(kind: string): string {
  const dot = kind.indexOf('.');
  return dot < 0 ? kind : kind.slice(0, dot);
}
