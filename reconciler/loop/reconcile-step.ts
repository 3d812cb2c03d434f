import { classify, type DesiredResource, errorMessage, KeelsonError, type Logger } from '../../providers/sdk/index.ts';
import { alertFromEvent } from '../alerts/alert.ts';
import { type AlertDispatcher, addToOutbox } from '../alerts/alert-dispatcher.ts';
import { type Diagnostic, formatDiagnostic } from '../desired/diagnostic.ts';
import type { DriftAlertPolicy, DriftUpdate } from '../drift/track-drift.ts';
import { RUN_HISTORY } from '../engine/state-keeper.ts';
import type { KeelsonMetrics, PassResultLabel } from '../observability/metrics.ts';
import { type DesiredStateSource, RevisionRefusedError, type SourceSnapshot } from '../source/source.ts';
import { StateWriter } from '../state/state-writer.ts';
import type { OutboxMessage, RunRecord, StateData, StateStore } from '../state/types.ts';
import type { DaemonStatus, StatusError } from './daemon-status.ts';
import type { EnginePassOutcome, EnginePort } from './engine-port.ts';
import type { StepOutcome, TriggerReason } from './reconcile-loop.ts';

/** Everything one pass touches. */
export interface ReconcileStepOptions {
  readonly source: DesiredStateSource;
  readonly engine: EnginePort;
  readonly store: StateStore;
  /** The one writer of `store` shared with the alert dispatcher (default: a writer of its own). */
  readonly state?: StateWriter;
  readonly status: DaemonStatus;
  readonly metrics: KeelsonMetrics;
  readonly alerts: AlertDispatcher;
  readonly alertPolicy: DriftAlertPolicy;
  readonly mode: 'apply' | 'plan';
  readonly statusUrl: string;
  readonly log: Logger;
  /** Consecutive failed passes after which the daemon counts as stalled. Default 3. */
  readonly stallAfter?: number;
  readonly now?: () => Date;
}

/**
 * One reconcile pass (ARCHITECTURE §3): fetch, load (a bad revision is kept out entirely: the
 * last good one stays in effect), observe/plan/apply through the engine, then record drift,
 * alerts, status and metrics. Drift state is saved before alerts are queued, so a restart never
 * sends an alert twice.
 */
export class ReconcileStep {
  readonly #o: ReconcileStepOptions;
  #good: { revision: string; resources: readonly DesiredResource[] } | undefined;
  #fetched: string | undefined;
  /** The newest refused revision (unverified or invalid) while it is the tip; for `keelson_revision_info`. */
  #refused: string | undefined;
  #restoreTried = false;
  #failures = 0;
  readonly #state: StateWriter;
  /** Milliseconds per phase of the last pass: fetch, load, the engine's steps, report (`bench/daemon-push.ts`). */
  lastTimings: Readonly<Record<string, number>> = {};

  constructor(options: ReconcileStepOptions) {
    this.#o = options;
    this.#state = options.state ?? new StateWriter(options.store);
  }

  /** The revision in effect (last good). */
  get revision(): string | undefined {
    return this.#good?.revision;
  }

