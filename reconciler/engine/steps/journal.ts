import { ERRORS } from '../../../providers/sdk/index.ts';
import type { PassStep } from '../pass-types.ts';

/**
 * Resolves the create journal of a pass that crashed mid-create: once the kind has been observed,
 * observe has decided what happened (an owned resource found is adopted, a missing one is created
 * again), so the entry goes. A kind that could not be observed keeps its entry, and its resource
 * is held back from the plan.
 */
export const journalStep: PassStep = async (pass) => {
  const journal = pass.keeper.data.journal;
  for (const [key, entry] of Object.entries(journal)) {
    const why = pass.unobservable.get(entry.kind);
    if (why !== undefined) {
      pass.errors.push({
        class: 'waiting',
        code: 'JOURNAL_UNRESOLVED',
        key,
        kind: entry.kind,
        severity: 'error',
        message: ERRORS.JOURNAL_UNRESOLVED.message(key, why),
      });
      continue;
    }
    if (pass.input.mode === 'apply') delete journal[key];
  }
};
