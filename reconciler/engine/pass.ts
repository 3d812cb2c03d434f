import {
  type DesiredResource,
  diffSpec,
  type ErrorClass,
  errorMessage,
  type HandlerContext,
  type Logger,
  type ObservedResource,
} from '../../providers/sdk/index.ts';
import { type ApplyProgress, applyPlan, type ChangeResult } from '../apply/apply.ts';
import { DEFAULT_RETRY, type RetryPolicy } from '../apply/retry.ts';
import { buildGraph } from '../desired/graph.ts';
import { desiredSpec, type PlanInput, planChanges, specDigest } from '../plan/plan.ts';
import type { Plan } from '../plan/types.ts';
import type { ProviderRegistry } from '../providers/registry.ts';
import type { RunRecord, StateStore } from '../state/types.ts';
import { observeAll, providersInUse } from './observe.ts';
import { readSecrets, type SecretSource } from './secrets.ts';
import { StateKeeper } from './state-keeper.ts';

export interface PassInput {
  /** Valid desired resources (from `loadDesiredState`). */
  readonly resources: readonly DesiredResource[];
  readonly revision: string;
  readonly registry: ProviderRegistry;
  readonly store: StateStore;
  /** Owner id written into ownership labels. Default `keelson`. */
  readonly owner?: string;
  /** `plan` observes and plans only (writes nothing anywhere); `apply` also applies and records. */
  readonly mode: 'plan' | 'apply';
  /** Most deletes per pass before the plan is refused. Default 5. */
  readonly deletionBudget?: number;
  readonly secrets: SecretSource;
  readonly log: Logger;
  readonly signal?: AbortSignal;
  readonly retry?: RetryPolicy;
  readonly onProgress?: (event: ApplyProgress) => void;
}

/** A problem of the pass that is not a diagnostic of the desired state. */
export interface PassError {
  readonly code: string;
  readonly message: string;
  readonly key?: string;
  readonly kind?: string;
  readonly provider?: string;
  readonly severity: 'error' | 'warning';
  /** How to react: retry soon (transient), wait for a new revision (terminal), or retry later (waiting). */
  readonly class: ErrorClass;
}

export interface PassResult {
  readonly revision: string;
  readonly mode: 'plan' | 'apply';
  readonly plan: Plan;
  readonly results: readonly ChangeResult[];
  /** Resources whose diff was still not empty right after applying, and which fields. */
  readonly unstable: readonly { readonly key: string; readonly fields: readonly string[] }[];
  readonly errors: readonly PassError[];
  /** Kinds whose live state could not be read this pass, and why (their drift is unknown, not gone). */
  readonly unobservable: Readonly<Record<string, string>>;
  /** `no-op`: nothing to do; `changed`: changes applied (or planned, in plan mode); `failed`; `refused`. */
  readonly outcome: 'no-op' | 'changed' | 'failed' | 'refused';
  readonly durationMs: number;
  readonly startedAt: string;
}

const HISTORY = 20;

/**
 * One reconcile pass (ARCHITECTURE §3): observe every kind, plan (pure), apply wave by wave,
 * observe again, record. Never throws for provider failures: they come back as `errors`.
 */
