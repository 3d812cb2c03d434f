import { type DesiredResource, ERRORS } from '../../../providers/sdk/index.ts';
import { buildGraph } from '../../desired/graph.ts';
import { planChanges } from '../../plan/plan.ts';
import type { SkipReason } from '../../plan/types.ts';
import type { ProviderRegistry } from '../../providers/registry.ts';
import type { Pass, PassError, PassStep } from '../pass-types.ts';

/** Skips that are errors of the pass (the others are choices: paused, observe policy, protected...). */
const SKIP_ERRORS: Partial<Record<SkipReason, PassError['code']>> = {
  unowned: 'CONFLICT_UNOWNED',
  'missing-secret': 'INVALID_SPEC',
  'replace-refused': 'REPLACE_REFUSED',
  'build-failed': 'BUILD_FAILED',
  'lookup-failed': 'NOT_FOUND',
  'rolled-back': 'ROLLBACK',
};

/** Plans (pure) and reports what the plan refused or could not do. */
export const planStep: PassStep = async (pass) => {
  const { input, keeper } = pass;
  const state = keeper.data;
  // An interrupted create whose kind cannot be observed is held back (it is not created twice).
  const heldBack = (r: { key: string; kind: string }): boolean =>
    state.journal[r.key] !== undefined && pass.unobservable.has(r.kind);
  const inScope = scoped(input.resources, input.scope?.kinds);
  const desired = inScope.some(heldBack) ? inScope.filter((r) => !heldBack(r)) : inScope;
  const graph = graphOf(inScope);
  pass.plan = planChanges({
    ...pass.specInput,
    revision: input.revision,
    desired,
    waveOf: graph.waveOf,
    observed: input.scope && !input.scope.prune ? withoutPrunable(pass.observed, inScope) : pass.observed,
    unobservable: pass.unobservable,
    lookupFailed: pass.lookupFailed,
    applied: state.applied,
    unstable: state.unstable ?? {},
    deletionBudget: input.deletionBudget,
    kindOrder: (kind) => kindOrder(input.registry, kind),
  });

  const unavailable = new Map<string, { count: number; why: string }>();
  for (const c of pass.plan.changes) {
    if (c.action !== 'skip' || !c.reason) continue;
    const code = SKIP_ERRORS[c.reason];
    if (code) {
      const error = { code, key: c.key, kind: c.kind, provider: c.provider, message: c.detail ?? c.key };
      pass.errors.push({ ...error, severity: 'error', class: 'terminal' });
    }
    if (c.reason === 'provider-unavailable') {
      const before = unavailable.get(c.provider);
      const why = pass.unobservable.get(c.kind) ?? `provider ${c.provider} is not available`;
      unavailable.set(c.provider, { count: (before?.count ?? 0) + 1, why: before?.why ?? why });
    }
  }
  // One warning per provider, not one per resource: the cause is the same for all of them.
  for (const [provider, { count, why }] of unavailable) {
    pass.errors.push({
      code: 'UNAVAILABLE',
      provider,
      severity: 'warning',
      class: 'transient',
      message: ERRORS.UNAVAILABLE.message(count, provider, why),
    });
  }
  // Apply exactly the plan that was shown: a plan that came out different is refused whole.
  if (input.expectedPlan && !pass.plan.refused && !input.expectedPlan.matches(pass.plan)) {
    pass.plan = {
      ...pass.plan,
      refused: {
        code: 'plan-stale',
        message: ERRORS.PLAN_STALE.message('the desired state or the live state of a resource in the plan changed'),
      },
    };
  }
  if (pass.plan.refused) {
    pass.errors.push({
      code: pass.plan.refused.code === 'plan-stale' ? 'PLAN_STALE' : 'DELETION_BUDGET',
      severity: 'error',
      class: 'terminal',
      message: pass.plan.refused.message,
    });
  }
};

/** The resources of the scope's kinds (all of them without a scope). */
function scoped(resources: readonly DesiredResource[], kinds: ReadonlySet<string> | undefined) {
  return kinds && resources.some((r) => !kinds.has(r.kind)) ? resources.filter((r) => kinds.has(r.kind)) : resources;
}

/**
 * The live state with owned resources that are not desired shown as not keelson's, which the
 * planner never deletes (a scope without pruning). Desired ones are as observed.
 */
function withoutPrunable(observed: Pass['observed'], desired: readonly DesiredResource[]): Pass['observed'] {
  const keys = new Set(desired.map((r) => r.key));
  const out = new Map(observed);
  for (const [key, o] of observed) if (o.owned && !keys.has(key)) out.set(key, { ...o, owned: false });
  return out;
}

/** The dependency graph of a revision's resources, built once for all its passes. */
const graphs = new WeakMap<readonly DesiredResource[], ReturnType<typeof buildGraph>>();
function graphOf(resources: readonly DesiredResource[]): ReturnType<typeof buildGraph> {
  let graph = graphs.get(resources);
  if (!graph) {
    graph = buildGraph(resources);
    graphs.set(resources, graph);
  }
  return graph;
}

/** Position of a kind in its provider's list of kinds: deletes run in reverse of it. */
function kindOrder(registry: ProviderRegistry, kind: string): number {
  const provider = registry.provider(kind.split('.')[0] ?? kind);
  const index = provider?.kinds.findIndex((k) => k.schema.kind === kind) ?? -1;
  return Math.max(0, index);
}
