import type { ErrorClass, ErrorCode } from '../../providers/sdk/index.ts';
import type { Diagnostic } from '../desired/diagnostic.ts';
import type { Plan } from '../plan/types.ts';
import type { DriftRecord } from '../state/types.ts';

/** A Flux/Kubernetes-style condition. */
export interface Condition {
  readonly type: 'Ready' | 'Fetched' | 'Valid' | 'Reconciled' | 'Stalled';
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
  readonly lastTransitionTime: string;
}

/** One error of the last passes, as `/status` shows it. Never carries a secret. */
export interface StatusError {
  readonly at: string;
  readonly code: ErrorCode;
  readonly class: ErrorClass;
  readonly message: string;
  readonly resource?: string;
  readonly provider?: string;
}

/** What `/status` and `/` show. Built by the reconcile step, read by HTTP; plain data. */
export interface DaemonStatusData {
  /** The revision keelson acts on (the last good one). */
  readonly revision: string | undefined;
  /** The newest revision fetched (differs from `revision` while that one is invalid). */
  readonly fetchedRevision: string | undefined;
  readonly mode: 'apply' | 'plan';
  readonly conditions: readonly Condition[];
  readonly lastPlan: Plan | undefined;
  readonly drifted: readonly DriftRecord[];
  readonly lastErrors: readonly StatusError[];
  /**
   * Revisions keelson fetched and would not use, newest last: refused by signature verification
   * or invalid. The last good `revision` stays in effect meanwhile.
   */
  readonly refusedRevisions: readonly RefusedRevision[];
  /** Diagnostics of `fetchedRevision` when it could not be used. */
  readonly diagnostics: readonly Diagnostic[];
  readonly unavailableProviders: Readonly<Record<string, string>>;
  readonly lastFetchAt: string | undefined;
  readonly lastObserveAt: string | undefined;
  readonly lastSuccessAt: string | undefined;
  readonly passes: number;
  readonly stalled: boolean;
}

export interface RefusedRevision {
  readonly revision: string;
  /** `unverified` (signature check failed) or `invalid` (the desired state has errors). */
  readonly reason: 'unverified' | 'invalid';
  readonly message: string;
  readonly at: string;
}

const MAX_ERRORS = 20;
const MAX_REFUSED = 5;

/** The daemon's live status. Conditions keep their transition time while their status does not change. */
export class DaemonStatus {
  #data: DaemonStatusData;
  #version = 0;

  constructor(mode: 'apply' | 'plan', unavailableProviders: Readonly<Record<string, string>> = {}) {
    this.#data = {
      revision: undefined,
      fetchedRevision: undefined,
      mode,
      conditions: [],
      lastPlan: undefined,
      drifted: [],
      lastErrors: [],
      refusedRevisions: [],
      diagnostics: [],
      unavailableProviders,
      lastFetchAt: undefined,
      lastObserveAt: undefined,
      lastSuccessAt: undefined,
      passes: 0,
      stalled: false,
    };
  }

  get data(): DaemonStatusData {
    return this.#data;
  }

  /** Goes up with every change: what is rendered from the status can be reused until it moves. */
  get version(): number {
    return this.#version;
  }

  update(patch: Partial<DaemonStatusData>): void {
    this.#data = { ...this.#data, ...patch };
    this.#version++;
  }

  setCondition(type: Condition['type'], status: Condition['status'], reason: string, message: string, now: Date): void {
    const prev = this.#data.conditions.find((c) => c.type === type);
    const condition: Condition = {
      type,
      status,
      reason,
      message,
      lastTransitionTime: prev && prev.status === status ? prev.lastTransitionTime : now.toISOString(),
    };
    const order: Condition['type'][] = ['Ready', 'Fetched', 'Valid', 'Reconciled', 'Stalled'];
    const conditions = [...this.#data.conditions.filter((c) => c.type !== type), condition].sort(
      (a, b) => order.indexOf(a.type) - order.indexOf(b.type),
    );
    this.#data = { ...this.#data, conditions };
    this.#version++;
  }

  /** Records a refused revision (once per revision and reason), keeping the newest few. */
  addRefused(refused: RefusedRevision): void {
    const others = this.#data.refusedRevisions.filter(
      (r) => !(r.revision === refused.revision && r.reason === refused.reason),
    );
    this.#data = { ...this.#data, refusedRevisions: [...others, refused].slice(-MAX_REFUSED) };
    this.#version++;
  }

  /** Replaces the error list with this pass's errors (the newest pass is what matters). */
  setErrors(errors: readonly StatusError[]): void {
    this.#data = { ...this.#data, lastErrors: errors.slice(-MAX_ERRORS) };
    this.#version++;
  }

  /**
   * Ready when the last fetch and the last observe are both younger than `maxAgeMs` and the loop
   * is not stalled: a reconciler that quietly stopped working must not look healthy.
   */
  readiness(now: Date, maxAgeMs: number): { ready: boolean; reasons: string[] } {
    const reasons: string[] = [];
    const young = (at: string | undefined) => at !== undefined && now.getTime() - Date.parse(at) <= maxAgeMs;
    if (!young(this.#data.lastFetchAt))
      reasons.push(`no successful fetch in the last ${Math.round(maxAgeMs / 1000)} s`);
    if (!young(this.#data.lastObserveAt))
      reasons.push(`no successful observe in the last ${Math.round(maxAgeMs / 1000)} s`);
    if (this.#data.stalled) reasons.push('stalled: the last passes failed');
    return { ready: reasons.length === 0, reasons };
  }
}