export async function runPass(input: PassInput): Promise<PassResult> {
  const startedAt = new Date();
  const t0 = performance.now();
  const owner = input.owner ?? 'keelson';
  const retry = input.retry ?? DEFAULT_RETRY;
  const keeper = new StateKeeper(input.store, await input.store.load());
  const state = keeper.data;
  const inventory = keeper.inventory();
  const context = (provider: string): HandlerContext => ({
    owner,
    log: childLog(input.log, { provider, revision: input.revision }),
    signal: input.signal ?? new AbortController().signal,
    inventory,
  });
  const { registry } = input;
  const secrets = readSecrets(input.resources, input.secrets);
  const planInputBase: Pick<PlanInput, 'secrets' | 'schema' | 'normalize'> = {
    secrets: secrets.values,
    schema: (kind) => registry.schema(kind),
    normalize: (kind, spec) => registry.handler(kind)?.normalize?.(spec) ?? spec,
  };
  const errors: PassError[] = [];

  const seen = await observeAll({
    resources: input.resources,
    registry,
    context,
    planInput: planInputBase,
    retry,
    signal: input.signal,
    providers: providersInUse(input.resources, state),
  });
  for (const e of seen.errors) errors.push({ ...e, severity: 'error', class: 'transient' });

  // Journal entries from a pass that crashed mid-create: observe decides what happened.
  for (const [key, entry] of Object.entries(state.journal)) {
    if (seen.unobservable.has(entry.kind)) {
      errors.push({
        class: 'waiting',
        code: 'JOURNAL_UNRESOLVED',
        key,
        kind: entry.kind,
        severity: 'error',
        message: `an interrupted create of ${key} cannot be checked: ${seen.unobservable.get(entry.kind)}; it is not created again until it can`,
      });
      continue;
    }
    if (input.mode === 'apply') delete state.journal[key];
  }

  const graph = buildGraph(input.resources);
  const plan = planChanges({
    ...planInputBase,
    revision: input.revision,
    desired: input.resources.filter((r) => !(state.journal[r.key] && seen.unobservable.has(r.kind))),
    waveOf: graph.waveOf,
    observed: seen.observed,
    unobservable: seen.unobservable,
    applied: state.applied,
    unstable: state.unstable ?? {},
    deletionBudget: input.deletionBudget,
    kindOrder: (kind) => kindOrder(registry, kind),
  });
  const codes = {
    unowned: 'CONFLICT_UNOWNED',
    'missing-secret': 'INVALID_SPEC',
    'replace-refused': 'REPLACE_REFUSED',
  } as const;
  const unavailable = new Map<string, { count: number; why: string }>();
  for (const c of plan.changes) {
    if (c.action !== 'skip') continue;
    if (c.reason === 'unowned' || c.reason === 'missing-secret' || c.reason === 'replace-refused') {
      errors.push({
        code: codes[c.reason],
        key: c.key,
        kind: c.kind,
        provider: c.provider,
        severity: 'error',
        class: 'terminal',
        message: c.detail ?? c.key,
      });
    }
    if (c.reason === 'provider-unavailable') {
      const seenBefore = unavailable.get(c.provider);
      const why = seen.unobservable.get(c.kind) ?? `provider ${c.provider} is not available`;
      unavailable.set(c.provider, { count: (seenBefore?.count ?? 0) + 1, why: seenBefore?.why ?? why });
    }
  }
  // One warning per provider, not one per resource: the cause is the same for all of them.
  for (const [provider, { count, why }] of unavailable) {
    errors.push({
      code: 'UNAVAILABLE',
      provider,
      severity: 'warning',
      class: 'transient',
      message: `${count} ${provider} resource${count === 1 ? '' : 's'} skipped: ${why}`,
    });
  }
  if (plan.refused)
    errors.push({ code: 'DELETION_BUDGET', severity: 'error', class: 'terminal', message: plan.refused.message });

  let results: ChangeResult[] = [];
  const unstable: { key: string; fields: string[] }[] = [];
  if (input.mode === 'apply' && !plan.refused) {
    const desiredByKey = new Map(input.resources.map((r) => [r.key, r]));
    const observed = new Map(seen.observed);
    results = await applyPlan({
      plan,
      desired: desiredByKey,
      observed,
      planInput: planInputBase,
      registry,
      context,
      retry,
      signal: input.signal,
      onProgress: input.onProgress,
      journal: {
        beginCreate: async (r) => {
          state.journal[r.key] = {
            key: r.key,
            kind: r.kind,
            name: r.name,
            state: 'creating',
            revision: input.revision,
            at: new Date().toISOString(),
          };
          await keeper.save();
        },
        created: async (r, _o, spec) => {
          delete state.journal[r.key];
          state.applied[r.key] = {
            digest: specDigest(spec),
            revision: input.revision,
            protect: r.protect,
            at: new Date().toISOString(),
          };
          await keeper.save();
        },
        updated: async (r, spec) => {
          state.applied[r.key] = {
            digest: specDigest(spec),
            revision: input.revision,
            protect: r.protect,
            at: new Date().toISOString(),
          };
          await keeper.save();
        },
        deleted: async (key) => {
          delete state.applied[key];
          delete state.unstable?.[key];
          await keeper.save();
        },
      },
    });
    for (const r of results) {
      if (r.status === 'failed' && r.error) {
        errors.push({
          code: r.error.code,
          key: r.key,
          kind: r.kind,
          provider: r.provider,
          severity: 'error',
          class: r.error.class as ErrorClass,
          message: r.error.message,
        });
      }
    }
    // Resources that are converged but have no record yet (adopted, or state restored): remember them,
    // so that a later difference is recognised as drift.
    for (const c of plan.changes) {
      const r = desiredByKey.get(c.key);
      if (c.action !== 'no-op' || !r || state.applied[c.key]) continue;
      const spec = desiredSpec({ ...planInputBase, observed }, r).spec;
      state.applied[c.key] = {
        digest: specDigest(spec),
        revision: input.revision,
        protect: r.protect,
        at: new Date().toISOString(),
      };
    }
    for (const c of plan.changes) {
      const r = desiredByKey.get(c.key);
      const record = state.applied[c.key];
      if (r && record && record.protect !== r.protect) state.applied[c.key] = { ...record, protect: r.protect };
    }
    unstable.push(
      ...(await checkStable(results, input, desiredByKey, observed, planInputBase, retry, context, state, errors)),
    );
    await collectGarbage(registry, context, results, input.log);
    await keeper.save();
  }

  const durationMs = Math.round(performance.now() - t0);
  const acted = results.some((r) => r.status === 'applied');
  const planned = plan.changes.some((c) => c.action !== 'no-op' && c.action !== 'skip');
  const outcome: PassResult['outcome'] = plan.refused
    ? 'refused'
    : errors.some((e) => e.severity === 'error')
      ? 'failed'
      : (input.mode === 'apply' ? acted : planned)
        ? 'changed'
        : 'no-op';
  if (input.mode === 'apply') {
    const run: RunRecord = {
      revision: input.revision,
      startedAt: startedAt.toISOString(),
      durationMs,
      result: outcome === 'changed' ? 'success' : outcome,
      summary: summaryLine(plan),
    };
    state.runs = [...state.runs, run].slice(-HISTORY);
    await keeper.save();
  }
  return {
    revision: input.revision,
    mode: input.mode,
    plan,
    results,
    unstable,
    errors,
    unobservable: Object.fromEntries(seen.unobservable),
    outcome,
    durationMs,
    startedAt: startedAt.toISOString(),
  };
}

