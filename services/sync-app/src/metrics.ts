import { Counter, Gauge, Registry } from 'prom-client';

/** The sync app's metrics (prefix `sync_app_`); every one starts at zero. */
export function syncMetrics() {
  const registry = new Registry();
  const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
    new Counter<L>({ name: `sync_app_${name}`, help, labelNames, registers: [registry] });
  const m = {
    registry,
    runs: counter('runs_total', 'Reconciliation runs, by result (ok, failed)', ['result']),
    documents: counter('documents_total', 'Firestore documents read'),
    backfilled: counter('backfilled_total', 'Sources (re)indexed because Qdrant was missing or behind'),
    orphans: counter('orphans_deleted_total', 'Sources whose points were deleted because their document is gone'),
    reembedded: counter('reembedded_points_total', 'Points embedded again after a model change'),
    summaries: counter('summaries_total', 'Summaries of long texts, by result (made, rate-limited, failed)', [
      'result',
    ]),
    archived: counter('archived_total', 'Attachments archived to S3, by result (stored, failed)', ['result']),
    errors: counter('errors_total', 'Errors, by stage', ['stage']),
    lastSuccess: new Gauge({
      name: 'sync_app_last_success_timestamp_seconds',
      help: 'End of the last successful run (unix seconds)',
      registers: [registry],
    }),
    lastDuration: new Gauge({
      name: 'sync_app_last_run_duration_seconds',
      help: 'Duration of the last run',
      registers: [registry],
    }),
    running: new Gauge({ name: 'sync_app_running', help: '1 while a run is in progress', registers: [registry] }),
  };
  for (const r of ['ok', 'failed']) m.runs.inc({ result: r }, 0);
  for (const r of ['made', 'rate-limited', 'failed']) m.summaries.inc({ result: r }, 0);
  for (const r of ['stored', 'failed']) m.archived.inc({ result: r }, 0);
  for (const s of ['firestore', 'qdrant', 'summary', 'archive']) m.errors.inc({ stage: s }, 0);
  return m;
}

export type SyncMetrics = ReturnType<typeof syncMetrics>;
