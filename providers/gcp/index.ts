import {
  buildKinds,
  type HandlerContext,
  KeelsonError,
  type KindEntry,
  type KindSchema,
  type ObserveQuery,
  OperationTracker,
  type Provider,
  type ProviderModule,
  type ResourceHandler,
  schemasOf,
} from '../sdk/index.ts';
import { type GcpConfig, readGcpConfig } from './client/config.ts';
import { readFailure } from './client/errors.ts';
import { GcpApi, type GcpApiOptions } from './client/gcp-api.ts';
import { type GcpOperation, googleOperations } from './client/operation-tracker.ts';
import type { GcpRuntime } from './kinds/common.ts';
import { FirestoreDatabaseHandler, firestoreDatabaseSchema } from './kinds/firestore-database.ts';
import { FirestoreIndexHandler, firestoreIndexSchema } from './kinds/firestore-index.ts';
import { FirestoreTtlPolicyHandler, firestoreTtlSchema } from './kinds/firestore-ttl.ts';
import { FunctionHandler, functionSchema } from './kinds/function.ts';
import { functionArchiveBuilder } from './kinds/function-archive.ts';
import { IamBindingHandler, iamBindingSchema } from './kinds/iam-binding.ts';
import { ProjectServiceHandler, projectServiceSchema } from './kinds/project-service.ts';
import { RunServiceHandler, runServiceSchema } from './kinds/run-service.ts';
import { SchedulerJobHandler, schedulerJobSchema } from './kinds/scheduler-job.ts';
import { SecretManagerSecretHandler, secretSchema } from './kinds/secret.ts';
import { ServiceAccountHandler, serviceAccountSchema } from './kinds/service-account.ts';
import { PubSubSubscriptionHandler, subscriptionSchema } from './kinds/subscription.ts';
import { PubSubTopicHandler, topicSchema } from './kinds/topic.ts';

/**
 * Every Google Cloud kind, in dependency-friendly order (what others reference comes first), each
 * with how its handler is built. The one list the module and the provider both use; every handler
 * is wrapped so that an API not enabled fails its observe at once (see below).
 */
const KINDS: readonly KindEntry<GcpRuntime>[] = (
  [
    { schema: projectServiceSchema, handler: (rt) => new ProjectServiceHandler(rt) },
    { schema: serviceAccountSchema, handler: (rt) => new ServiceAccountHandler(rt) },
    { schema: secretSchema, handler: (rt) => new SecretManagerSecretHandler(rt) },
    { schema: firestoreDatabaseSchema, handler: (rt) => new FirestoreDatabaseHandler(rt) },
    { schema: firestoreIndexSchema, handler: (rt) => new FirestoreIndexHandler(rt) },
    { schema: firestoreTtlSchema, handler: (rt) => new FirestoreTtlPolicyHandler(rt) },
    { schema: topicSchema, handler: (rt) => new PubSubTopicHandler(rt) },
    { schema: subscriptionSchema, handler: (rt) => new PubSubSubscriptionHandler(rt) },
    { schema: functionSchema, handler: (rt) => new FunctionHandler(rt) },
    { schema: runServiceSchema, handler: (rt) => new RunServiceHandler(rt) },
    { schema: schedulerJobSchema, handler: (rt) => new SchedulerJobHandler(rt) },
    { schema: iamBindingSchema, handler: (rt) => new IamBindingHandler(rt) },
  ] satisfies { schema: KindSchema; handler: (rt: GcpRuntime) => ResourceHandler }[]
).map((k) => ({
  schema: k.schema,
  handler: (rt: GcpRuntime) => observeOnceWhenDisabled(k.handler(rt)),
}));

export const gcpSchemas = schemasOf(KINDS);

export interface GcpProviderOptions extends GcpApiOptions {
  /** Concurrent write calls (default 4). */
  readonly concurrency?: number;
  /** The clock (epoch ms) that decides when disabled secret versions are destroyed. */
  readonly now?: () => number;
}

export interface GcpProvider extends Provider {
  readonly api: GcpApi;
  readonly operations: OperationTracker<GcpOperation>;
}

/** A Google Cloud provider on one project: one set of clients, one rate budget, one operation tracker. */
export function createGcpProvider(config: GcpConfig, options: GcpProviderOptions = {}): GcpProvider {
  const api = new GcpApi(config, options);
  const operations = new OperationTracker(googleOperations(api));
  const rt: GcpRuntime = { api, operations, now: options.now ?? Date.now };
  const kinds = buildKinds(KINDS, rt);
  return {
    name: 'gcp',
    api,
    operations,
    concurrency: options.concurrency ?? 4,
    kinds,
    endpoint: { url: config.endpoint?.href ?? 'https://*.googleapis.com', setting: 'GCP_API_ENDPOINT' },
    rateBudget: () => api.budget.snapshot(),
    close: () => api.close(),
  };
}

/**
 * An API that is not enabled will not be enabled within the next seconds (a `gcp.ProjectService`
 * takes a while): the observe of its kinds fails at once, not after the engine's retries, and the
 * pass reports those kinds as not observable until a later pass. (Writes keep their waiting class.)
 */
function observeOnceWhenDisabled(handler: ResourceHandler): ResourceHandler {
  const wrapped: ResourceHandler = {
    async observe(ctx: HandlerContext, query: ObserveQuery) {
      try {
        return await handler.observe(ctx, query);
      } catch (error) {
        if (error instanceof KeelsonError && readFailure(error.cause).reason === 'SERVICE_DISABLED') {
          throw new KeelsonError(error.message, { code: 'NOT_READY', class: 'terminal', cause: error.cause });
        }
        throw error;
      }
    },
    create: (ctx, desired) => handler.create(ctx, desired),
    update: (ctx, desired, observed, changes) => handler.update(ctx, desired, observed, changes),
    delete: (ctx, observed) => handler.delete(ctx, observed),
  };
  // The optional verbs, bound to the handler (its private fields need it as `this`).
  const { normalize, collectGarbage, settle, preflight } = handler;
  if (normalize) wrapped.normalize = (spec) => normalize.call(handler, spec);
  if (collectGarbage) wrapped.collectGarbage = (ctx) => collectGarbage.call(handler, ctx);
  if (settle) wrapped.settle = (ctx, applied) => settle.call(handler, ctx, applied);
  if (preflight) wrapped.preflight = (ctx, desired) => preflight.call(handler, ctx, desired);
  return wrapped;
}

/** The Google Cloud provider module: unavailable (with the reason) without `GCP_PROJECT_ID`. */
export const gcpModule: ProviderModule = {
  name: 'gcp',
  schemas: gcpSchemas,
  builders: { [functionSchema.kind]: functionArchiveBuilder },
  create({ env, log }) {
    const config = readGcpConfig(env);
    if ('unavailable' in config) return config;
    // Never the credential itself: only where requests go and which kind of credential is used.
    log.info(
      {
        project: config.projectId,
        region: config.region,
        endpoint: config.endpoint?.origin ?? 'google',
        credentials: config.credentials.type,
      },
      'gcp provider configured',
    );
    return createGcpProvider(config);
  },
  // Loaded only when asked for (`keelson simulate gcp`, the demo): validating never pays for it.
  simulator: {
    async start(options) {
      const { gcpSimulatorEntry } = await import('./simulator/index.ts');
      return gcpSimulatorEntry.start(options);
    },
  },
};

export { type GcpConfig, readGcpConfig } from './client/config.ts';
