import { createRequire } from 'node:module';
import type { Firestore } from '@google-cloud/firestore';
import type { FastifyInstance } from 'fastify';
import { errorMessage, type Logger, type ProviderModule } from '../../providers/sdk/index.ts';
import { AlertDispatcher, type DeliveryPolicy } from '../alerts/alert-dispatcher.ts';
import type { AlertChannel } from '../alerts/channel.ts';
import { JsonWebhookChannel } from '../alerts/json-webhook-channel.ts';
import { RocketChatChannel } from '../alerts/rocketchat-channel.ts';
import type { DaemonConfig } from '../config/load-config.ts';
import { googleSecretVersionReader, secretManagerSource } from '../engine/secret-manager-source.ts';
import { envSecretSource, type SecretSource } from '../engine/secrets.ts';
import { buildHttpApp } from '../http/app.ts';
import { signedReadProblem } from '../http/signed-read.ts';
import { DaemonStatus } from '../loop/daemon-status.ts';
import { engineAdapter } from '../loop/engine-adapter.ts';
import type { EnginePort } from '../loop/engine-port.ts';
import { ReconcileLoop, type TriggerReason } from '../loop/reconcile-loop.ts';
import { ReconcileStep } from '../loop/reconcile-step.ts';
import { KeelsonMetrics } from '../observability/metrics.ts';
import { instrumentProviderRequests, providerRoutes } from '../observability/provider-requests.ts';
import { builtinModules } from '../providers/builtin.ts';
import { ProviderRegistry } from '../providers/registry.ts';
import { DirectorySource } from '../source/directory-source.ts';
import { GitSource } from '../source/git-source.ts';
import type { DesiredStateSource } from '../source/source.ts';
import { FileLease } from '../state/file-lease.ts';
import { FileStateStore } from '../state/file-store.ts';
import { FirestoreLease } from '../state/firestore-lease.ts';
import { FirestoreStateStore } from '../state/firestore-store.ts';
import type { LeaseBackend } from '../state/lease.ts';
import { StateWriter } from '../state/state-writer.ts';
import type { StateStore } from '../state/types.ts';
import { fencedStore, Leadership } from './leadership.ts';

/** Parts a test or the demo may swap; everything else comes from the configuration. */
export interface DaemonOverrides {
  readonly modules?: readonly ProviderModule[];
  readonly registry?: ProviderRegistry;
  readonly engine?: EnginePort;
  readonly store?: StateStore;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly delivery?: Partial<DeliveryPolicy>;
  readonly channels?: readonly AlertChannel[];
  /** Where the leader lease lives; default beside the configured store, none when `store` is given. */
  readonly lease?: LeaseBackend;
  /** `/readyz` age limit; default three poll intervals (at least 30 s). */
  readonly readyMaxAgeMs?: number;
}

/**
 * `keelson serve` put together: source, engine, state store, loop, alerts, metrics, HTTP.
 * `start()` listens and starts the loop; `stop()` stops taking new passes, lets the running step
 * finish, flushes alerts and closes everything.
 */
export class Daemon {
  readonly config: DaemonConfig;
  readonly status: DaemonStatus;
  readonly metrics: KeelsonMetrics;
  readonly app: FastifyInstance;
  readonly loop: ReconcileLoop;
  readonly step: ReconcileStep;
  readonly source: DesiredStateSource;
  readonly store: StateStore;
  readonly state: StateWriter;
  readonly alerts: AlertDispatcher;
  readonly registry: ProviderRegistry | undefined;
  /** Leader election among replicas; undefined when leasing is off. */
  readonly leadership: Leadership | undefined;
  readonly #log: Logger;
  readonly #env: Readonly<Record<string, string | undefined>>;
  #stopInstrumenting: (() => void) | undefined;
  #stopped = false;

