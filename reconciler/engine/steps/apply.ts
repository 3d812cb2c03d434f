import { type ApplyJournal, applyPlan } from '../../apply/apply.ts';
import { specDigest } from '../../plan/plan.ts';
import type { Pass, PassStep } from '../pass-types.ts';

/**
 * Applies the plan wave by wave (apply mode only, never a refused plan). The applier also collects
 * garbage for the kinds it changed. Every create is journaled durably before it is sent.
 */
export const applyStep: PassStep = async (pass) => {
  const { input } = pass;
  if (input.mode !== 'apply' || pass.plan.refused) return;
  pass.observed = new Map(pass.observed);
  pass.results = await applyPlan({
    plan: pass.plan,
    desired: new Map(input.resources.map((r) => [r.key, r])),
    observed: pass.observed,
    planInput: pass.specInput,
    registry: input.registry,
    context: pass.context,
    retry: pass.retry,
    signal: input.signal,
    onProgress: input.onProgress,
    journal: journal(pass),
    onSettled: (ms) => {
      pass.settleMs += ms;
    },
  });
  for (const r of pass.results) {
    if (r.status !== 'failed' || !r.error) continue;
    pass.errors.push({
      code: r.error.code,
      key: r.key,
      kind: r.kind,
      provider: r.provider,
      severity: 'error',
      class: r.error.class,
      message: r.error.message,
      ...(r.error.retryAfterMs === undefined ? {} : { retryAfterMs: r.error.retryAfterMs }),
    });
  }
};

/** The applier's bookkeeping, kept in the state store through the pass's one writer. */
function journal(pass: Pass): ApplyJournal {
  const { keeper, input } = pass;
  const state = keeper.data;
  const now = (): string => (input.now?.() ?? new Date()).toISOString();
  const applied = (r: { key: string; protect: boolean }, spec: Record<string, unknown>): void => {
    state.applied[r.key] = {
      digest: specDigest(spec, pass.specInput.digestKey),
      revision: input.revision,
      protect: r.protect,
      at: now(),
    };
  };
  return {
    beginCreate: async (r) => {
      state.journal[r.key] = {
        key: r.key,
        kind: r.kind,
        name: r.name,
        state: 'creating',
        revision: input.revision,
        at: now(),
      };
      await keeper.save();
    },
    claimed: async (r, found) => {
      state.inventory[r.key] ??= { key: r.key, kind: r.kind, id: found.id };
      input.log.info({ resource: r.key, id: found.id }, 'claimed the resource a create with a lost answer made');
      await keeper.save();
    },
    created: async (r, _observed, spec) => {
      delete state.journal[r.key];
      applied(r, spec);
      await keeper.save();
    },
    updated: async (r, spec) => {
      applied(r, spec);
      await keeper.save();
    },
    deleted: async (key) => {
      delete state.applied[key];
      delete state.unstable?.[key];
      await keeper.save();
    },
  };
}
