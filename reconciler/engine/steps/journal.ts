import { ERRORS } from '../../../providers/sdk/index.ts';
import type { PassStep } from '../pass-types.ts';

/**
 * Resolves the create journal of a pass that crashed mid-create (or lost a create's answer): once
 * the kind has been observed, observe has decided what happened, so the entry goes.
 * - a resource found and owned (it carries keelson's labels) is simply ours;
 * - a resource found that does not look owned is the one keelson was creating when its answer got
 *   lost: kinds whose ownership lives in the inventory (R2 buckets, Worker routes, crons) could not
 *   record it. The journal entry is what lets keelson claim it: it enters the inventory and is
 *   planned as its own (never refused as CONFLICT_UNOWNED);
 * - a missing one is created again.
 * A kind that could not be observed keeps its entry, and its resource is held back from the plan.
 */
export const journalStep: PassStep = async (pass) => {
  const state = pass.keeper.data;
  const journal = state.journal;
  for (const [key, entry] of Object.entries(journal)) {
    // A pass over part of the world has not observed the other kinds: their entries wait for one that has.
    if (pass.input.scope && !pass.input.scope.kinds.has(entry.kind)) continue;
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
    const found = pass.observed.get(key);
    if (found && !found.owned) {
      pass.observed.set(key, { ...found, owned: true });
      if (pass.input.mode === 'apply') {
        state.inventory[key] ??= { key, kind: entry.kind, id: found.id };
        pass.input.log.info({ resource: key, id: found.id }, 'claimed the resource an interrupted create made');
      }
    }
    if (pass.input.mode === 'apply') delete journal[key];
  }
};