/** Observe again what was applied; a diff that is still there names an unstable field (reported once). */
async function checkStable(
  results: readonly ChangeResult[],
  input: PassInput,
  desired: ReadonlyMap<string, DesiredResource>,
  observed: Map<string, ObservedResource>,
  planInput: Pick<PlanInput, 'secrets' | 'schema' | 'normalize'>,
  retry: RetryPolicy,
  context: (provider: string) => HandlerContext,
  state: StateKeeper['data'],
  errors: PassError[],
): Promise<{ key: string; fields: string[] }[]> {
  const applied = results.filter((r) => r.status === 'applied' && r.action !== 'delete');
  if (applied.length === 0) return [];
  const kinds = new Set(applied.map((r) => r.kind));
  const again = await observeAll({
    resources: input.resources,
    registry: input.registry,
    context,
    planInput,
    retry,
    signal: input.signal,
    kinds,
  });
  const out: { key: string; fields: string[] }[] = [];
  for (const r of applied) {
    const resource = desired.get(r.key);
    const live = again.observed.get(r.key);
    const schema = input.registry.schema(r.kind);
    if (!resource || !live || !schema) continue;
    observed.set(r.key, live);
    const want = desiredSpec({ ...planInput, observed }, resource).spec;
    const fields = diffSpec(schema.spec, want, live.spec).map((f) => f.path);
    state.unstable ??= {};
    if (fields.length === 0) {
      delete state.unstable[r.key];
      continue;
    }
    const digest = specDigest(want);
    const previous = state.unstable[r.key];
    state.unstable[r.key] = { digest, fields, at: new Date().toISOString() };
    out.push({ key: r.key, fields });
    if (!previous || previous.digest !== digest) {
      errors.push({
        code: 'UNSTABLE_FIELD',
        key: r.key,
        kind: r.kind,
        provider: r.provider,
        severity: 'warning',
        class: 'terminal',
        message: `${r.key}: ${fields.join(', ')} still differ${fields.length === 1 ? 's' : ''} right after applying (the provider rewrites ${fields.length === 1 ? 'it' : 'them'}); keelson will not re-apply until the desired spec changes. Align the desired value with what the provider stores.`,
      });
    }
  }
  return out;
}

async function collectGarbage(
  registry: ProviderRegistry,
  context: (provider: string) => HandlerContext,
  results: readonly ChangeResult[],
  log: Logger,
): Promise<void> {
  const touched = new Set(results.filter((r) => r.status === 'applied').map((r) => r.kind));
  for (const kind of touched) {
    const handler = registry.handler(kind);
    if (!handler?.collectGarbage) continue;
    try {
      await handler.collectGarbage(context(kind.split('.')[0] ?? kind));
    } catch (error) {
      log.warn({ kind, err: errorMessage(error) }, 'garbage collection failed; it is retried after the next apply');
    }
  }
}

function kindOrder(registry: ProviderRegistry, kind: string): number {
  const provider = registry.provider(kind.split('.')[0] ?? kind);
  const index = provider?.kinds.findIndex((k) => k.schema.kind === kind) ?? -1;
  return Math.max(0, index);
}

function childLog(log: Logger, bindings: Record<string, unknown>): Logger {
  const maybe = log as Logger & { child?: (b: Record<string, unknown>) => Logger };
  return typeof maybe.child === 'function' ? maybe.child(bindings) : log;
}

export function summaryLine(plan: Plan): string {
  const s = plan.summary;
  return `${s.create} to create, ${s.update} to update, ${s.replace} to replace, ${s.delete} to delete, ${s.noop} unchanged, ${s.skip} skipped`;
}