  constructor(config: DaemonConfig, log: Logger, overrides: DaemonOverrides = {}) {
    this.config = config;
    this.#log = log;
    // Providers that read files of the revision (Worker sources) find the checkout through
    // KEELSON_CHECKOUT_DIR, also when the checkout directory was set in the config file.
    const given = overrides.env ?? process.env;
    const env =
      config.source.type === 'git' && !given.KEELSON_CHECKOUT_DIR
        ? { ...given, KEELSON_CHECKOUT_DIR: config.source.checkoutDir }
        : given;
    this.#env = env;
    const made = overrides.store ? { store: overrides.store, lease: overrides.lease } : makeStore(config);
    this.leadership =
      config.lease && made.lease
        ? new Leadership({
            backend: made.lease,
            ...config.lease,
            log,
            onChange: (leader) => {
              this.#publishLease();
              if (leader) this.loop.trigger('manual');
            },
            // A standby's loop may be backing off after a failed pass: the status follows each claim.
            onClaim: () => this.#publishLease(),
            // Read at each claim (the registry is made below): the endpoints only this replica has.
            health: (timeoutMs) => localHealth(this.registry, timeoutMs),
          })
        : undefined;
    // Every state write of a replica passes the fence: one that lost the lease writes nothing.
    this.store = this.leadership ? fencedStore(made.store, this.leadership) : made.store;
    this.state = new StateWriter(this.store);
    this.registry = overrides.engine
      ? overrides.registry
      : (overrides.registry ?? ProviderRegistry.create(overrides.modules ?? builtinModules, { env, log }));
    const secrets = makeSecretSource(config, env);
    const engine =
      overrides.engine ??
      engineAdapter({
        registry: this.registry as ProviderRegistry,
        store: this.store,
        owner: config.owner,
        secrets,
        deletionBudget: config.pass.deletionBudget,
      });
    const unavailable = engine.unavailableProviders();
    for (const [provider, why] of Object.entries(unavailable))
      log.warn({ provider, why }, 'provider unavailable; the others carry on');
    const channels: AlertChannel[] = [...(overrides.channels ?? [])];
    if (config.alerts.rocketchatUrl) channels.push(new RocketChatChannel(config.alerts.rocketchatUrl));
    if (config.alerts.webhook)
      channels.push(new JsonWebhookChannel(config.alerts.webhook.url, config.alerts.webhook.secret));
    // Both built-in channels are seeded even when not configured, so dashboards see the series from the start.
    const channelNames = [...new Set(['rocketchat', 'webhook', ...channels.map((c) => c.name)])];
    this.metrics = new KeelsonMetrics({ kinds: engine.kinds(), channels: channelNames });
    this.alerts = new AlertDispatcher({
      channels,
      log,
      metrics: this.metrics,
      ...(overrides.delivery ? { policy: overrides.delivery } : {}),
    });
    this.status = new DaemonStatus(config.mode, unavailable);
    if (config.http.links.length > 0) this.status.update({ links: config.http.links });
    this.source = makeSource(config, log);
    this.step = new ReconcileStep({
      source: this.source,
      engine,
      store: this.store,
      state: this.state,
      status: this.status,
      metrics: this.metrics,
      alerts: this.alerts,
      alertPolicy: { afterObservations: config.alerts.afterObservations, reminderMs: config.alerts.reminderMs },
      mode: config.mode,
      statusUrl: `${config.http.publicUrl}/status`,
      log,
    });
    const leadership = this.leadership;
    // Only the leader runs passes; a standby checks again at the next renewal.
    const run: typeof this.step.run = async (signal, reason) => {
      this.#publishLease();
      if (leadership && !leadership.isLeader) return { type: 'requeue', afterMs: leadership.view.renewMs };
      return this.step.run(signal, reason);
    };
    this.loop = new ReconcileLoop(run, {
      intervalMs: config.pollIntervalMs,
      jitter: config.jitter,
      timeoutMs: config.pass.timeoutMs,
      maxBackoffMs: config.pass.maxBackoffMs,
      log,
    });
    this.app = buildHttpApp({
      status: this.status,
      metrics: this.metrics,
      requestPass: (reason) => this.loop.trigger(reason),
      webhookSecret: config.webhook.secret,
      webhookRatePerMinute: config.webhook.ratePerMinute,
      readyMaxAgeMs: overrides.readyMaxAgeMs ?? Math.max(30_000, config.pollIntervalMs * 3),
      log,
    });
    // Versions only (never values), for the Secrets UI's propagation view: read-only, and signed
    // with the webhook secret (signed-read.ts) because it says which secrets exist.
    this.app.get('/status/secrets', async (request, reply) => {
      const problem = signedReadProblem(request.headers, '/status/secrets', config.webhook.secret);
      if (problem) return reply.code(401).send({ error: 'unauthorized', reason: problem });
      const pinned = config.secrets.source === 'secret-manager' ? config.secrets.versions : {};
      return {
        source: config.secrets.source,
        passes: this.status.data.passes,
        versions: secrets.versions?.() ?? {},
        pinned,
      };
    });
  }