  readonly run = async (signal: AbortSignal, reason: TriggerReason): Promise<StepOutcome> => {
    const { status, metrics, log } = this.#o;
    const now = this.#o.now ?? (() => new Date());
    const started = now();
    const errors: StatusError[] = [];
    const at = () => now().toISOString();
    let fetchFailed: KeelsonError | undefined;
    const timings: Record<string, number> = {};
    this.lastTimings = timings;
    let mark = performance.now();
    const lap = (phase: string): void => {
      const t = performance.now();
      timings[phase] = (timings[phase] ?? 0) + (t - mark);
      mark = t;
    };
    if (!this.#good && !this.#restoreTried) await this.#restore(signal, now());

    let snapshot: SourceSnapshot | undefined;
    try {
      snapshot = await this.#o.source.sync(signal);
      metrics.fetches.inc({ result: snapshot.changed ? 'changed' : 'unchanged' });
      status.update({ lastFetchAt: at() });
      status.setCondition(
        'Fetched',
        'True',
        snapshot.changed ? 'NewRevision' : 'UpToDate',
        `revision ${snapshot.revision}`,
        now(),
      );
    } catch (error) {
      const k = asKeelson(error);
      fetchFailed = k;
      if (error instanceof RevisionRefusedError) {
        this.#refused = error.revision;
        this.#fetched = error.revision;
        status.addRefused({ revision: error.revision, reason: 'unverified', message: k.message, at: at() });
      }
      metrics.fetches.inc({ result: k.class === 'terminal' ? 'rejected' : 'failed' });
      errors.push(toStatusError(k, at()));
      status.setCondition('Fetched', 'False', k.class === 'terminal' ? 'Rejected' : 'FetchFailed', k.message, now());
      log.error(
        { err: k.message, code: k.code, revision: this.#good?.revision },
        'fetch failed; staying on the last good revision',
      );
    }

    lap('fetch');
    let invalid = false;
    if (snapshot && (snapshot.changed || snapshot.revision !== this.#fetched)) {
      this.#fetched = snapshot.revision;
      invalid = !(await this.#load(snapshot, now()));
    } else if (snapshot && this.#good?.revision !== snapshot.revision) {
      invalid = true;
    }
    status.update({ fetchedRevision: this.#fetched });
    lap('load');

    const good = this.#good;
    if (!good) {
      return this.#finish(
        started,
        invalid ? 'invalid' : 'failed',
        errors,
        undefined,
        now,
        fetchFailed ? { type: 'retry' } : { type: 'done' },
      );
    }

    let outcome: EnginePassOutcome;
    let outbox: Record<string, OutboxMessage[]> = {};
    try {
      outcome = await this.#o.engine.runPass({
        resources: good.resources,
        revision: good.revision,
        mode: this.#o.mode,
        signal,
        log,
        drift: this.#o.alertPolicy,
        now,
        // Inside the engine's one write of the pass: the alerts its drift calls for go into the
        // outbox with the drift records, before anything is sent, and delivered ones leave it.
        onRecord: (state, update, at) => {
          outbox = this.#queueAlerts(state, update, good.revision, at);
        },
      });
    } catch (error) {
      const k = asKeelson(error);
      errors.push(toStatusError(k, at()));
      log.error({ err: k.message, code: k.code, revision: good.revision, reason }, 'reconcile pass failed');
      status.setCondition('Reconciled', 'False', 'PassFailed', k.message, now());
      return this.#finish(
        started,
        'failed',
        errors,
        undefined,
        now,
        k.class === 'terminal' ? { type: 'done' } : { type: 'retry' },
      );
    }

    mark = performance.now();
    Object.assign(timings, outcome.timings ?? {});
    for (const e of outcome.errors) errors.push({ ...e, at: at() });
    status.update({ lastObserveAt: at(), lastPlan: outcome.plan });
    this.#reportDrift(outcome, good.revision);
    this.#o.alerts.enqueue(outbox);
    this.#countPass(outcome, good.resources);

    const applied = outcome.applied.filter((a) => a.status === 'applied').length;
    const failed = outcome.applied.filter((a) => a.status === 'failed').length;
    let result: PassResultLabel;
    if (outcome.plan.refused) result = 'refused';
    else if (errors.length > 0 || failed > 0) result = 'failed';
    else if (invalid) result = 'invalid';
    else result = applied > 0 ? 'success' : 'no-op';

    if (outcome.plan.refused) {
      status.setCondition('Reconciled', 'False', 'PlanRefused', outcome.plan.refused.message, now());
    } else if (errors.length > 0 || failed > 0) {
      status.setCondition(
        'Reconciled',
        'False',
        'ChangesFailed',
        `${failed} change(s) failed, ${errors.length} error(s); see lastErrors`,
        now(),
      );
    } else {
      const s = outcome.plan.summary;
      status.setCondition(
        'Reconciled',
        'True',
        applied > 0 ? 'Applied' : 'UpToDate',
        `${this.#o.mode === 'apply' ? `applied ${applied} change(s)` : 'plan only'}; ${outcome.plan.drift.length} drifted; create ${s.create}, update ${s.update}, replace ${s.replace}, delete ${s.delete}`,
        now(),
      );
    }
    if (result !== 'failed' && result !== 'refused') {
      status.update({ lastSuccessAt: at() });
      metrics.lastSuccess.set(now().getTime() / 1000);
    }
    // A time named by the vendor or a waiting resource comes first; else a transient error backs off.
    const transient = errors.some((e) => e.class === 'transient');
    const next: StepOutcome =
      outcome.requeueAfterMs !== undefined
        ? { type: 'requeue', afterMs: outcome.requeueAfterMs }
        : transient
          ? { type: 'retry' }
          : { type: 'done' };
    const finished = await this.#finish(started, result, errors, outcome, now, next);
    lap('report');
    return finished;
  };

  /**
   * After a restart, puts the last good revision (kept in the state store) back in effect before
   * anything else, so a refused or invalid tip never leaves the daemon with nothing to enforce.
   */
  async #restore(signal: AbortSignal, now: Date): Promise<void> {
    this.#restoreTried = true;
    const { source, log, status } = this.#o;
    if (!source.restore) return;
    let revision: string | undefined;
    try {
      revision = (await this.#state.read()).lastGood?.revision;
      if (!revision) return;
      const snapshot = await source.restore(revision, signal);
      this.#fetched = snapshot.revision;
      if (await this.#load(snapshot, now))
        log.info({ revision }, 'last good revision back in effect after the restart');
    } catch (error) {
      const k = asKeelson(error);
      if (error instanceof RevisionRefusedError)
        status.addRefused({
          revision: error.revision,
          reason: 'unverified',
          message: k.message,
          at: now.toISOString(),
        });
      log.warn({ revision, err: k.message, code: k.code }, 'cannot put the last good revision back in effect');
    }
  }

  /** Loads a fetched revision. Returns false (and keeps the last good revision) when it has errors. */
  async #load(snapshot: SourceSnapshot, now: Date): Promise<boolean> {
    const { status, metrics, log } = this.#o;
    let loaded: { resources: DesiredResource[]; diagnostics: Diagnostic[] };
    try {
      loaded = this.#o.engine.load(snapshot.dir, snapshot.root);
    } catch (error) {
      loaded = {
        resources: [],
        diagnostics: [{ severity: 'error', code: 'read-error', message: errorMessage(error) }],
      };
    }
    const bad = loaded.diagnostics.filter((d) => d.severity === 'error');
    metrics.diagnostics.set({ severity: 'error' }, bad.length);
    metrics.diagnostics.set({ severity: 'warning' }, loaded.diagnostics.length - bad.length);
    status.update({ diagnostics: loaded.diagnostics });
    for (const d of loaded.diagnostics) {
      log.warn(
        { revision: snapshot.revision, file: d.file, line: d.line, field: d.field, code: d.code },
        formatDiagnostic(d),
      );
    }
    if (bad.length > 0) {
      const keep = this.#good ? `staying on ${this.#good.revision}` : 'nothing applied yet';
      this.#refused = snapshot.revision;
      status.addRefused({
        revision: snapshot.revision,
        reason: 'invalid',
        message: `${bad.length} error(s) in the desired state; see diagnostics`,
        at: now.toISOString(),
      });
      status.setCondition(
        'Valid',
        'False',
        'InvalidRevision',
        `revision ${snapshot.revision} has ${bad.length} error(s); ${keep}`,
        now,
      );
      log.error(
        { revision: snapshot.revision, errors: bad.length, inEffect: this.#good?.revision },
        'invalid revision: not applied',
      );
      return false;
    }
    this.#good = { revision: snapshot.revision, resources: loaded.resources };
    this.#refused = undefined;
    status.update({ revision: snapshot.revision });
    try {
      await this.#state.update((state) => {
        state.lastGood = {
          revision: snapshot.revision,
          at: now.toISOString(),
          ...(snapshot.verifiedKey ? { verifiedKey: snapshot.verifiedKey } : {}),
        };
      });
    } catch (error) {
      log.error({ err: errorMessage(error) }, 'cannot record the last good revision in the state store');
    }
    status.setCondition(
      'Valid',
      'True',
      'Loaded',
      `revision ${snapshot.revision}: ${loaded.resources.length} resource(s)`,
      now,
    );
    log.info({ revision: snapshot.revision, resources: loaded.resources.length }, 'new revision loaded');
    return true;
  }

  /** Puts the alerts a pass's drift calls for into `state`'s outbox (called inside the pass's one write). */
  #queueAlerts(state: StateData, update: DriftUpdate, revision: string, now: Date): Record<string, OutboxMessage[]> {
    this.#o.alerts.settleOutbox(state);
    const alerts = update.events.map((e) => alertFromEvent(e, revision, this.#o.statusUrl, now));
    const outbox = this.#o.alerts.outboxEntries(alerts, now.toISOString());
    addToOutbox(state, outbox);
    return outbox;
  }

  /** Drift as the engine recorded it: status, metrics, logs (the alerts are queued by the caller). */
  #reportDrift(outcome: EnginePassOutcome, revision: string): void {
    const { status, metrics, log } = this.#o;
    const update = outcome.drift ?? { records: {}, events: [], healed: {} };
    if (outcome.drift) {
      status.update({ drifted: Object.values(update.records).sort((a, b) => a.key.localeCompare(b.key)) });
    }
    for (const entry of outcome.plan.drift) {
      metrics.driftDetected.inc({ provider: entry.provider, kind: entry.kind });
      log.warn(
        {
          revision,
          resource: entry.key,
          policy: entry.policy,
          fields: entry.fields.map((f) => f.path),
          fingerprint: entry.fingerprint,
        },
        'drift detected',
      );
    }
    for (const event of update.events) {
      log.info(
        { revision, resource: event.record.key, alert: event.type, fingerprint: event.record.fingerprint },
        'drift alert',
      );
    }
  }

  #countPass(outcome: EnginePassOutcome, resources: readonly DesiredResource[]): void {
    const { metrics } = this.#o;
    const desired = new Map<string, number>();
    for (const r of resources) desired.set(r.kind, (desired.get(r.kind) ?? 0) + 1);
    metrics.setPerKind(metrics.desired, desired);
    const drifted = new Map<string, number>();
    for (const d of outcome.plan.drift) drifted.set(d.kind, (drifted.get(d.kind) ?? 0) + 1);
    metrics.setPerKind(metrics.drifted, drifted);
    const rolledBack = new Map<string, number>();
    for (const c of outcome.plan.changes)
      if (c.reason === 'rolled-back') rolledBack.set(c.kind, (rolledBack.get(c.kind) ?? 0) + 1);
    metrics.setPerKind(metrics.rolledBack, rolledBack);
    for (const a of outcome.applied) {
      if (a.status === 'skipped') continue;
      metrics.applyActions.inc({
        provider: a.provider,
        kind: a.kind,
        action: a.action,
        result: a.status === 'applied' ? 'success' : 'failed',
      });
    }
    for (const [provider, remaining] of Object.entries(this.#o.engine.rateBudgets()))
      metrics.rateBudget.set({ provider }, remaining);
  }

  async #finish(
    started: Date,
    result: PassResultLabel,
    errors: StatusError[],
    outcome: EnginePassOutcome | undefined,
    now: () => Date,
    next: StepOutcome,
  ): Promise<StepOutcome> {
    const { status, metrics, log } = this.#o;
    const durationMs = now().getTime() - started.getTime();
    metrics.passes.inc({ result });
    metrics.passDuration.observe({ result }, durationMs / 1000);
    this.#failures = result === 'failed' ? this.#failures + 1 : 0;
    const stalled = this.#failures >= (this.#o.stallAfter ?? 3) || (result === 'invalid' && !this.#good);
    metrics.stalled.set(stalled ? 1 : 0);
    metrics.setRevision(this.#fetched ?? 'none', this.#good?.revision ?? 'none', this.#refused ?? 'none');
    status.setErrors(errors);
    status.setCondition(
      'Stalled',
      stalled ? 'True' : 'False',
      stalled ? 'RepeatedFailures' : 'Progressing',
      stalled ? `${this.#failures} consecutive failed passes` : 'passes complete',
      now(),
    );
    const ok =
      !stalled &&
      this.#good !== undefined &&
      status.data.conditions.find((c) => c.type === 'Reconciled')?.status === 'True';
    status.setCondition(
      'Ready',
      ok ? 'True' : 'False',
      ok ? 'Reconciled' : 'NotReconciled',
      ok ? `revision ${this.#good?.revision} in effect` : 'see the other conditions',
      now(),
    );
    status.update({ stalled, passes: status.data.passes + 1 });
    const summary = outcome
      ? `${outcome.applied.filter((a) => a.status === 'applied').length} applied, ${outcome.plan.drift.length} drifted, ${errors.length} errors`
      : `${errors.length} errors`;
    const run: RunRecord = {
      revision: this.#good?.revision ?? this.#fetched ?? 'none',
      startedAt: started.toISOString(),
      durationMs,
      result,
      summary,
    };
    // A pass that reached the engine was recorded by it (the one writer of the store); record the
    // others (invalid revision, fetch failed before any good revision, engine crashed).
    if (outcome) {
      log.info({ revision: this.#good?.revision, result, durationMs, errors: errors.length }, 'pass finished');
      return next;
    }
    try {
      await this.#state.update((state) => {
        state.runs = [...state.runs, run].slice(-RUN_HISTORY);
        this.#o.alerts.settleOutbox(state);
      });
    } catch (error) {
      log.error({ err: errorMessage(error) }, 'cannot record the run in the state store');
    }
    log.info({ revision: this.#good?.revision, result, durationMs, errors: errors.length }, 'pass finished');
    return next;
  }
}

function asKeelson(error: unknown): KeelsonError {
  if (error instanceof KeelsonError) return error;
  return new KeelsonError(`reconcile pass crashed: ${errorMessage(error)}`, {
    code: 'API_ERROR',
    class: classify(error),
    cause: error,
  });
}

function toStatusError(e: KeelsonError, at: string): StatusError {
  return { at, code: e.code, class: e.class, message: e.message, ...(e.resource ? { resource: e.resource } : {}) };
}
