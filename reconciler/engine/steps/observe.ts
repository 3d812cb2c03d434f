import { observeAll } from '../observe.ts';
import type { PassStep } from '../pass-types.ts';

/** Reads the live state of every desired kind and every kind an available provider owns. */
export const observeStep: PassStep = async (pass) => {
  const { input } = pass;
  const seen = await observeAll({
    resources: input.resources,
    registry: input.registry,
    context: pass.context,
    planInput: pass.specInput,
    retry: pass.retry,
    signal: input.signal,
  });
  pass.observed = seen.observed;
  pass.unobservable = seen.unobservable;
  for (const e of seen.errors) pass.errors.push({ ...e, severity: 'error', class: 'transient' });
};
