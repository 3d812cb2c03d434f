import {
  defineKind,
  deleteIgnoringMissing,
  type FieldChange,
  type HandlerContext,
  KeelsonError,
  type ObservedResource,
  type ObserveQuery,
  type ResolvedResource,
  type ResourceHandler,
  resourceKey,
  specOf,
} from '../../sdk/index.ts';
import { isAlreadyExists, isNotFound } from '../client/errors.ts';
import { netFetch } from '../client/gcp-api.ts';
import { GCP_SOURCE_LABEL, isOwnedBy, ownershipLabels, userLabels } from '../ownership.ts';
import {
  compact,
  deleteKey,
  deleting,
  fieldChanged,
  type GcpRuntime,
  labelledBase,
  numberOf,
  refreshOperations,
  requireKnown,
  shortName,
  signalOf,
  startOperation,
  unowned,
} from './common.ts';
import { archiveByHash, buildFunctionArchive } from './function-archive.ts';
import { labelsField, regionField } from './schema-parts.ts';

export const FUNCTION_KIND = 'gcp.Function';

const FIRESTORE_EVENTS = ['created', 'updated', 'deleted', 'written'] as const;
const PUBSUB_EVENT = 'google.cloud.pubsub.topic.v1.messagePublished';
const firestoreEvent = (e: string) => `google.cloud.firestore.document.v1.${e}`;
/** Set by Cloud Functions itself on every function; never drift. */
const AUTOMATIC_ENV = new Set(['LOG_EXECUTION_ID']);

export const functionSchema = defineKind({
  kind: FUNCTION_KIND,
  description:
    'A Cloud Functions (2nd gen) function, named like the resource, built from a folder under `functions/` of the repository. The folder is archived deterministically and uploaded only when its hash or the settings change.',
  spec: {
    source: {
      type: 'string',
      required: true,
      description: 'Folder of the function under `functions/`, e.g. `functions/backup`.',
    },
    runtime: { type: 'string', default: 'nodejs22', description: 'Default nodejs22.' },
    entryPoint: { type: 'string', required: true, description: 'The exported function the framework calls.' },
    region: regionField,
    description: { type: 'string', default: '' },
    env: {
      type: 'map',
      values: { type: 'string', referenceable: true },
      default: {},
      description: 'Environment variables.',
    },
    secrets: {
      type: 'map',
      default: {},
      description:
        'Environment variables read from Secret Manager: `NAME: { secret: { ref: gcp.SecretManagerSecret/x, output: id } }`.',
      values: {
        type: 'object',
        properties: {
          secret: { type: 'string', required: true, referenceable: true },
          version: { type: 'string', default: 'latest' },
        },
      },
    },
    serviceAccount: { type: 'string', referenceable: true, description: 'Email of the runtime service account.' },
    memory: { type: 'string', default: '256M', pattern: '^\\d+(M|Mi|G|Gi)$' },
    timeoutSeconds: { type: 'integer', minimum: 1, maximum: 3600, default: 60 },
    minInstances: { type: 'integer', minimum: 0, default: 0 },
    maxInstances: { type: 'integer', minimum: 1, default: 100 },
    ingress: {
      type: 'string',
      enum: ['ALLOW_ALL', 'ALLOW_INTERNAL_ONLY', 'ALLOW_INTERNAL_AND_GCLB'],
      default: 'ALLOW_ALL',
    },
    trigger: {
      type: 'object',
      default: { type: 'http' },
      replaceOnChange: false,
      description:
        'What calls the function: `{type: http}` (default), `{type: pubsub, topic}` or `{type: firestore, event: written, document: "aircall-events/{id}"}`.',
      properties: {
        type: { type: 'string', enum: ['http', 'pubsub', 'firestore'], required: true },
        topic: { type: 'string', referenceable: true, description: 'pubsub: the topic (full name or id).' },
        event: { type: 'string', enum: FIRESTORE_EVENTS, description: 'firestore: which document event.' },
        document: { type: 'string', description: 'firestore: path pattern, e.g. `aircall-events/{id}`.' },
        database: { type: 'string', description: 'firestore: database, default `(default)`.' },
        serviceAccount: { type: 'string', referenceable: true, description: 'Identity the trigger uses to invoke.' },
        retry: { type: 'boolean', description: 'Retry failed event deliveries. Default false.' },
      },
    },
    labels: labelsField,
    sourceHash: {
      type: 'string',
      description: 'Filled in by keelson from the archived source (do not write it): a change means a redeploy.',
    },
  },
  outputs: {
    url: { type: 'string', computed: true, description: 'The HTTPS URL (HTTP functions).' },
    uri: { type: 'string', computed: true, description: 'The underlying Run service URI.' },
    name: { type: 'string', computed: true },
  },
});

