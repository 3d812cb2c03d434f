import { randomBytes, randomUUID } from 'node:crypto';
import { ApiError, alreadyExists, failedPrecondition, invalidArgument, notFound, raise } from './api-error.ts';
import { checkServiceAccount } from './api-iam.ts';
import type { SimContext } from './context.ts';
import { type Operations, render, typeUrl } from './operations.ts';
import { canonical } from './proto-types.ts';
import { applyMask, checkId, checkLabels, maskPaths, page } from './resource-helpers.ts';
import { ok, type Route, route } from './router.ts';
import type { Json } from './state.ts';

const FUNCTION_ID = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
export const FIRESTORE_EVENT_PREFIX = 'google.cloud.firestore.document.v1.';
export const PUBSUB_EVENT = 'google.cloud.pubsub.topic.v1.messagePublished';
const FIRESTORE_EVENTS = ['created', 'updated', 'deleted', 'written'].flatMap((e) => [
  `${FIRESTORE_EVENT_PREFIX}${e}`,
  `${FIRESTORE_EVENT_PREFIX}${e}.withAuthContext`,
]);

/** What runs deployed functions (see function-host.ts). */
export interface FunctionDeployer {
  /** Starts (or restarts) the function's current revision; throws an ApiError when it cannot start. */
  deploy(fn: Json): Promise<void>;
  stop(name: string): Promise<void>;
}

/** The URL the simulator serves a function at (a proxy to its Functions Framework process). */
export function functionUrl(ctx: SimContext, name: string): string {
  const [, project, , location, , id] = name.split('/');
  return `${ctx.url}/cloudfunctions/${project}/${location}/${id}`;
}

/**
 * Cloud Functions v2: generateUploadUrl (+ the upload itself), create/update/delete as long-running
 * operations (DEPLOYING → ACTIVE, the function is started when the operation finishes), get, list,
 * runtimes. Pub/Sub triggers get an Eventarc push subscription, as on GCP.
 */
