import { trackDrift } from '../../drift/track-drift.ts';
import { desiredDigest, desiredSpec, sameDigest } from '../../plan/plan.ts';
import type { Plan } from '../../plan/types.ts';
import { KEYED_PREFIX } from '../../state/keyed-digests.ts';
import type { Pass, PassResult, PassStep } from '../pass-types.ts';

/**
 * Writes the pass to the state store, once: what is converged (so that a later difference is
 * recognised as drift), protection flags, drift records (when the daemon asks), and the run.
 */
export const recordStep: PassStep = async (pass) => {
  const { input, keeper } = pass;
  const state = keeper.data;
  const now = input.now?.() ?? new Date();
  if (input.mode === 'apply' && !pass.plan.refused) {
    rememberConverged(pass, now.toISOString());
    forgetGone(pass);
  }
  if (!(input.record ?? input.mode === 'apply')) return;
  if (input.drift) {
    const unobserved = (key: string): boolean => pass.unobservable.has(key.slice(0, key.indexOf('/')));
    const applied = new Set(pass.results.filter((r) => r.status === 'applied').map((r) => r.key));
    pass.drift = trackDrift(state.drift, pass.plan.drift, now, input.drift, {
      unobserved,
      applied: (key) => applied.has(key),
      healed: state.healed ?? {},
    });
    state.drift = pass.drift.records;
    state.healed = pass.drift.healed;
    input.onRecord?.(state, pass.drift, now);
  }
  const outcome = outcomeOf(pass);
  keeper.addRun({
    revision: input.revision,
    startedAt: pass.startedAt.toISOString(),
    durationMs: Math.round(performance.now() - pass.t0),
    result: outcome === 'changed' ? 'success' : outcome,
    summary: summaryLine(pass.plan),
  });
  await keeper.save();
};

/**
 * Resources that are converged but have no record yet (adopted, or state restored), or whose record
 * is older than what they now match, are remembered, and a changed `protect` is carried into the
 * record (protection outlives removal from Git).
 */
function rememberConverged(pass: Pass, at: string): void {
  const { input } = pass;
  const state = pass.keeper.data;
  const desired = new Map(input.resources.map((r) => [r.key, r]));
  for (const c of pass.plan.changes) {
    const r = desired.get(c.key);
    if (!r) continue;
    const record = state.applied[c.key];
    const spec = () => desiredSpec({ ...pass.specInput, observed: pass.observed }, r);
    const want = (): string => desiredDigest(spec(), pass.specInput.digestKey);
    if (c.action === 'no-op' && !record) {
      state.applied[c.key] = { digest: want(), revision: input.revision, protect: r.protect, at };
    } else if (c.action === 'no-op' && record && !record.digest.startsWith(KEYED_PREFIX) && pass.specInput.digestKey) {
      // A record from before keyed digests (the plan compared it as it was made): recorded keyed now.
      state.applied[c.key] = { ...record, digest: want(), protect: r.protect };
    } else if (
      c.action === 'no-op' &&
      record &&
      !sameDigest(record.digest, spec(), pass.specInput.digestKey) &&
      pass.observed.get(c.key)?.ready
    ) {
      // Live matches a newer Git than the record: a create whose process died before it was
      // recorded (a create-first replacement's new object, found next pass), a change sent but not
      // waited for (keelson's own service, updated by the replica it replaced), or made by hand
      // ahead of Git. Only once the vendor is done with it: an update still rolling out may yet be
      // rolled back.
      state.applied[c.key] = { digest: want(), revision: input.revision, protect: r.protect, at };
    } else if (record && record.protect !== r.protect) {
      state.applied[c.key] = { ...record, protect: r.protect };
    }
  }
}

/**
 * Records of resources that are neither in Git nor at the vendor any more are dropped: a delete
 * whose process was killed after the vendor's delete but before it was recorded leaves one. Only
 * for kinds this pass observed (a kind it could not read keeps its records).
 */
function forgetGone(pass: Pass): void {
  const state = pass.keeper.data;
  const desired = new Set(pass.input.resources.map((r) => r.key));
  for (const key of Object.keys(state.applied)) {
    if (desired.has(key) || pass.observed.has(key)) continue;
    const kind = key.slice(0, key.indexOf('/'));
    if (pass.input.scope && !pass.input.scope.kinds.has(kind)) continue;
    if (pass.unobservable.has(kind) || !pass.input.registry.handler(kind)) continue;
    delete state.applied[key];
    delete state.unstable?.[key];
  }
}

export function outcomeOf(pass: Pass): PassResult['outcome'] {
  if (pass.plan.refused) return 'refused';
  if (pass.errors.some((e) => e.severity === 'error')) return 'failed';
  const acted =
    pass.input.mode === 'apply'
      ? pass.results.some((r) => r.status === 'applied')
      : pass.plan.changes.some((c) => c.action !== 'no-op' && c.action !== 'skip');
  return acted ? 'changed' : 'no-op';
}

export function summaryLine(plan: Plan): string {
  const s = plan.summary;
  return `${s.create} to create, ${s.update} to update, ${s.replace} to replace, ${s.delete} to delete, ${s.noop} unchanged, ${s.skip} skipped`;
}