interface GcfFunction {
  name?: string;
  description?: string;
  state?: string | number;
  url?: string;
  labels?: Record<string, string> | null;
  buildConfig?: { runtime?: string; entryPoint?: string } | null;
  serviceConfig?: {
    uri?: string;
    timeoutSeconds?: number;
    availableMemory?: string;
    environmentVariables?: Record<string, string> | null;
    maxInstanceCount?: number;
    minInstanceCount?: number;
    serviceAccountEmail?: string;
    ingressSettings?: string | number;
    secretEnvironmentVariables?: { key?: string; secret?: string; version?: string }[] | null;
  } | null;
  eventTrigger?: {
    eventType?: string;
    pubsubTopic?: string;
    eventFilters?: { attribute?: string; value?: string; operator?: string }[] | null;
    retryPolicy?: string | number;
    serviceAccountEmail?: string;
  } | null;
}

const INGRESS = ['INGRESS_SETTINGS_UNSPECIFIED', 'ALLOW_ALL', 'ALLOW_INTERNAL_ONLY', 'ALLOW_INTERNAL_AND_GCLB'];
const enumName = (names: readonly string[], v: string | number | undefined, fallback: string): string =>
  typeof v === 'number' ? (names[v] ?? fallback) : v && !v.endsWith('_UNSPECIFIED') ? v : fallback;

/** Cloud Functions v2: one paged list per region in use; deploys are long-running operations. */
export class FunctionHandler implements ResourceHandler {
  readonly #rt: GcpRuntime;

  constructor(rt: GcpRuntime) {
    this.#rt = rt;
  }

