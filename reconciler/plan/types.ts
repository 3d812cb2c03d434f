import type { FieldChange, ReplaceOrder } from '../../providers/sdk/index.ts';

/** What the plan does with one resource (Terraform's actions, plus keelson's skip). */
export type ChangeAction = 'create' | 'update' | 'replace' | 'delete' | 'no-op' | 'skip';

/** Why a resource is skipped or a change is held back. */
export type SkipReason =
  | 'paused'
  | 'observe-policy'
  | 'dependency-failed'
  | 'protected'
  | 'unowned'
  | 'not-ready'
  | 'replace-refused'
  | 'deletion-budget'
  | 'read-only'
  | 'provider-unavailable'
  | 'missing-secret'
  | 'build-failed'
  | 'not-found'
  | 'lookup-failed'
  | 'rolled-back';

export interface ResourceChange {
  readonly key: string;
  readonly kind: string;
  readonly name: string;
  readonly provider: string;
  readonly action: ChangeAction;
  /** Set when action is `skip`, or to explain a no-op/refusal. */
  readonly reason?: SkipReason;
  /** Human sentence for the reason, naming the resource and what to do. */
  readonly detail?: string;
  /** Field-level before/after for update/replace (sensitive values still raw here: renderers redact). */
  readonly fields: readonly FieldChange[];
  /** `git` when Git asked for it, `drift` when it heals a difference keelson did not cause. */
  readonly cause: 'git' | 'drift' | 'prune';
  /** Dependency wave (0 first). Deletes run after all creates/updates, in reverse order. */
  readonly wave: number;
  /**
   * For a replacement: which step goes first (the kind's `replaceOrder`) and why. `create-first`
   * creates the new object, then deletes the old one; `delete-first` (the default) the other way.
   */
  readonly replaceOrder?: ReplaceOrder;
  readonly replaceWhy?: string;
}

/** A difference between Git and live state that keelson did not cause (refresh-only drift in Terraform terms). */
export interface DriftEntry {
  readonly key: string;
  readonly kind: string;
  readonly name: string;
  readonly provider: string;
  readonly policy: 'enforce' | 'observe' | 'paused';
  readonly fields: readonly FieldChange[];
  /** `changed` (fields differ) or `missing` (deleted by hand). */
  readonly type: 'changed' | 'missing';
  /** sha256 of the normalised field diff. */
  readonly fingerprint: string;
}

export interface Plan {
  readonly revision: string;
  readonly changes: readonly ResourceChange[];
  readonly drift: readonly DriftEntry[];
  /** Set when the plan must not be applied at all (e.g. the deletion budget is exceeded). */
  readonly refused?: { readonly code: 'deletion-budget' | 'plan-stale'; readonly message: string };
  /** Owned resources with no desired counterpart that could not be pruned, and unowned conflicts. */
  readonly summary: PlanSummary;
}

export interface PlanSummary {
  readonly create: number;
  readonly update: number;
  readonly replace: number;
  readonly delete: number;
  readonly noop: number;
  readonly skip: number;
}

/** What the plan reads of the state store: kept by the store, owned by the plan (the planner imports nothing from `state/`). */
export interface UnstableRecord {
  /** Digest of the desired spec when the field was found unstable; a new desired spec tries again. */
  readonly digest: string;
  readonly fields: readonly string[];
  readonly at: string;
}

export interface AppliedRecord {
  /** Canonical digest of the desired spec that was applied (secrets by digest). */
  readonly digest: string;
  readonly revision: string;
  /** Protection survives the resource's removal from Git. */
  readonly protect: boolean;
  readonly at: string;
}
