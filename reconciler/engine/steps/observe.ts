import { observeAll, providersInUse } from '../observe.ts';
import type { PassStep } from '../pass-types.ts';

/**
 * Reads the live state of every desired kind and every kind of a provider in use (one keelson
 * applied or tracks something on: owned resources may have left Git). A provider with neither is
 * not connected to at all, so an unusable one that Git does not need cannot fail the pass.
 */
export const observeStep: PassStep = async (pass) => {
  const { input } = pass;
  const seen = await observeAll({
    resources: input.resources,
    registry: input.registry,
    context: pass.context,
    planInput: pass.specInput,
    retry: pass.retry,
    signal: input.signal,
    providers: providersInUse(input.resources, pass.keeper.data),
    ...(input.scope ? { kinds: input.scope.kinds } : {}),
  });
  pass.observed = seen.observed;
  pass.unobservable = seen.unobservable;
  pass.lookupFailed = seen.lookupFailed;
  for (const e of seen.errors) pass.errors.push({ ...e, severity: 'error', class: 'transient' });
};