  #region(spec: Readonly<Record<string, unknown>>): string {
    return typeof spec.region === 'string' ? spec.region : this.#rt.api.region;
  }

  #path(region: string, name: string): string {
    return `${this.#rt.api.location(region)}/functions/${name}`;
  }

  #topicPath(topic: unknown): unknown {
    return typeof topic === 'string' && !topic.includes('/') ? `${this.#rt.api.project}/topics/${topic}` : topic;
  }

  /**
   * Pure: writes references in the API's own form. The hash of the archived source folder
   * (`sourceHash`) is put into the desired spec by the load step's build (`functionArchiveBuilder`),
   * so a converged function plans as no-op and any change to its files plans one redeploy without
   * the planner reading a file.
   */
  normalize(spec: Readonly<Record<string, unknown>>): Record<string, unknown> {
    const out: Record<string, unknown> = { ...spec };
    const secrets = spec.secrets as Record<string, { secret?: unknown; version?: unknown }> | undefined;
    if (secrets) {
      out.secrets = Object.fromEntries(
        Object.entries(secrets).map(([k, v]) => [
          k,
          {
            ...v,
            secret: typeof v.secret === 'string' ? shortName(v.secret) : v.secret,
            version: v.version ?? 'latest',
          },
        ]),
      );
    }
    const trigger = spec.trigger as Record<string, unknown> | undefined;
    if (trigger?.type === 'pubsub')
      out.trigger = { ...trigger, topic: this.#topicPath(trigger.topic), retry: trigger.retry ?? false };
    if (trigger?.type === 'firestore') {
      out.trigger = { ...trigger, database: trigger.database ?? '(default)', retry: trigger.retry ?? false };
    }
    return out;
  }

  #observed(ctx: HandlerContext, fn: GcfFunction, region: string, desiredSource?: unknown): ObservedResource {
    const name = shortName(fn.name);
    const sc = fn.serviceConfig ?? {};
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(sc.environmentVariables ?? {})) if (!AUTOMATIC_ENV.has(k)) env[k] = v;
    const secrets: Record<string, unknown> = {};
    for (const s of sc.secretEnvironmentVariables ?? []) {
      if (s.key) secrets[s.key] = { secret: shortName(s.secret), version: s.version || 'latest' };
    }
    const base = labelledBase(FUNCTION_KIND, name, fn.name ?? name, fn.labels, ctx, this.#rt);
    const state = enumName(
      ['STATE_UNSPECIFIED', 'ACTIVE', 'FAILED', 'DEPLOYING', 'DELETING', 'UNKNOWN'],
      fn.state,
      'ACTIVE',
    );
    const busy = state === 'DEPLOYING' || state === 'DELETING';
    return {
      ...base,
      ready: base.ready && !busy,
      ...(state === 'FAILED' ? { message: base.message ?? 'the last deploy failed' } : {}),
      spec: compact({
        // The folder is not stored at Google; its content is, as the hash. Same hash: same source.
        source: typeof desiredSource === 'string' ? desiredSource : undefined,
        sourceHash: fn.labels?.[GCP_SOURCE_LABEL],
        runtime: fn.buildConfig?.runtime,
        entryPoint: fn.buildConfig?.entryPoint,
        region,
        description: fn.description ?? '',
        env,
        secrets,
        serviceAccount: sc.serviceAccountEmail || undefined,
        memory: sc.availableMemory || '256M',
        timeoutSeconds: numberOf(sc.timeoutSeconds) || 60,
        minInstances: numberOf(sc.minInstanceCount),
        maxInstances: numberOf(sc.maxInstanceCount) || 100,
        ingress: enumName(INGRESS, sc.ingressSettings, 'ALLOW_ALL'),
        trigger: this.#observedTrigger(fn),
        labels: userLabels(fn.labels),
      }),
      outputs: compact({ url: fn.url || sc.uri || undefined, uri: sc.uri || undefined, name: fn.name }),
    };
  }

  #observedTrigger(fn: GcfFunction): Record<string, unknown> {
    const t = fn.eventTrigger;
    if (!t?.eventType) return { type: 'http' };
    const retry = t.retryPolicy === 'RETRY_POLICY_RETRY' || t.retryPolicy === 2;
    const sa = t.serviceAccountEmail || undefined;
    if (t.eventType === PUBSUB_EVENT)
      return compact({ type: 'pubsub', topic: t.pubsubTopic, retry, serviceAccount: sa });
    const event = FIRESTORE_EVENTS.find((e) => firestoreEvent(e) === t.eventType);
    if (event) {
      const filter = (a: string) => t.eventFilters?.find((f) => f.attribute === a)?.value;
      return compact({
        type: 'firestore',
        event,
        document: filter('document'),
        database: filter('database') ?? '(default)',
        retry,
        serviceAccount: sa,
      });
    }
    return { type: 'other', eventType: t.eventType };
  }

  async observe(ctx: HandlerContext, query: ObserveQuery): Promise<ObservedResource[]> {
    await refreshOperations(this.#rt, FUNCTION_KIND);
    const api = this.#rt.api;
    const names = new Set(query.names);
    const out: ObservedResource[] = [];
    // One list across every region (`locations/-`): an owned function in any region is seen.
    const fns = await api.list<GcfFunction>(
      'list functions',
      api.clients.functions(),
      'listFunctions',
      { parent: api.location('-') },
      signalOf(ctx),
    );
    for (const fn of fns) {
      const name = shortName(fn.name);
      if (!names.has(name) && !isOwnedBy(fn.labels, ctx.owner)) continue;
      // One being deleted is gone as far as the plan is concerned.
      if (fn.state === 'DELETING' || fn.state === 4 || deleting(this.#rt, resourceKey(FUNCTION_KIND, name), fn.name))
        continue;
      const region = (fn.name ?? '').split('/')[3] ?? api.region;
      out.push(this.#observed(ctx, fn, region, query.desired.find((d) => d.name === name)?.spec.source));
    }
    // Being created and not listed yet: shown as busy, so it is not created twice.
    for (const d of query.desired) {
      if (this.#rt.operations.running(d.key) && !out.some((o) => o.key === d.key)) out.push(this.#placeholder(ctx, d));
    }
    return out;
  }

  #placeholder(_ctx: HandlerContext, desired: ResolvedResource): ObservedResource {
    return {
      key: desired.key,
      kind: FUNCTION_KIND,
      name: desired.name,
      id: this.#path(this.#region(desired.spec), desired.name),
      owned: true,
      ready: false,
      message: this.#rt.operations.message(desired.key) ?? 'deploying',
      spec: this.normalize(desired.spec),
      outputs: {},
    };
  }

  /** Archives the source, asks for an upload URL and uploads; returns the storage source to deploy. */
  async #upload(
    ctx: HandlerContext,
    desired: ResolvedResource,
    region: string,
  ): Promise<{ hash: string; storageSource: unknown }> {
    const api = this.#rt.api;
    // What the load step built and the plan compared; built here when this process did not load it.
    const archive =
      archiveByHash(desired.spec.sourceHash) ??
      buildFunctionArchive(api.root, String(desired.spec.source), desired.key);
    const [upload] = await api.call<[{ uploadUrl?: string; storageSource?: unknown }]>(
      `get an upload URL for function ${desired.name}`,
      desired.key,
      (gax) => api.clients.functions().generateUploadUrl({ parent: api.location(region) }, gax),
      { idempotent: true, ...signalOf(ctx) },
    );
    if (!upload.uploadUrl || !upload.storageSource) {
      throw new KeelsonError(`cannot deploy ${desired.key}: generateUploadUrl gave no URL`, {
        code: 'API_ERROR',
        class: 'transient',
        resource: desired.key,
      });
    }
    const url = upload.uploadUrl;
    await api.call(
      `upload the source of function ${desired.name}`,
      desired.key,
      async () => {
        const response = await netFetch(url, {
          method: 'PUT',
          headers: { 'content-type': 'application/zip' },
          body: archive.zip,
          ...signalOf(ctx),
        });
        await response.arrayBuffer();
        if (!response.ok)
          throw Object.assign(new Error(`upload answered HTTP ${response.status}`), { code: response.status });
      },
      { idempotent: true, ...signalOf(ctx) },
    );
    return { hash: archive.hash, storageSource: upload.storageSource };
  }

  #function(
    ctx: HandlerContext,
    desired: ResolvedResource,
    region: string,
    build: { hash: string; storageSource: unknown } | undefined,
  ): Record<string, unknown> {
    const spec = specOf(functionSchema, desired);
    const trigger = spec.trigger;
    const sourceHash = build?.hash ?? spec.sourceHash ?? '';
    const fn: Record<string, unknown> = {
      name: this.#path(region, desired.name),
      description: spec.description,
      environment: 'GEN_2',
      labels: ownershipLabels(spec.labels, ctx.owner, desired.protect, {
        [GCP_SOURCE_LABEL]: sourceHash,
      }),
      buildConfig: compact({
        runtime: spec.runtime,
        entryPoint: spec.entryPoint,
        source: build ? { storageSource: build.storageSource } : undefined,
      }),
      serviceConfig: compact({
        availableMemory: spec.memory,
        timeoutSeconds: spec.timeoutSeconds,
        minInstanceCount: spec.minInstances,
        maxInstanceCount: spec.maxInstances,
        ingressSettings: spec.ingress,
        environmentVariables: spec.env,
        serviceAccountEmail: spec.serviceAccount,
        secretEnvironmentVariables: Object.entries(spec.secrets)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([key, s]) => ({
            key,
            projectId: this.#rt.api.projectId,
            secret: shortName(s.secret),
            version: s.version,
          })),
      }),
    };
    if (trigger.type === 'pubsub') {
      fn.eventTrigger = compact({
        eventType: PUBSUB_EVENT,
        pubsubTopic: this.#topicPath(trigger.topic),
        retryPolicy: trigger.retry ? 'RETRY_POLICY_RETRY' : 'RETRY_POLICY_DO_NOT_RETRY',
        serviceAccountEmail: trigger.serviceAccount,
        triggerRegion: region,
      });
    } else if (trigger.type === 'firestore') {
      fn.eventTrigger = compact({
        eventType: firestoreEvent(trigger.event ?? 'written'),
        eventFilters: [
          { attribute: 'database', value: trigger.database ?? '(default)' },
          { attribute: 'document', value: trigger.document, operator: 'match-path-pattern' },
        ],
        retryPolicy: trigger.retry ? 'RETRY_POLICY_RETRY' : 'RETRY_POLICY_DO_NOT_RETRY',
        serviceAccountEmail: trigger.serviceAccount,
        triggerRegion: region,
      });
    }
    return fn;
  }

  #checkTrigger(desired: ResolvedResource): void {
    const t = desired.spec.trigger as Record<string, unknown> | undefined;
    const bad = (why: string) =>
      new KeelsonError(`${desired.key}: spec.trigger ${why}`, {
        code: 'INVALID_SPEC',
        class: 'terminal',
        resource: desired.key,
      });
    if (t?.type === 'pubsub' && !t.topic) throw bad('of type pubsub needs a topic');
    if (t?.type === 'firestore' && (!t.document || !t.event))
      throw bad('of type firestore needs an event and a document pattern');
  }

  async #read(region: string, desired: ResolvedResource, ctx: HandlerContext): Promise<GcfFunction | undefined> {
    const api = this.#rt.api;
    try {
      const [fn] = await api.call<[GcfFunction]>(
        `read function ${desired.name}`,
        desired.key,
        (gax) => api.clients.functions().getFunction({ name: this.#path(region, desired.name) }, gax),
        signalOf(ctx),
      );
      return fn;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async #after(ctx: HandlerContext, desired: ResolvedResource, region: string): Promise<ObservedResource> {
    const fn = await this.#read(region, desired, ctx);
    return fn ? this.#observed(ctx, fn, region, desired.spec.source) : this.#placeholder(ctx, desired);
  }

  async create(ctx: HandlerContext, desired: ResolvedResource): Promise<ObservedResource> {
    requireKnown(desired);
    this.#checkTrigger(desired);
    const region = this.#region(desired.spec);
    const existing = await this.#read(region, desired, ctx);
    if (existing) {
      // An earlier attempt created it (its answer was lost) or someone else did.
      if (!isOwnedBy(existing.labels, ctx.owner) && !desired.adopt) throw unowned(desired, 'function', desired.name);
      const observed = this.#observed(ctx, existing, region, desired.spec.source);
      const want =
        desired.spec.sourceHash ??
        buildFunctionArchive(this.#rt.api.root, String(desired.spec.source), desired.key).hash;
      if (isOwnedBy(existing.labels, ctx.owner) && observed.spec.sourceHash === want) {
        return observed;
      }
      return this.update(ctx, desired, observed, [
        { path: 'sourceHash' } as FieldChange,
        { path: 'env' } as FieldChange,
      ]);
    }
    const build = await this.#upload(ctx, desired, region);
    const api = this.#rt.api;
    const client = api.clients.functions();
    try {
      await startOperation(this.#rt, ctx, desired.key, `deploy function ${desired.name}`, client, (gax) =>
        client.createFunction(
          {
            parent: api.location(region),
            functionId: desired.name,
            function: this.#function(ctx, desired, region, build),
          },
          gax,
        ),
      );
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
    }
    return this.#after(ctx, desired, region);
  }

  async update(
    ctx: HandlerContext,
    desired: ResolvedResource,
    observed: ObservedResource,
    changes: readonly FieldChange[],
  ): Promise<ObservedResource> {
    requireKnown(desired);
    this.#checkTrigger(desired);
    const region = this.#region(desired.spec);
    const rebuild =
      fieldChanged(changes, 'sourceHash', 'source', 'runtime', 'entryPoint') || observed.spec.sourceHash === undefined;
    const build = rebuild ? await this.#upload(ctx, desired, region) : undefined;
    const paths = ['labels'];
    if (rebuild) paths.push('build_config');
    if (fieldChanged(changes, 'description')) paths.push('description');
    if (
      fieldChanged(
        changes,
        'env',
        'secrets',
        'serviceAccount',
        'memory',
        'timeoutSeconds',
        'minInstances',
        'maxInstances',
        'ingress',
      )
    ) {
      paths.push('service_config');
    }
    if (fieldChanged(changes, 'trigger')) paths.push('event_trigger');
    const api = this.#rt.api;
    const client = api.clients.functions();
    await startOperation(this.#rt, ctx, desired.key, `redeploy function ${desired.name}`, client, (gax) =>
      client.updateFunction({ function: this.#function(ctx, desired, region, build), updateMask: { paths } }, gax),
    );
    return this.#after(ctx, desired, region);
  }

  async delete(ctx: HandlerContext, observed: ObservedResource): Promise<void> {
    const api = this.#rt.api;
    const client = api.clients.functions();
    // Already being deleted (by an earlier call of this pass): nothing more to do.
    if (deleting(this.#rt, observed.key, observed.id)) return;
    await deleteIgnoringMissing(
      () =>
        startOperation(
          this.#rt,
          ctx,
          deleteKey(observed.key, observed.id),
          `delete function ${observed.name}`,
          client,
          (gax) => client.deleteFunction({ name: observed.id }, gax),
          true,
        ),
      isNotFound,
    );
  }
}