export function functionsRoutes(ctx: SimContext, ops: Operations, deployer: FunctionDeployer): Route[] {
  const d = ctx.state.data;
  const base = '/v2/projects/{project}/locations/{location}/functions';
  const fnName = (p: Record<string, string>) => `projects/${p.project}/locations/${p.location}/functions/${p.fn}`;
  const fn = (name: string) => d.functions[name] ?? raise(notFound('Function', name));
  const opName = (p: Record<string, string>) =>
    `projects/${p.project}/locations/${p.location}/operations/operation-${ctx.clock.now()}-${randomBytes(13).toString('hex')}`;
  const metadata = (target: string, verb: string, requestResource?: Json): Json => ({
    '@type': typeUrl('google.cloud.functions.v2.OperationMetadata'),
    createTime: ctx.timestamp(),
    target,
    verb,
    apiVersion: 'v2',
    cancelRequested: false,
    ...(requestResource
      ? { requestResource: { '@type': typeUrl('google.cloud.functions.v2.Function'), ...requestResource } }
      : {}),
    stages: [
      { name: 'BUILD', state: 'NOT_STARTED' },
      { name: 'SERVICE', state: 'NOT_STARTED' },
      { name: 'TRIGGER', state: 'NOT_STARTED' },
    ],
  });

  const validate = (f: Json): void => {
    checkLabels(f.labels);
    const build = (f.buildConfig ?? {}) as Json;
    if (!build.runtime) throw invalidArgument('function.build_config.runtime', 'is required (e.g. nodejs22)');
    if (!/^nodejs\d+$/.test(build.runtime as string))
      throw invalidArgument(
        'function.build_config.runtime',
        `the simulator runs Node.js functions only, not ${String(build.runtime)}`,
      );
    if (!build.entryPoint) throw invalidArgument('function.build_config.entry_point', 'is required');
    const source = ((build.source ?? {}) as Json).storageSource as Json | undefined;
    if (!source?.bucket || !source.object)
      throw invalidArgument(
        'function.build_config.source.storage_source',
        'bucket and object are required (from generateUploadUrl)',
      );
    const trigger = f.eventTrigger as Json | undefined;
    if (trigger) {
      const type = String(trigger.eventType ?? '');
      if (type === PUBSUB_EVENT) {
        if (!/^projects\/[^/]+\/topics\/[^/]+$/.test(String(trigger.pubsubTopic ?? '')))
          throw invalidArgument('function.event_trigger.pubsub_topic', 'must be projects/P/topics/T');
      } else if (FIRESTORE_EVENTS.includes(type)) {
        const filters = (trigger.eventFilters ?? []) as Json[];
        if (!filters.some((x) => x.attribute === 'database'))
          throw invalidArgument(
            'function.event_trigger.event_filters',
            'a Firestore trigger needs a "database" filter',
          );
        for (const [i, x] of filters.entries()) {
          if (!['database', 'namespace', 'document'].includes(String(x.attribute)))
            throw invalidArgument(
              `function.event_trigger.event_filters[${i}].attribute`,
              `"${String(x.attribute)}" is not database, namespace or document`,
            );
          if (x.operator !== undefined && x.operator !== 'match-path-pattern')
            throw invalidArgument(
              `function.event_trigger.event_filters[${i}].operator`,
              'only match-path-pattern is supported',
            );
        }
      } else {
        throw invalidArgument(
          'function.event_trigger.event_type',
          `the simulator delivers ${PUBSUB_EVENT} and ${FIRESTORE_EVENT_PREFIX}* events, not "${type}"`,
        );
      }
    }
    const sc = (f.serviceConfig ?? {}) as Json;
    checkServiceAccount(ctx, sc.serviceAccountEmail, 'function.service_config.service_account_email');
    checkServiceAccount(ctx, trigger?.serviceAccountEmail, 'function.event_trigger.service_account_email');
    if (sc.availableMemory !== undefined && !/^\d+(\.\d+)?(k|M|G|T|Ki|Mi|Gi|Ti)?$/.test(String(sc.availableMemory)))
      throw invalidArgument(
        'function.service_config.available_memory',
        `"${String(sc.availableMemory)}" is not a quantity such as 256M or 1Gi`,
      );
    if (
      sc.minInstanceCount !== undefined &&
      sc.maxInstanceCount !== undefined &&
      Number(sc.minInstanceCount) > Number(sc.maxInstanceCount)
    )
      throw invalidArgument('function.service_config.min_instance_count', 'must not exceed max_instance_count');
    const timeout = Number(sc.timeoutSeconds ?? 60);
    if (timeout < 1 || timeout > (trigger ? 540 : 3600))
      throw invalidArgument('function.service_config.timeout_seconds', `must be 1-${trigger ? 540 : 3600}`);
    for (const [i, s] of ((sc.secretEnvironmentVariables ?? []) as Json[]).entries()) {
      if (!s.key || !s.secret)
        throw invalidArgument(
          `function.service_config.secret_environment_variables[${i}]`,
          'key and secret are required',
        );
    }
  };

  /** Output-only fields, filled as GCP does. */
  const complete = (f: Json, name: string): Json => {
    const id = name.split('/').at(-1)!;
    const build = (f.buildConfig ?? {}) as Json;
    const sc = (f.serviceConfig ?? {}) as Json;
    const url = functionUrl(ctx, name);
    const out: Json = {
      ...f,
      name,
      environment: 'GEN_2',
      buildConfig: {
        ...build,
        dockerRegistry: 'ARTIFACT_REGISTRY',
        sourceProvenance: {
          resolvedStorageSource: {
            ...(((build.source ?? {}) as Json).storageSource as Json),
            generation: String(ctx.clock.now()),
          },
        },
      },
      serviceConfig: {
        timeoutSeconds: 60,
        availableMemory: '256M',
        availableCpu: '0.1666',
        maxInstanceCount: 100,
        ingressSettings: 'ALLOW_ALL',
        allTrafficOnLatestRevision: true,
        maxInstanceRequestConcurrency: 1,
        serviceAccountEmail: `${ctx.projectNumber}-compute@developer.gserviceaccount.com`,
        ...sc,
        service: `projects/${ctx.projectId}/locations/${ctx.region}/services/${id}`,
        uri: url,
      },
      url,
    };
    const trigger = f.eventTrigger as Json | undefined;
    if (trigger) {
      out.eventTrigger = {
        triggerRegion: ctx.region,
        serviceAccountEmail: `${ctx.projectNumber}-compute@developer.gserviceaccount.com`,
        ...trigger,
        trigger: `projects/${ctx.projectId}/locations/${ctx.region}/triggers/${id}-${randomBytes(3).toString('hex')}`,
      };
    }
    return out;
  };

  const startDeploy = (
    p: Record<string, string>,
    name: string,
    verb: 'create' | 'update',
    next: Json,
    previous?: Json,
  ) => {
    next.state = 'DEPLOYING';
    next.updateTime = ctx.timestamp();
    d.functions[name] = next;
    ctx.state.changed();
    const op = ops.start({
      name: opName(p),
      kind: 'functions.deploy',
      target: name,
      metadata: metadata(name, verb, next),
      input: previous ? { previous } : {},
    });
    return ok(render(op));
  };

  ops.register('functions.deploy', async (op) => {
    const f = d.functions[op.target] ?? raise(new ApiError('ABORTED', `${op.target} was deleted while deploying`));
    const previous = op.input?.previous as Json | undefined;
    try {
      const source = ((((f.buildConfig as Json).source as Json).storageSource as Json) ?? {}) as Json;
      if (!d.uploads[source.object as string])
        throw failedPrecondition(
          `Build failed: the source object gs://${String(source.bucket)}/${String(source.object)} does not exist (upload it to the generateUploadUrl answer first).`,
        );
      const trigger = f.eventTrigger as Json | undefined;
      if (trigger?.eventType === PUBSUB_EVENT && !d.topics[trigger.pubsubTopic as string])
        throw failedPrecondition(`Trigger creation failed: topic ${String(trigger.pubsubTopic)} does not exist.`);
      f.serviceConfig = {
        ...(f.serviceConfig as Json),
        revision: `${op.target.split('/').at(-1)}-${String(ctx.state.next()).padStart(5, '0')}-${randomBytes(2).toString('hex').slice(0, 3)}`,
      };
      await deployer.deploy(f);
      wireTrigger(ctx, f, previous);
      f.state = 'ACTIVE';
      delete f.stateMessages;
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError('INTERNAL', (e as Error).message);
      if (previous) {
        d.functions[op.target] = { ...previous, state: 'ACTIVE' };
      } else {
        f.state = 'FAILED';
        f.stateMessages = [{ severity: 'ERROR', type: 'DeploymentFailed', message: err.message }];
      }
      ctx.state.changed();
      throw err;
    }
    f.updateTime = ctx.timestamp();
    ctx.state.changed();
    return { '@type': typeUrl('google.cloud.functions.v2.Function'), ...f };
  });
  ops.register('functions.delete', async (op) => {
    const f = d.functions[op.target];
    await deployer.stop(op.target);
    if (f) unwireTrigger(ctx, op.target);
    delete d.functions[op.target];
    delete d.policies[op.target];
    ctx.state.changed();
    return { '@type': typeUrl('google.protobuf.Empty') };
  });

  return [
    route('functions', 'POST', `${base}:generateUploadUrl`, (req) => {
      const object = `${randomUUID()}.zip`;
      const bucket = `gcf-v2-uploads-${ctx.projectNumber}.${req.params.location}.cloudfunctions.appspot.com`;
      const signature = randomBytes(16).toString('hex');
      return ok({
        uploadUrl: `${ctx.url}/upload/storage/${bucket}/${object}?GoogleAccessId=sim&Expires=${Math.floor(ctx.clock.now() / 1000) + 3600}&Signature=${signature}`,
        storageSource: { bucket, object },
      });
    }),
    route('functions', 'POST', base, (req) => {
      const id = checkId(
        req.query.get('functionId'),
        'function_id',
        FUNCTION_ID,
        'must be 1-63 lowercase letters, digits and "-", starting with a letter',
      );
      const name = fnName({ ...req.params, fn: id });
      if (d.functions[name]) throw alreadyExists('Function', name);
      const body = canonical('google.cloud.functions.v2.Function', req.body, 'function');
      validate(body);
      const next = complete({ ...body, createTime: ctx.timestamp() }, name);
      return startDeploy(req.params, name, 'create', next);
    }),
    route('functions', 'GET', base, (req) => {
      const prefix = `projects/${req.params.project}/locations/${req.params.location}/functions/`;
      const all = req.params.location === '-';
      const items = Object.keys(d.functions)
        .filter((k) => (all ? k.startsWith(`projects/${req.params.project}/`) : k.startsWith(prefix)))
        .sort()
        .map((k) => d.functions[k]);
      return ok(page(items, req.query, 'functions', 100, 1000));
    }),
    route('functions', 'GET', `${base}/{fn}`, (req) => ok(fn(fnName(req.params)))),
    route('functions', 'PATCH', `${base}/{fn}`, (req) => {
      const name = fnName(req.params);
      const current = fn(name);
      if (ops.busy(name))
        throw new ApiError(
          'ABORTED',
          `An operation on function ${name} is already in progress. Please try again later.`,
        );
      const body = canonical('google.cloud.functions.v2.Function', req.body, 'function');
      const paths = maskPaths(req.query.get('updateMask')) ?? Object.keys(body).filter((k) => k !== 'name');
      const merged = applyMask(current, body, paths, [
        'description',
        'labels',
        'buildConfig',
        'serviceConfig',
        'eventTrigger',
        'kmsKeyName',
      ]);
      validate(merged);
      const { state: _s, url: _u, updateTime: _t, ...rest } = merged;
      const next = complete({ ...rest, eventTrigger: merged.eventTrigger }, name);
      if (!merged.eventTrigger) delete next.eventTrigger;
      else if (
        (current.eventTrigger as Json | undefined)?.trigger &&
        JSON.stringify(stripTrigger(current.eventTrigger as Json)) ===
          JSON.stringify(stripTrigger(merged.eventTrigger as Json))
      )
        (next.eventTrigger as Json).trigger = (current.eventTrigger as Json).trigger;
      return startDeploy(req.params, name, 'update', next, current);
    }),
    route('functions', 'DELETE', `${base}/{fn}`, (req) => {
      const name = fnName(req.params);
      const current = fn(name);
      if (ops.busy(name))
        throw new ApiError(
          'ABORTED',
          `An operation on function ${name} is already in progress. Please try again later.`,
        );
      current.state = 'DELETING';
      const op = ops.start({
        name: opName(req.params),
        kind: 'functions.delete',
        target: name,
        metadata: metadata(name, 'delete'),
      });
      return ok(render(op));
    }),
    route('functions', 'GET', '/v2/projects/{project}/locations/{location}/runtimes', () =>
      ok({
        runtimes: ['nodejs20', 'nodejs22', 'nodejs24'].map((n) => ({
          name: n,
          displayName: `Node.js ${n.slice(6)}`,
          stage: 'GA',
          environment: 'GEN_2',
        })),
      }),
    ),
  ];
}

