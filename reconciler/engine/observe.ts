import {
  type DesiredResource,
  type ErrorCode,
  errorMessage,
  type HandlerContext,
  KeelsonError,
  type ObservedResource,
  type ResolvedResource,
} from '../../providers/sdk/index.ts';
import { type RetryPolicy, withRetry } from '../apply/retry.ts';
import { desiredSpec, type SpecInput } from '../plan/plan.ts';
import type { ProviderRegistry } from '../providers/registry.ts';

export interface ObserveResult {
  readonly observed: Map<string, ObservedResource>;
  /** kind -> why its live state could not be read. */
  readonly unobservable: Map<string, string>;
  readonly errors: { kind: string; provider: string; code: ErrorCode; message: string; retryAfterMs?: number }[];
}

/**
 * Reads live state: one `observe` per kind (list calls inside), for every kind with desired
 * resources and every kind of an available provider (to find owned resources that left Git).
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
}): Promise<ObserveResult> {
  const { registry } = options;
  const observed = new Map<string, ObservedResource>();
  const unobservable = new Map<string, string>();
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
    const provider = kind.split('.')[0] ?? kind;
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
          const message = `provider ${provider} is not reachable: ${errorMessage(error)}`;
          for (const kind of kinds) unobservable.set(kind, message);
          errors.push({ kind: kinds.join(','), provider, code: 'UNAVAILABLE', message });
          return;
        }
      }
      for (const kind of kinds) {
        const handler = registry.handler(kind);
        if (!handler) {
          unobservable.set(kind, `provider ${provider} has no handler for ${kind}`);
          continue;
        }
        const desired = byKind.get(kind) ?? [];
        const resolved: ResolvedResource[] = desired.map((r) => ({
          ...r,
          spec: desiredSpec({ ...options.planInput, observed }, r).spec,
        }));
        try {
          const found = await withRetry(
            () => handler.observe(ctx, { kind, names: desired.map((r) => r.name), desired: resolved }),
            options.retry,
            options.signal,
          );
          for (const o of found) observed.set(o.key, o);
        } catch (error) {
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
  return { observed, unobservable, errors };
}
