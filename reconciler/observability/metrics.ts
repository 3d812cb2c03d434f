import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Outcome of one reconcile pass, as counted in `keelson_reconcile_passes_total{result}`. */
export type PassResultLabel = 'success' | 'no-op' | 'failed' | 'invalid' | 'refused';

const PASS_RESULTS: readonly PassResultLabel[] = ['success', 'no-op', 'failed', 'invalid', 'refused'];
const APPLY_ACTIONS = ['create', 'update', 'replace', 'delete'] as const;

/** Which label sets exist from the start, so that every series is exported at zero before anything happens. */
export interface MetricsSeed {
  /** `{ provider, kind }` for every kind the registry knows. */
  readonly kinds: readonly { readonly provider: string; readonly kind: string }[];
  /** Alert channels that are configured (`rocketchat`, `webhook`). */
  readonly channels: readonly string[];
}

/**
 * Every metric keelson exports (prefix `keelson_`, ARCHITECTURE §8). One registry per daemon so
 * tests can build several side by side.
 */
export class KeelsonMetrics {
  readonly registry = new Registry();
  readonly passes: Counter<'result'>;
  readonly passDuration: Histogram<'result'>;
  readonly lastSuccess: Gauge;
  readonly revisionInfo: Gauge<'revision' | 'applied' | 'refused'>;
  readonly stalled: Gauge;
  readonly leader: Gauge;
  readonly leaseExpiry: Gauge;
  readonly unhealthy: Gauge;
  readonly diagnostics: Gauge<'severity'>;
  readonly desired: Gauge<'provider' | 'kind'>;
  readonly drifted: Gauge<'provider' | 'kind'>;
  readonly rolledBack: Gauge<'provider' | 'kind'>;
  readonly driftDetected: Counter<'provider' | 'kind'>;
  readonly applyActions: Counter<'provider' | 'kind' | 'action' | 'result'>;
  readonly apiRequests: Counter<'provider' | 'status'>;
  readonly requestDuration: Histogram<'provider'>;
  readonly rateBudget: Gauge<'provider'>;
  readonly alertsSent: Counter<'channel' | 'type' | 'result'>;
  readonly fetches: Counter<'result'>;
  #revision: { revision: string; applied: string; refused: string } | undefined;
  readonly #kinds = new Set<string>();

