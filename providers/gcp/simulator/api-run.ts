import { randomBytes, randomUUID } from 'node:crypto';
import { ApiError, alreadyExists, invalidArgument, notFound, raise } from './api-error.ts';
import type { SimContext } from './context.ts';
import { type Operations, render, typeUrl } from './operations.ts';
import { canonical } from './proto-types.ts';
import { checkId, checkLabels, etagOf, page } from './resource-helpers.ts';
import { ok, type Route, route } from './router.ts';
import type { Json } from './state.ts';

const SERVICE_ID = /^[a-z]([-a-z0-9]{0,47}[a-z0-9])?$/;

/**
 * Cloud Run Admin v2 services: create, update (whole service; `generation` counts), delete as
 * long-running operations, get, list. The images are not run (no container runtime here).
 */
export function runRoutes(ctx: SimContext, ops: Operations): Route[] {
  const d = ctx.state.data;
  const base = '/v2/projects/{project}/locations/{location}/services';
  const svcName = (p: Record<string, string>) => `projects/${p.project}/locations/${p.location}/services/${p.svc}`;
  const svc = (name: string) => d.runServices[name] ?? raise(notFound('Service', name));
  const opName = (p: Record<string, string>) =>
    `projects/${p.project}/locations/${p.location}/operations/${randomUUID()}`;

  const validate = (s: Json) => {
    checkLabels(s.labels, 'service.labels');
    for (const [field, scaling] of [
      ['service.scaling', s.scaling],
      ['service.template.scaling', ((s.template ?? {}) as Json).scaling],
    ] as const) {
      const sc = (scaling ?? {}) as Json;
      if (
        sc.minInstanceCount !== undefined &&
        sc.maxInstanceCount !== undefined &&
        Number(sc.minInstanceCount) > Number(sc.maxInstanceCount)
      )
        throw invalidArgument(`${field}.min_instance_count`, 'must not exceed max_instance_count');
    }
    const containers = (((s.template ?? {}) as Json).containers ?? []) as Json[];
    if (containers.length === 0)
      throw invalidArgument('service.template.containers', 'at least one container is required');
    containers.forEach((c, i) => {
      if (typeof c.image !== 'string' || c.image === '')
        throw invalidArgument(`service.template.containers[${i}].image`, 'is required');
      for (const [j, e] of ((c.env ?? []) as Json[]).entries()) {
        const ref = ((e.valueSource as Json | undefined)?.secretKeyRef as Json | undefined)?.secret as
          | string
          | undefined;
        if (ref && !d.secrets[`projects/${ctx.projectNumber}/secrets/${ref.split('/').at(-1)}`])
          throw invalidArgument(
            `service.template.containers[${i}].env[${j}].value_source.secret_key_ref.secret`,
            `secret ${ref} does not exist`,
          );
      }
    });
  };

  const conditions = (s: Json, ready: boolean): Json => {
    const now = ctx.timestamp();
    return {
      terminalCondition: {
        type: 'Ready',
        state: ready ? 'CONDITION_SUCCEEDED' : 'CONDITION_PENDING',
        lastTransitionTime: now,
      },
      conditions: [
        { type: 'RoutesReady', state: ready ? 'CONDITION_SUCCEEDED' : 'CONDITION_PENDING', lastTransitionTime: now },
        {
          type: 'ConfigurationsReady',
          state: ready ? 'CONDITION_SUCCEEDED' : 'CONDITION_PENDING',
          lastTransitionTime: now,
        },
      ],
      reconciling: !ready,
      ...(ready || s.observedGeneration !== undefined
        ? { observedGeneration: ready ? s.generation : s.observedGeneration }
        : {}),
    };
  };

  ops.register('run.deploy', (op) => {
    const s = d.runServices[op.target] ?? raise(new ApiError('ABORTED', `${op.target} was deleted`));
    const id = op.target.split('/').at(-1)!;
    const revision = `${id}-${String(s.generation).padStart(5, '0')}-${randomBytes(2).toString('hex').slice(0, 3)}`;
    Object.assign(s, conditions(s, true), {
      latestReadyRevision: `${op.target}/revisions/${revision}`,
      latestCreatedRevision: `${op.target}/revisions/${revision}`,
      trafficStatuses: [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST', percent: 100 }],
    });
    s.etag = `"${etagOf([s, ctx.clock.now()])}"`;
    ctx.state.changed();
    return { '@type': typeUrl('google.cloud.run.v2.Service'), ...s };
  });
  ops.register('run.delete', (op) => {
    const s = d.runServices[op.target] ?? raise(notFound('Service', op.target));
    delete d.runServices[op.target];
    delete d.policies[op.target];
    ctx.state.changed();
    return { '@type': typeUrl('google.cloud.run.v2.Service'), ...s };
  });

  const deploy = (p: Record<string, string>, s: Json) => {
    d.runServices[s.name as string] = s;
    ctx.state.changed();
    const op = ops.start({
      name: opName(p),
      kind: 'run.deploy',
      target: s.name as string,
      metadata: { '@type': typeUrl('google.cloud.run.v2.Service'), ...s },
    });
    return ok(render(op));
  };

  const defaults = (s: Json): Json => ({
    ingress: 'INGRESS_TRAFFIC_ALL',
    launchStage: 'GA',
    traffic: [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST', percent: 100 }],
    ...s,
    template: {
      serviceAccount: `${ctx.projectNumber}-compute@developer.gserviceaccount.com`,
      timeout: '300s',
      maxInstanceRequestConcurrency: 80,
      executionEnvironment: 'EXECUTION_ENVIRONMENT_GEN2',
      ...((s.template ?? {}) as Json),
    },
  });

  return [
    route('run', 'POST', base, (req) => {
      const id = checkId(
        req.query.get('serviceId'),
        'service_id',
        SERVICE_ID,
        'must be 1-49 lowercase letters, digits and "-", starting with a letter',
      );
      const name = svcName({ ...req.params, svc: id });
      if (d.runServices[name]) throw alreadyExists('Service', name);
      const body = canonical('google.cloud.run.v2.Service', req.body, 'service');
      validate(body);
      if (req.query.get('validateOnly') === 'true')
        return ok({
          name: opName(req.params),
          done: true,
          response: { '@type': typeUrl('google.cloud.run.v2.Service'), ...body, name },
        });
      const now = ctx.timestamp();
      const s: Json = {
        ...defaults(body),
        name,
        uid: randomUUID(),
        generation: '1',
        createTime: now,
        updateTime: now,
        creator: 'owner@keelson.example',
        lastModifier: 'owner@keelson.example',
        uri: `${ctx.url}/run/${req.params.project}/${req.params.location}/${id}`,
        urls: [`${ctx.url}/run/${req.params.project}/${req.params.location}/${id}`],
      };
      Object.assign(s, conditions(s, false));
      return deploy(req.params, s);
    }),
    route('run', 'GET', base, (req) => {
      const prefix = `projects/${req.params.project}/locations/${req.params.location}/services/`;
      const all = req.params.location === '-';
      const items = Object.keys(d.runServices)
        .filter((k) => (all ? k.startsWith(`projects/${req.params.project}/`) : k.startsWith(prefix)))
        .sort()
        .map((k) => d.runServices[k]);
      return ok(page(items, req.query, 'services', 100, 1000));
    }),
    route('run', 'GET', `${base}/{svc}`, (req) => ok(svc(svcName(req.params)))),
    route('run', 'PATCH', `${base}/{svc}`, (req) => {
      const name = svcName(req.params);
      const current = d.runServices[name];
      if (!current && req.query.get('allowMissing') !== 'true') throw notFound('Service', name);
      if (current && ops.busy(name))
        throw new ApiError(
          'ABORTED',
          `Resource '${name.split('/').at(-1)}' is busy with another operation; try again.`,
        );
      const body = canonical('google.cloud.run.v2.Service', req.body, 'service');
      validate(body);
      if (current && body.etag !== undefined && body.etag !== current.etag)
        throw new ApiError('ABORTED', 'The etag does not match the current service.');
      const base1 = current ?? {
        name,
        uid: randomUUID(),
        generation: '0',
        createTime: ctx.timestamp(),
        creator: 'owner@keelson.example',
      };
      const next: Json = {
        ...defaults(body),
        name,
        uid: base1.uid,
        createTime: base1.createTime,
        creator: base1.creator,
        lastModifier: 'owner@keelson.example',
        updateTime: ctx.timestamp(),
        generation: String(Number(base1.generation) + 1),
        observedGeneration: base1.observedGeneration,
        uri: `${ctx.url}/run/${req.params.project}/${req.params.location}/${req.params.svc}`,
        urls: [`${ctx.url}/run/${req.params.project}/${req.params.location}/${req.params.svc}`],
        latestReadyRevision: base1.latestReadyRevision,
        latestCreatedRevision: base1.latestCreatedRevision,
      };
      for (const k of ['latestReadyRevision', 'latestCreatedRevision', 'observedGeneration'])
        if (next[k] === undefined) delete next[k];
      Object.assign(next, conditions(next, false));
      return deploy(req.params, next);
    }),
    route('run', 'DELETE', `${base}/{svc}`, (req) => {
      const name = svcName(req.params);
      const s = svc(name);
      if (ops.busy(name))
        throw new ApiError(
          'ABORTED',
          `Resource '${name.split('/').at(-1)}' is busy with another operation; try again.`,
        );
      s.reconciling = true;
      const op = ops.start({
        name: opName(req.params),
        kind: 'run.delete',
        target: name,
        metadata: { '@type': typeUrl('google.cloud.run.v2.Service'), ...s },
      });
      return ok(render(op));
    }),
  ];
}
