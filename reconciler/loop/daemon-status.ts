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

/** The last pass that changed something: what it changed, and when. */
export interface LastChange {
  readonly revision: string;
  readonly at: string;
  readonly plan: Plan;
}

/** What `/status` and `/` show. Built by the reconcile step, read by HTTP; plain data. */
export interface DaemonStatusData {
  /** The revision keelson acts on (the last good one). */
  readonly revision: string | undefined;
  /** The revision of the last pass that succeeded: while it differs from `revision`, that one is being applied. */
  readonly appliedRevision: string | undefined;
  /** The last pass whose plan changed something (kept through the no-op passes after it). */
  readonly lastChange: LastChange | undefined;
  /** Where the desired state sits in the repository (`desired-state`), so diagnostics name the path a user opens. */
  readonly sourcePath: string | undefined;
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
  /** Leadership among replicas (undefined when leasing is off: this replica always runs passes). */
  readonly lease: LeaseStatus | undefined;
  /** Pages that go with this keelson (the demo's Secrets UI), linked from the status page. */
  readonly links: readonly StatusLink[];
}

export interface StatusLink {
  readonly label: string;
  readonly url: string;
}

/** This replica's role and the lease as it last saw it. */
export interface LeaseStatus {
  readonly role: 'leader' | 'standby';
  readonly holder: string;
  readonly leader: string | undefined;
  readonly generation: number | undefined;
  /** ISO time the lease expires. */
  readonly expiresAt: string | undefined;
  /** What is wrong with this replica's own endpoints (its Docker Engine does not answer): a healthy replica takes the lease over. */
  readonly unhealthy?: string;
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
/** Reasons a change is skipped only for now: the next pass tries again. */
const RETRIED = new Set(['not-ready', 'dependency-failed', 'provider-unavailable']);
/** Plan actions that change something. */
const ACTING = new Set(['create', 'update', 'replace', 'delete']);

/** The daemon's live status. Conditions keep their transition time while their status does not change. */
export class DaemonStatus {
  #data: DaemonStatusData;
  #version = 0;

  constructor(mode: 'apply' | 'plan', unavailableProviders: Readonly<Record<string, string>> = {}) {
    this.#data = {
      revision: undefined,
      appliedRevision: undefined,
      lastChange: undefined,
      sourcePath: undefined,
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
      lease: undefined,
      links: [],
    };
  }

  get data(): DaemonStatusData {
    return this.#data;
  }

  /** Goes up with every change: what is rendered from the status can be reused until it moves. */
  get version(): number {
    return this.#version;
  }

  /**
   * A pass that succeeds makes its revision the applied one; a plan that changes something
   * (in apply mode) becomes the last change, and stays until another one does.
   */
  update(patch: Partial<DaemonStatusData>): void {
    const next = { ...this.#data, ...patch };
    const plan = patch.lastPlan;
    if (plan && next.mode === 'apply' && plan.changes.some((c) => ACTING.has(c.action))) {
      next.lastChange = { revision: plan.revision, at: patch.lastObserveAt ?? next.lastObserveAt ?? '', plan };
    }
    // A change held back for a moment (a resource busy, a dependency failed) is still to be applied.
    const pending = next.lastPlan?.changes.some((c) => c.action === 'skip' && c.reason && RETRIED.has(c.reason));
    if (patch.lastSuccessAt !== undefined && patch.appliedRevision === undefined && !pending) {
      next.appliedRevision = next.lastPlan?.revision ?? next.revision;
    }
    this.#data = next;
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
  readiness(now: Date, maxAgeMs: number): { ready: boolean; reasons: string[]; role?: 'leader' | 'standby' } {
    const lease = this.#data.lease;
    // A standby runs no pass: it is alive (/healthz) but not the one to send pushes to.
    if (lease?.role === 'standby') {
      const by = lease.leader ? `${lease.leader} holds the lease until ${lease.expiresAt}` : 'no leader yet';
      const why = lease.unhealthy ? [`unhealthy: ${lease.unhealthy}`] : [];
      return { ready: false, role: 'standby', reasons: [`standby: ${by}`, ...why] };
    }
    const reasons: string[] = [];
    if (lease?.unhealthy) reasons.push(`unhealthy (a healthy replica takes the lease over): ${lease.unhealthy}`);
    const young = (at: string | undefined) => at !== undefined && now.getTime() - Date.parse(at) <= maxAgeMs;
    if (!young(this.#data.lastFetchAt))
      reasons.push(`no successful fetch in the last ${Math.round(maxAgeMs / 1000)} s`);
    if (!young(this.#data.lastObserveAt))
      reasons.push(`no successful observe in the last ${Math.round(maxAgeMs / 1000)} s`);
    if (this.#data.stalled) reasons.push('stalled: the last passes failed');
    return { ready: reasons.length === 0, reasons, ...(lease ? { role: lease.role } : {}) };
  }
}