  constructor(seed: MetricsSeed = { kinds: [], channels: [] }) {
    const registers = [this.registry];
    this.passes = new Counter({
      name: 'keelson_reconcile_passes_total',
      help: 'Reconcile passes by result',
      labelNames: ['result'],
      registers,
    });
    this.passDuration = new Histogram({
      name: 'keelson_reconcile_duration_seconds',
      help: 'Duration of reconcile passes',
      labelNames: ['result'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers,
    });
    this.lastSuccess = new Gauge({
      name: 'keelson_last_successful_reconcile_timestamp_seconds',
      help: 'Unix time of the last pass that observed (and applied, in apply mode) without error; 0 before the first',
      registers,
    });
    this.revisionInfo = new Gauge({
      name: 'keelson_revision_info',
      help: 'Always 1: the revision fetched last, the revision in effect (last good), and the newest refused revision (unsigned or invalid; "none")',
      labelNames: ['revision', 'applied', 'refused'],
      registers,
    });
    this.stalled = new Gauge({
      name: 'keelson_stalled',
      help: '1 while the reconciler is stalled (passes keep failing, or nothing observed for several intervals)',
      registers,
    });
    this.leader = new Gauge({
      name: 'keelson_leader',
      help: '1 while this replica holds the lease and runs passes, 0 on a standby (1 when leasing is off)',
      registers,
    });
    this.leaseExpiry = new Gauge({
      name: 'keelson_lease_expiry_seconds',
      help: 'Unix time the leader lease, as this replica last saw it, expires (0: no lease)',
      registers,
    });
    this.unhealthy = new Gauge({
      name: 'keelson_replica_unhealthy',
      help: "1 while this replica's own endpoints (its Docker Engine) fail their health check: a healthy replica takes the lease over",
      registers,
    });
    this.diagnostics = new Gauge({
      name: 'keelson_desired_state_diagnostics',
      help: 'Problems found in the fetched revision of the desired state, by severity',
      labelNames: ['severity'],
      registers,
    });
    this.desired = new Gauge({
      name: 'keelson_desired_resources',
      help: 'Resources in the revision in effect',
      labelNames: ['provider', 'kind'],
      registers,
    });
    this.drifted = new Gauge({
      name: 'keelson_drifted_resources',
      help: 'Resources whose live state differs from Git without keelson having caused it',
      labelNames: ['provider', 'kind'],
      registers,
    });
    this.rolledBack = new Gauge({
      name: 'keelson_rolled_back_resources',
      help: 'Resources whose update to the spec in Git the provider rolled back: held, not sent again until Git changes them',
      labelNames: ['provider', 'kind'],
      registers,
    });
    this.driftDetected = new Counter({
      name: 'keelson_drift_detected_total',
      help: 'Drift observations (one per drifted resource per pass)',
      labelNames: ['provider', 'kind'],
      registers,
    });
    this.applyActions = new Counter({
      name: 'keelson_apply_actions_total',
      help: 'Changes applied, by provider, kind, action and result',
      labelNames: ['provider', 'kind', 'action', 'result'],
      registers,
    });
    this.apiRequests = new Counter({
      name: 'keelson_provider_api_requests_total',
      help: 'Requests to provider APIs by status code',
      labelNames: ['provider', 'status'],
      registers,
    });
    this.requestDuration = new Histogram({
      name: 'keelson_provider_request_duration_seconds',
      help: 'Duration of requests to provider APIs',
      labelNames: ['provider'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.rateBudget = new Gauge({
      name: 'keelson_provider_rate_budget_remaining',
      help: 'Remaining rate-limit budget per provider account as the vendor reports it',
      labelNames: ['provider'],
      registers,
    });
    this.alertsSent = new Counter({
      name: 'keelson_alerts_sent_total',
      help: 'Alert deliveries by channel, alert type and result',
      labelNames: ['channel', 'type', 'result'],
      registers,
    });
    this.fetches = new Counter({
      name: 'keelson_source_fetches_total',
      help: 'Fetches of the desired state source by result (changed, unchanged, failed, rejected)',
      labelNames: ['result'],
      registers,
    });
    this.#seed(seed);
  }

  #seed(seed: MetricsSeed): void {
    for (const result of PASS_RESULTS) {
      this.passes.inc({ result }, 0);
      this.passDuration.zero({ result });
    }
    this.lastSuccess.set(0);
    this.stalled.set(0);
    this.leader.set(1);
    this.leaseExpiry.set(0);
    this.diagnostics.set({ severity: 'error' }, 0);
    this.diagnostics.set({ severity: 'warning' }, 0);
    for (const result of ['changed', 'unchanged', 'failed', 'rejected']) this.fetches.inc({ result }, 0);
    const providers = new Set<string>();
    for (const { provider, kind } of seed.kinds) {
      providers.add(provider);
      this.#kinds.add(kind);
      this.desired.set({ provider, kind }, 0);
      this.drifted.set({ provider, kind }, 0);
      this.rolledBack.set({ provider, kind }, 0);
      this.driftDetected.inc({ provider, kind }, 0);
      for (const action of APPLY_ACTIONS) {
        for (const result of ['success', 'failed']) this.applyActions.inc({ provider, kind, action, result }, 0);
      }
    }
    for (const provider of providers) {
      this.apiRequests.inc({ provider, status: '200' }, 0);
      this.requestDuration.zero({ provider });
    }
    for (const channel of seed.channels) {
      for (const type of ['opened', 'reminder', 'resolved']) {
        for (const result of ['sent', 'failed']) this.alertsSent.inc({ channel, type, result }, 0);
      }
    }
  }

  /** Replaces the revision series so only the current pair is exported. */
  setRevision(revision: string, applied: string, refused = 'none'): void {
    const r = this.#revision;
    if (r && r.revision === revision && r.applied === applied && r.refused === refused) return;
    this.revisionInfo.reset();
    this.revisionInfo.set({ revision, applied, refused }, 1);
    this.#revision = { revision, applied, refused };
  }

  /** Sets a per-kind gauge to exactly these counts: kinds no longer present drop to zero rather than disappear. */
  setPerKind(gauge: Gauge<'provider' | 'kind'>, counts: ReadonlyMap<string, number>): void {
    for (const kind of counts.keys()) this.#kinds.add(kind);
    for (const kind of this.#kinds) gauge.set({ provider: providerName(kind), kind }, counts.get(kind) ?? 0);
  }

  async render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

function providerName(kind: string): string {
  const dot = kind.indexOf('.');
  return dot < 0 ? kind : kind.slice(0, dot);
}