  /** Listens on the configured address and starts the loop. Resolves with the URL it listens on. */
  async start(): Promise<string> {
    // A state store that cannot be read (damaged, wrong shape) stops keelson here, before any pass
    // could act without knowing what it owns; the store is left as it is.
    const state = await this.state.read();
    // A deep accept queue: with Node's default (511) a burst of scrapers overflows it, and the
    // kernel drops the SYN of a liveness probe, which then waits seconds for its retransmission.
    const address = await this.app.listen({ host: this.config.http.host, port: this.config.http.port, backlog: 4096 });
    this.#stopInstrumenting = instrumentProviderRequests(this.metrics, providerRoutes(this.#env));
    this.source.watch?.(() => this.trigger('file-change'));
    this.alerts.resume(state.outbox);
    await this.leadership?.start();
    this.#publishLease();
    this.loop.start();
    this.#log.info(
      { address, source: this.source.description, mode: this.config.mode, owner: this.config.owner },
      'keelson is serving',
    );
    return address;
  }

  /** The lease on /status, /readyz and /metrics. */
  #publishLease(): void {
    const leadership = this.leadership;
    if (!leadership) return;
    const v = leadership.view;
    const lease = {
      role: v.role,
      holder: v.holder,
      leader: v.leader,
      generation: v.generation,
      expiresAt: v.expiresAt !== undefined ? new Date(v.expiresAt).toISOString() : undefined,
      ...(v.unhealthy !== undefined ? { unhealthy: v.unhealthy } : {}),
    };
    const was = this.status.data.lease;
    if (!was || JSON.stringify(was) !== JSON.stringify(lease)) this.status.update({ lease });
    this.metrics.leader.set(v.role === 'leader' ? 1 : 0);
    this.metrics.leaseExpiry.set(v.expiresAt !== undefined ? v.expiresAt / 1000 : 0);
    this.metrics.unhealthy.set(v.unhealthy !== undefined ? 1 : 0);
  }

  trigger(reason: TriggerReason): void {
    this.loop.trigger(reason);
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#log.info({}, 'shutting down: no new pass; waiting for the running one');
    await this.loop.stop();
    this.#stopInstrumenting?.();
    await this.alerts.close();
    try {
      if (this.leadership?.isLeader !== false) await this.state.update((state) => this.alerts.settleOutbox(state));
    } catch (error) {
      this.#log.warn(
        { err: errorMessage(error) },
        'cannot record delivered alerts; they are sent again after a restart',
      );
    }
    // Given up after the last write, so a standby takes over at once instead of after the expiry.
    await this.leadership?.stop();
    this.#publishLease();
    await this.app.close();
    await this.source.close?.();
    await this.store.close?.();
    for (const p of this.registry?.providers() ?? []) await p.close?.();
    this.#log.info({}, 'stopped');
  }
}

/**
 * What is wrong with the endpoints that belong to this replica alone (`Provider.localHealth`: the
 * Swarm provider's own Docker Engine), or undefined when they all answer. Cloud APIs are not
 * asked: every replica reaches them alike, so a standby would be no better off.
 */
async function localHealth(registry: ProviderRegistry | undefined, timeoutMs: number): Promise<string | undefined> {
  const problems: string[] = [];
  await Promise.all(
    (registry?.providers() ?? []).map(async (p) => {
      try {
        await p.localHealth?.(timeoutMs);
      } catch (error) {
        problems.push(`${p.name}: ${errorMessage(error)}`);
      }
    }),
  );
  return problems.length > 0 ? problems.sort().join('; ') : undefined;
}

function makeStore(config: DaemonConfig): { store: StateStore; lease: LeaseBackend } {
  if (config.state.backend === 'file')
    return { store: new FileStateStore(config.state.path), lease: new FileLease(config.state.path) };
  // Against the emulator no credential is used at all: say so explicitly, or Google's auth library
  // probes the cloud metadata server (169.254.169.254) looking for one.
  if (process.env.FIRESTORE_EMULATOR_HOST) process.env.METADATA_SERVER_DETECTION ??= 'none';
  // Required only for this backend: a daemon on the file store never loads the Firestore client (gRPC).
  const { Firestore: FirestoreClient } = createRequire(import.meta.url)('@google-cloud/firestore') as {
    Firestore: typeof Firestore;
  };
  const db = new FirestoreClient({ projectId: config.state.projectId });
  return {
    store: new FirestoreStateStore(
      db,
      config.state.collection,
      config.owner,
      process.env.KEELSON_INSTALLATION_KEY_FILE,
    ),
    lease: new FirestoreLease(db, config.state.collection, config.owner),
  };
}

/** The configured secret source (`secrets.source`); `keelson bootstrap` reads keelson's own secrets from it too. */
export function makeSecretSource(
  config: DaemonConfig,
  env: Readonly<Record<string, string | undefined>>,
): SecretSource {
  const s = config.secrets;
  if (s.source === 'secret-manager')
    return secretManagerSource({ project: s.project, versions: s.versions, reader: googleSecretVersionReader(env) });
  return envSecretSource(env, s.source === 'dir' ? config.secretsDir : undefined);
}

/** The configured desired-state source (Git or a directory), as `keelson serve` and `keelson bootstrap` follow it. */
export function makeSource(config: DaemonConfig, log: Logger): DesiredStateSource {
  const s = config.source;
  if (s.type === 'directory') return new DirectorySource(s.directory, s.debounceMs);
  return new GitSource({
    url: s.url,
    branch: s.branch,
    path: s.path,
    checkoutDir: s.checkoutDir,
    credentials: {
      username: s.username,
      ...(s.token ? { token: s.token } : {}),
      ...(s.sshKeyFile ? { sshKeyFile: s.sshKeyFile } : {}),
      ...(s.knownHostsFile ? { knownHostsFile: s.knownHostsFile } : {}),
    },
    ...(s.verify ? { verify: s.verify } : {}),
    log,
  });
}
