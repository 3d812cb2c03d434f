import {
  connectFailure,
  type DesiredResource,
  type ErrorCode,
  endpointForMessage,
  errorMessage,
  type HandlerContext,
  KeelsonError,
  type ObservedResource,
  type Provider,
  type ResolvedResource,
} from '../../providers/sdk/index.ts';
import { type RetryPolicy, withRetry } from '../apply/retry.ts';
import { desiredSpec, type SpecInput } from '../plan/plan.ts';
import type { ProviderRegistry } from '../providers/registry.ts';

export interface ObserveResult {
  readonly observed: Map<string, ObservedResource>;
  /** kind -> why its live state could not be read. */
  readonly unobservable: Map<string, string>;
  /** Desired key -> why a look-up it needs failed (`ResourceHandler.preflight`). */
  readonly lookupFailed: Map<string, string>;
  readonly errors: { kind: string; provider: string; code: ErrorCode; message: string; retryAfterMs?: number }[];
}

/** The provider of a kind (`hetzner.Server` -> `hetzner`). */
function providerOf(kind: string): string {
  return kind.split('.')[0] ?? kind;
}

/**
 * Providers this pass has any business with: those of desired resources, and those keelson has
 * applied, tracked or started creating something on (owned resources that may have left Git).
 * A provider with neither is not connected to nor observed at all, so a provider that is
 * configured but unusable on this machine cannot fail a pass that does not need it.
 */
export function providersInUse(
  resources: readonly Pick<DesiredResource, 'kind'>[],
  state: {
    readonly applied: Readonly<Record<string, unknown>>;
    readonly inventory: Readonly<Record<string, { readonly kind: string }>>;
    readonly journal: Readonly<Record<string, { readonly kind: string }>>;
  },
): Set<string> {
  const used = new Set(resources.map((r) => providerOf(r.kind)));
  for (const key of Object.keys(state.applied)) used.add(providerOf(key.slice(0, key.indexOf('/'))));
  for (const e of Object.values(state.inventory)) used.add(providerOf(e.kind));
  for (const e of Object.values(state.journal)) used.add(providerOf(e.kind));
  return used;
}

/**
 * Reads live state: one `observe` per kind (list calls inside), for every kind with desired
 * resources and every kind of an available provider in use (to find owned resources that left Git).
 * Providers are observed in parallel, kinds of one provider one after another.
 */
