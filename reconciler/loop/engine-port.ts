import type { DesiredResource, Logger } from '../../providers/sdk/index.ts';
import type { Diagnostic } from '../desired/diagnostic.ts';
import type { DriftAlertPolicy, DriftUpdate } from '../drift/track-drift.ts';
import type { Plan, ResourceChange } from '../plan/types.ts';
import type { StateData } from '../state/types.ts';
import type { StatusError } from './daemon-status.ts';

/** One applied (or failed) change, as the daemon counts it. */
export interface AppliedChange {
  readonly key: string;
  readonly kind: string;
  readonly provider: string;
  readonly action: ResourceChange['action'];
  readonly status: 'applied' | 'failed' | 'skipped';
}

/** What the daemon needs back from one engine pass. */
export interface EnginePassOutcome {
  readonly plan: Plan;
  readonly applied: readonly AppliedChange[];
  /** Everything that went wrong, classified (a failing provider shows here; the others still ran). */
  readonly errors: readonly Omit<StatusError, 'at'>[];
  /** Kinds whose live state could not be read this pass: their drift records are kept as they are. */
  readonly unobservableKinds: ReadonlySet<string>;
  /** The drift records the engine saved, and the alerts they call for (the engine is the one writer of the store). */
  readonly drift?: DriftUpdate;
  /** Something is waiting (not ready, locked, rate limited): come back after this long, not a whole interval. */
  readonly requeueAfterMs?: number;
  /** Milliseconds per step of the pass (observe, plan, apply, settle, record...), for `bench/daemon-push.ts`. */
  readonly timings?: Readonly<Record<string, number>>;
}

/**
 * The engine as the daemon sees it: load a revision, run a pass on the last good one. The real
 * implementation wraps `loadDesiredState` and `runPass` (engine-adapter.ts); tests pass plain objects.
 */
export interface EnginePort {
  load(dir: string, root: string): { resources: DesiredResource[]; diagnostics: Diagnostic[] };
  runPass(input: {
    readonly resources: readonly DesiredResource[];
    readonly revision: string;
    readonly mode: 'apply' | 'plan';
    readonly signal: AbortSignal;
    readonly log: Logger;
    /** Drift alert policy: the engine folds the plan's drift into the stored records. */
    readonly drift: DriftAlertPolicy;
    readonly now: () => Date;
    /** Called inside the pass's one state write, with the drift update (the daemon fills its alert outbox there). */
    readonly onRecord?: (state: StateData, drift: DriftUpdate, now: Date) => void;
  }): Promise<EnginePassOutcome>;
  /** Every kind the engine knows, for metrics seeded at zero. */
  kinds(): { provider: string; kind: string }[];
  /** Remaining rate budget per provider, where the vendor says. */
  rateBudgets(): Record<string, number>;
  unavailableProviders(): Record<string, string>;
}
