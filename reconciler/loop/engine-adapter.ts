import { loadDesiredState } from '../desired/load.ts';
import { runPass } from '../engine/pass.ts';
import { type SecretSource, secretNames } from '../engine/secrets.ts';
import type { ProviderRegistry } from '../providers/registry.ts';
import type { StateStore } from '../state/types.ts';
import type { EnginePassOutcome, EnginePort } from './engine-port.ts';

/** The real engine (`loadDesiredState` + `runPass`) behind the daemon's `EnginePort`. */
export function engineAdapter(options: {
  readonly registry: ProviderRegistry;
  readonly store: StateStore;
  readonly owner: string;
  readonly secrets: SecretSource;
  readonly deletionBudget: number;
}): EnginePort {
  const { registry } = options;
  return {
    load(dir, root) {
      const loaded = loadDesiredState(dir, registry, { root });
      return { resources: loaded.resources, diagnostics: loaded.diagnostics };
    },
    async runPass({ resources, revision, mode, signal, log, drift, now, onRecord }): Promise<EnginePassOutcome> {
      await options.secrets.prepare?.(secretNames(resources), signal);
      const result = await runPass({
        resources,
        revision,
        registry,
        store: options.store,
        owner: options.owner,
        mode,
        record: true,
        drift,
        now,
        ...(onRecord ? { onRecord } : {}),
        deletionBudget: options.deletionBudget,
        secrets: options.secrets,
        log,
        signal,
      });
      options.secrets.completed?.();
      const unobservableKinds = new Set(Object.keys(result.unobservable));
      for (const e of result.errors) {
        if (e.severity === 'warning') log.warn({ revision, resource: e.key, code: e.code }, e.message);
      }
      return {
        plan: result.plan,
        applied: result.results.map((r) => ({
          key: r.key,
          kind: r.kind,
          provider: r.provider,
          action: r.action,
          status: r.status,
        })),
        errors: result.errors
          .filter((e) => e.severity === 'error')
          .map((e) => ({
            code: e.code,
            class: e.class,
            message: e.message,
            ...(e.key ? { resource: e.key } : {}),
            ...(e.provider ? { provider: e.provider } : {}),
          })),
        unobservableKinds,
        ...(result.drift ? { drift: result.drift } : {}),
        timings: result.timings,
        ...(result.requeueAfterMs === undefined ? {} : { requeueAfterMs: result.requeueAfterMs }),
      };
    },
    kinds() {
      return registry
        .schemas()
        .filter((s) => s.kind.includes('.'))
        .map((s) => ({ provider: s.kind.slice(0, s.kind.indexOf('.')), kind: s.kind }));
    },
    rateBudgets() {
      const out: Record<string, number> = {};
      for (const p of registry.providers()) {
        const budget = p.rateBudget?.();
        if (budget) out[p.name] = budget.remaining;
      }
      return out;
    },
    unavailableProviders() {
      return registry.unavailableProviders();
    },
  };
}