export async function observeAll(options: {
  readonly resources: readonly DesiredResource[];
  readonly registry: ProviderRegistry;
  readonly context: (provider: string) => HandlerContext;
  readonly planInput: SpecInput;
  readonly retry: RetryPolicy;
  readonly signal?: AbortSignal;
  /** Only these kinds (default: all). */
  readonly kinds?: ReadonlySet<string>;
  /** Only these providers (default: all); see `providersInUse`. */
  readonly providers?: ReadonlySet<string>;
  /**
   * Live state already known (the pass's), used only to resolve references of the desired specs
   * handed to `observe` when the kinds they point at are not observed again here (`kinds`).
   * What this call observes wins. Default none.
   */
  readonly known?: ReadonlyMap<string, ObservedResource>;
}): Promise<ObserveResult> {
  const { registry } = options;
  const observed = new Map<string, ObservedResource>();
  const unobservable = new Map<string, string>();
  const lookupFailed = new Map<string, string>();
  const errors: ObserveResult['errors'] = [];
  const byKind = new Map<string, DesiredResource[]>();
  for (const r of options.resources) byKind.set(r.kind, [...(byKind.get(r.kind) ?? []), r]);

  const kindsByProvider = new Map<string, string[]>();
  const allKinds = new Set([
    ...byKind.keys(),
    ...registry.providers().flatMap((p) => p.kinds.filter((k) => k.handler).map((k) => k.schema.kind)),
  ]);
  for (const kind of allKinds) {
    if (options.kinds && !options.kinds.has(kind)) continue;
    if (registry.expander(kind)) continue;
    const provider = providerOf(kind);
    if (options.providers && !options.providers.has(provider)) continue;
    kindsByProvider.set(provider, [...(kindsByProvider.get(provider) ?? []), kind]);
  }

  await Promise.all(
    [...kindsByProvider].map(async ([provider, kinds]) => {
      const why = registry.unavailable(provider);
      const available = registry.provider(provider);
      if (!available) {
        for (const kind of kinds) unobservable.set(kind, why ?? `provider ${provider} is not available`);
        return;
      }
      const ctx = options.context(provider);
      if (available.connect) {
        try {
          await available.connect(ctx);
        } catch (error) {
          const down = connectFailure(error);
          const message = down
            ? unreachableMessage(available, down)
            : `provider ${provider} is not reachable: ${errorMessage(error)}`;
          for (const kind of kinds) unobservable.set(kind, message);
          errors.push({ kind: kinds.join(','), provider, code: 'UNAVAILABLE', message });
          return;
        }
      }
      // A connection-level failure (nothing listens, DNS, TLS, connect timeout) ends the provider's
      // observe for this pass: it is not retried kind after kind, its resources are skipped (their
      // kinds unobservable, so nothing of it looks gone) and the next pass tries again.
      const notRetried = (error: unknown): boolean => connectFailure(error) !== undefined;
      for (const [index, kind] of kinds.entries()) {
        const handler = registry.handler(kind);
        if (!handler) {
          unobservable.set(kind, `provider ${provider} has no handler for ${kind}`);
          continue;
        }
        const desired = byKind.get(kind) ?? [];
        const references = options.known ? new Map([...options.known, ...observed]) : observed;
        const resolved: ResolvedResource[] = desired.map((r) => ({
          ...r,
          spec: desiredSpec({ ...options.planInput, observed: references }, r).spec,
        }));
        try {
          const found = await withRetry(
            () => handler.observe(ctx, { kind, names: desired.map((r) => r.name), desired: resolved }),
            options.retry,
            options.signal,
            notRetried,
          );
          for (const o of found) observed.set(o.key, o);
          if (handler.preflight && resolved.length > 0) {
            const preflight = handler.preflight.bind(handler);
            const failed: Readonly<Record<string, string>> = await withRetry(
              () => preflight(ctx, resolved),
              options.retry,
              options.signal,
              notRetried,
            );
            for (const [key, why] of Object.entries(failed)) lookupFailed.set(key, why);
          }
        } catch (error) {
          const down = connectFailure(error);
          if (down) {
            const message = unreachableMessage(available, down);
            const rest = kinds.slice(index);
            for (const k of rest) unobservable.set(k, message);
            errors.push({ kind: rest.join(','), provider, code: 'UNAVAILABLE', message });
            return;
          }
          const message = `cannot observe ${kind}: ${errorMessage(error)}`;
          unobservable.set(kind, message);
          const known = error instanceof KeelsonError ? error : undefined;
          errors.push({
            kind,
            provider,
            code: known?.code ?? 'API_ERROR',
            message,
            ...(known?.retryAfterMs === undefined ? {} : { retryAfterMs: known.retryAfterMs }),
          });
        }
      }
    }),
  );
  return { observed, unobservable, errors, lookupFailed };
}

/**
 * The one error of a pass in which a provider's API cannot be reached at all: the provider, its
 * endpoint (never user info or a query), why, and what to check.
 */
export function unreachableMessage(provider: Pick<Provider, 'name' | 'endpoint'>, why: string): string {
  const { name, endpoint } = provider;
  const at = endpoint ? ` at ${endpointForMessage(endpoint.url)}` : '';
  const setting = endpoint ? `that ${endpoint.setting} is right` : `that ${name}'s endpoint is right`;
  return (
    `provider ${name} cannot be reached${at}: ${why}; check ${setting}, that this machine can reach it ` +
    `(DNS, firewall, proxy, TLS certificates) and whether the vendor's API is down. Its resources are ` +
    `skipped this pass and nothing of it is deleted; the next pass tries again`
  );
}
