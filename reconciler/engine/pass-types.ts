import type {
  DesiredResource,
  ErrorClass,
  ErrorCode,
  HandlerContext,
  Logger,
  ObservedResource,
} from '../../providers/sdk/index.ts';
import type { ApplyProgress, ChangeResult } from '../apply/apply.ts';
import type { RetryPolicy } from '../apply/retry.ts';
import type { DriftAlertPolicy, DriftUpdate } from '../drift/track-drift.ts';
import type { SpecInput } from '../plan/plan.ts';
import type { Plan } from '../plan/types.ts';
import type { ProviderRegistry } from '../providers/registry.ts';
import type { StateData, StateStore } from '../state/types.ts';
import type { SecretSource } from './secrets.ts';
import type { StateKeeper } from './state-keeper.ts';

export interface PassInput {
  /** Valid desired resources (from `loadDesiredState`). */
  readonly resources: readonly DesiredResource[];
  readonly revision: string;
  readonly registry: ProviderRegistry;
  readonly store: StateStore;
  /** Key of the digests written to the state. Default the store's (`StateStore.digestKey`). */
  readonly digestKey?: Buffer;
  /** Owner id written into ownership labels. Default `keelson`. */
  readonly owner?: string;
  /** `plan` observes and plans only; `apply` also applies. */
  readonly mode: 'plan' | 'apply';
  /**
   * Write the pass to the state store (drift records, run history). Default: in apply mode only, so
   * that `keelson plan` writes nothing anywhere. The daemon records its plan-only passes too.
   */
  readonly record?: boolean;
  /**
   * Apply only if the plan comes out as the one shown (`keelson apply` after its confirmation, or
   * a saved plan): otherwise the plan is refused whole with PLAN_STALE.
   */
  readonly expectedPlan?: { matches(plan: Plan): boolean };
  /** Fold the plan's drift into the stored drift records (the daemon's alerts), with this policy. */
  readonly drift?: DriftAlertPolicy;
  /**
   * Called inside the record step, before its one save, with the state and the drift update: the
   * daemon puts the alerts the drift calls for into the outbox in the same write.
   */
  readonly onRecord?: (state: StateData, drift: DriftUpdate, now: Date) => void;
  /** The clock for records (default: the system clock). */
  readonly now?: () => Date;
  /** Most deletes per pass before the plan is refused. Default 5. */
  readonly deletionBudget?: number;
  /**
   * Restricts the pass to some kinds (`keelson bootstrap` applies the Hetzner part, then the node
   * labels, then keelson's own stack). Default: every kind, pruning on.
   */
  readonly scope?: PassScope;
  readonly secrets: SecretSource;
  readonly log: Logger;
  readonly signal?: AbortSignal;
  readonly retry?: RetryPolicy;
  readonly onProgress?: (event: ApplyProgress) => void;
}

/**
 * A pass over part of the world: only `kinds` are observed, planned, journal-resolved and
 * forgotten; the state's records of every other kind stay as they are, and resources of other
 * kinds given in `resources` are left out. Without `prune`, owned resources of these kinds that
 * are not in `resources` are left alone (as if they were not keelson's), never deleted.
 */
export interface PassScope {
  readonly kinds: ReadonlySet<string>;
  /** Delete owned resources of these kinds that are not in `resources`. Default false. */
  readonly prune?: boolean;
}

/** A problem of the pass that is not a diagnostic of the desired state. */
export interface PassError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly key?: string;
  readonly kind?: string;
  readonly provider?: string;
  readonly severity: 'error' | 'warning';
  /** How to react: retry soon (transient), wait for a new revision (terminal), or retry later (waiting). */
  readonly class: ErrorClass;
  /** For `waiting` errors: when to look again. */
  readonly retryAfterMs?: number;
}

/** The steps of a pass, in order; `PassResult.timings` has one figure per step. */
export type StepName = 'observe' | 'journal' | 'plan' | 'apply' | 'stabilise' | 'record';

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
  /** The drift records as saved and the alerts to send (when `drift` was given and the pass recorded). */
  readonly drift?: DriftUpdate;
  readonly durationMs: number;
  /**
   * Set when something is waiting (not ready, locked, rate limited, a dependency not there yet):
   * come back after this long rather than after a whole poll interval. The shortest time named,
   * or `WAITING_REQUEUE_MS` when none is.
   */
  readonly requeueAfterMs?: number;
  /**
   * Milliseconds per step, plus `open` (reading the state and the secrets) and `settle` (the part
   * of `apply` spent waiting for rollouts to settle).
   */
  readonly timings: Readonly<Partial<Record<StepName | 'open' | 'settle', number>>>;
  readonly startedAt: string;
}

/**
 * What the steps of one pass share. Each step reads what the steps before it left here and adds
 * its own part; only the `StateKeeper` writes the state store.
 */
export interface Pass {
  readonly input: PassInput;
  readonly startedAt: Date;
  readonly t0: number;
  readonly retry: RetryPolicy;
  /** The one writer of the state store in this pass. */
  readonly keeper: StateKeeper;
  readonly context: (provider: string) => HandlerContext;
  /** Secrets, schemas and normalisers: what turns a desired spec into the spec a handler sees. */
  readonly specInput: SpecInput;
  readonly errors: PassError[];
  /** Live state by key; the applier replaces entries as it goes, so later waves resolve new outputs. */
  observed: Map<string, ObservedResource>;
  /** kind -> why its live state could not be read. */
  unobservable: Map<string, string>;
  /** Desired keys whose look-ups failed while observing, and why: left alone by the plan. */
  lookupFailed: Map<string, string>;
  plan: Plan;
  results: ChangeResult[];
  unstable: { key: string; fields: string[] }[];
  drift?: DriftUpdate;
  settleMs: number;
}

/** One step of a pass. Every step has this signature; `runPass` runs them in order. */
export type PassStep = (pass: Pass) => Promise<void>;
