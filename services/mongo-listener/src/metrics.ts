import { Counter, Gauge, Registry } from 'prom-client';

/** The listener's Prometheus metrics (prefix `mongo_listener_`); every one starts at zero. */
export interface ListenerMetrics {
  readonly registry: Registry;
  readonly events: Counter<'operation'>;
  readonly published: Counter<'op'>;
  readonly skipped: Counter<'reason'>;
  readonly errors: Counter<'stage'>;
  readonly alerts: Counter<'reason'>;
  readonly resumeFallbacks: Counter;
  /** Seconds between a change and its processing (the last one). */
  readonly lag: Gauge;
  readonly lastProcessed: Gauge;
}

export function listenerMetrics(): ListenerMetrics {
  const registry = new Registry();
  const m = {
    registry,
    events: new Counter({
      name: 'mongo_listener_events_total',
      help: 'Change events received, by operation',
      labelNames: ['operation'],
      registers: [registry],
    }),
    published: new Counter({
      name: 'mongo_listener_published_total',
      help: 'Messages Pub/Sub acknowledged, by op (upsert, delete)',
      labelNames: ['op'],
      registers: [registry],
    }),
    skipped: new Counter({
      name: 'mongo_listener_skipped_total',
      help: 'Changes not published, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    errors: new Counter({
      name: 'mongo_listener_errors_total',
      help: 'Failures, by stage (stream, publish)',
      labelNames: ['stage'],
      registers: [registry],
    }),
    alerts: new Counter({
      name: 'mongo_listener_alerts_total',
      help: 'Alerts raised, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    resumeFallbacks: new Counter({
      name: 'mongo_listener_resume_fallbacks_total',
      help: 'Times the resume token was lost and the listener caught up by time',
      registers: [registry],
    }),
    lag: new Gauge({
      name: 'mongo_listener_lag_seconds',
      help: 'Seconds between the last processed change and its processing',
      registers: [registry],
    }),
    lastProcessed: new Gauge({
      name: 'mongo_listener_last_processed_timestamp_seconds',
      help: 'Time of the last processed change (unix seconds)',
      registers: [registry],
    }),
  };
  for (const op of ['insert', 'update', 'replace', 'delete']) m.events.inc({ operation: op }, 0);
  for (const op of ['upsert', 'delete']) m.published.inc({ op }, 0);
  for (const reason of ['system-message', 'skipped-user', 'gone']) m.skipped.inc({ reason }, 0);
  for (const stage of ['stream', 'publish']) m.errors.inc({ stage }, 0);
  m.alerts.inc({ reason: 'history-lost' }, 0);
  return m;
}