function stripTrigger(t: Json): Json {
  const { trigger: _t, ...rest } = t;
  return rest;
}

/** Pub/Sub triggers: the Eventarc push subscription to the function (kept across redeploys). */
function wireTrigger(ctx: SimContext, f: Json, previous: Json | undefined): void {
  const d = ctx.state.data;
  const name = f.name as string;
  const trigger = f.eventTrigger as Json | undefined;
  const existing = Object.entries(d.eventarc).find(([, fnName]) => fnName === name)?.[0];
  if (trigger?.eventType !== PUBSUB_EVENT) {
    if (existing) unwireTrigger(ctx, name);
    return;
  }
  if (existing && d.subscriptions[existing]?.topic === trigger.pubsubTopic && previous) {
    (f.eventTrigger as Json).pubsubTopic = trigger.pubsubTopic;
    return;
  }
  if (existing) unwireTrigger(ctx, name);
  const id = name.split('/').at(-1)!;
  const n = String(ctx.state.next()).padStart(3, '0');
  const sub = `projects/${ctx.projectId}/subscriptions/eventarc-${ctx.region}-${id}-${n}-sub-${n}`;
  d.subscriptions[sub] = {
    name: sub,
    topic: trigger.pubsubTopic,
    pushConfig: {
      pushEndpoint: functionUrl(ctx, name),
      oidcToken: { serviceAccountEmail: trigger.serviceAccountEmail, audience: functionUrl(ctx, name) },
    },
    ackDeadlineSeconds: 600,
    messageRetentionDuration: '86400s',
    retryPolicy: { minimumBackoff: '10s', maximumBackoff: '600s' },
    labels: { 'goog-eventarc': '' },
    expirationPolicy: {},
    state: 'ACTIVE',
  };
  d.eventarc[sub] = name;
}

function unwireTrigger(ctx: SimContext, name: string): void {
  const d = ctx.state.data;
  for (const [sub, fnName] of Object.entries(d.eventarc)) {
    if (fnName !== name) continue;
    delete d.eventarc[sub];
    delete d.subscriptions[sub];
    delete d.backlog[sub];
  }
}
