import { diffSpec, ERRORS } from '../../../providers/sdk/index.ts';
import { desiredDigest, desiredSpec, sameDigest } from '../../plan/plan.ts';
import { observeAll } from '../observe.ts';
import type { PassStep } from '../pass-types.ts';

/**
 * Observes again what was just applied. After a complete, successful update, a field that still
 * differs is one the provider rewrites: it is remembered (not re-applied until the desired spec
 * changes) and reported once. After a create, a field that differs is not that: the create did not
 * finish (a multi-step create whose answer was lost part-way, or a kill in the middle), so the
 * resource's record is marked unfinished and the next pass finishes it as an update caused by Git
 * (never buried as unstable, never mistaken for drift).
 */
/** The applied digest of a resource whose create did not finish: no desired spec has it, so the next plan updates. */
const UNFINISHED = 'unfinished-create';

export const stabiliseStep: PassStep = async (pass) => {
  const { input } = pass;
  // An update not waited for (keelson's own service) is not complete: a difference now may be a
  // rollback under way, not a field the provider rewrites. The next passes judge it.
  const applied = pass.results.filter((r) => r.status === 'applied' && r.action !== 'delete' && !r.unconfirmed);
  if (applied.length === 0) return;
  const again = await observeAll({
    resources: input.resources,
    registry: input.registry,
    context: pass.context,
    planInput: pass.specInput,
    retry: pass.retry,
    signal: input.signal,
    kinds: new Set(applied.map((r) => r.kind)),
    // A server's network and SSH key ids come from kinds not observed again here.
    known: pass.observed,
  });
  const desired = new Map(input.resources.map((r) => [r.key, r]));
  const state = pass.keeper.data;
  const now = (input.now?.() ?? new Date()).toISOString();
  for (const r of applied) {
    const resource = desired.get(r.key);
    const live = again.observed.get(r.key);
    const schema = input.registry.schema(r.kind);
    if (!resource || !live || !schema) continue;
    pass.observed.set(r.key, live);
    const prepared = desiredSpec({ ...pass.specInput, observed: pass.observed }, resource);
    const fields = diffSpec(schema.spec, prepared.spec, live.spec).map((f) => f.path);
    state.unstable ??= {};
    if (fields.length === 0) {
      delete state.unstable[r.key];
      continue;
    }
    if (r.action !== 'update') {
      const record = state.applied[r.key];
      if (record) state.applied[r.key] = { ...record, digest: UNFINISHED };
      pass.errors.push({
        code: 'CREATE_UNFINISHED',
        key: r.key,
        kind: r.kind,
        provider: r.provider,
        severity: 'warning',
        class: 'waiting',
        message: ERRORS.CREATE_UNFINISHED.message(r.key, fields),
      });
      continue;
    }
    const digest = desiredDigest(prepared, pass.specInput.digestKey);
    const previous = state.unstable[r.key];
    state.unstable[r.key] = { digest, fields, at: now };
    pass.unstable.push({ key: r.key, fields });
    if (sameDigest(previous?.digest, prepared, pass.specInput.digestKey)) continue;
    pass.errors.push({
      code: 'UNSTABLE_FIELD',
      key: r.key,
      kind: r.kind,
      provider: r.provider,
      severity: 'warning',
      class: 'terminal',
      message: ERRORS.UNSTABLE_FIELD.message(r.key, fields),
    });
  }
};
