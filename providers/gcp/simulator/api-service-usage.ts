import { randomUUID } from 'node:crypto';
import { ApiError, invalidArgument } from './api-error.ts';
import type { SimContext } from './context.ts';
import { type Operations, render, typeUrl } from './operations.ts';
import { page } from './resource-helpers.ts';
import { ok, type Route, route } from './router.ts';
import type { Json } from './state.ts';

/** Services the simulated project knows, with their titles. */
const catalog: Record<string, string> = {
  'artifactregistry.googleapis.com': 'Artifact Registry API',
  'cloudbuild.googleapis.com': 'Cloud Build API',
  'cloudfunctions.googleapis.com': 'Cloud Functions API',
  'cloudresourcemanager.googleapis.com': 'Cloud Resource Manager API',
  'cloudscheduler.googleapis.com': 'Cloud Scheduler API',
  'compute.googleapis.com': 'Compute Engine API',
  'eventarc.googleapis.com': 'Eventarc API',
  'firestore.googleapis.com': 'Cloud Firestore API',
  'iam.googleapis.com': 'Identity and Access Management (IAM) API',
  'iamcredentials.googleapis.com': 'IAM Service Account Credentials API',
  'logging.googleapis.com': 'Cloud Logging API',
  'monitoring.googleapis.com': 'Cloud Monitoring API',
  'pubsub.googleapis.com': 'Cloud Pub/Sub API',
  'run.googleapis.com': 'Cloud Run Admin API',
  'secretmanager.googleapis.com': 'Secret Manager API',
  'serviceusage.googleapis.com': 'Service Usage API',
  'storage.googleapis.com': 'Cloud Storage API',
};

/** Enabled on a new project, as on GCP (a subset). */
export const DEFAULT_ENABLED = [
  'logging.googleapis.com',
  'monitoring.googleapis.com',
  'serviceusage.googleapis.com',
  'storage.googleapis.com',
];

/** Service Usage v1: list, get, enable and disable (long-running), batchEnable. */
export function serviceUsageRoutes(ctx: SimContext, ops: Operations): Route[] {
  const d = ctx.state.data;
  for (const s of DEFAULT_ENABLED) d.services[s] ??= 'ENABLED';
  const parent = `projects/${ctx.projectNumber}`;
  const render1 = (id: string): Json => ({
    name: `${parent}/services/${id}`,
    parent,
    config: { name: id, title: catalog[id] },
    state: d.services[id] === 'ENABLED' ? 'ENABLED' : 'DISABLED',
  });
  const known = (p: Record<string, string>) => {
    if (p.project !== ctx.projectId && p.project !== ctx.projectNumber)
      throw new ApiError('PERMISSION_DENIED', `Permission denied to access project ${p.project}.`);
    const id = p.service!;
    if (!catalog[id])
      throw new ApiError('PERMISSION_DENIED', `Not found or permission denied for service(s): ${id}.`, [
        {
          '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
          reason: 'SERVICE_CONFIG_NOT_FOUND_OR_PERMISSION_DENIED',
          domain: 'serviceusage.googleapis.com',
          metadata: { services: id },
        },
      ]);
    return id;
  };
  const change = (ids: string[], to: 'ENABLED' | 'DISABLED', batch: boolean) => {
    const kind =
      to === 'ENABLED' ? (batch ? 'serviceusage.batchEnable' : 'serviceusage.enable') : 'serviceusage.disable';
    const op = ops.start({
      name: `operations/acat.p2-${ctx.projectNumber}-${randomUUID()}`,
      kind,
      target: ids.join(','),
      metadata: {
        '@type': typeUrl('google.api.serviceusage.v1.OperationMetadata'),
        resourceNames: ids.map((i) => `${parent}/services/${i}`),
      },
      input: { ids },
    });
    return ok(render(op));
  };
  ops.register('serviceusage.enable', (op) => {
    const ids = (op.input?.ids ?? []) as string[];
    for (const id of ids) d.services[id] = 'ENABLED';
    return { '@type': typeUrl('google.api.serviceusage.v1.EnableServiceResponse'), service: render1(ids[0]!) };
  });
  ops.register('serviceusage.batchEnable', (op) => {
    const ids = (op.input?.ids ?? []) as string[];
    for (const id of ids) d.services[id] = 'ENABLED';
    return {
      '@type': typeUrl('google.api.serviceusage.v1.BatchEnableServicesResponse'),
      services: ids.map(render1),
      failures: [],
    };
  });
  ops.register('serviceusage.disable', (op) => {
    const ids = (op.input?.ids ?? []) as string[];
    for (const id of ids) d.services[id] = 'DISABLED';
    return { '@type': typeUrl('google.api.serviceusage.v1.DisableServiceResponse'), service: render1(ids[0]!) };
  });
  return [
    route('serviceusage', 'GET', '/v1/projects/{project}/services', (req) => {
      let ids = Object.keys(catalog).sort();
      const filter = req.query.get('filter');
      if (filter) {
        const m = /^state:(ENABLED|DISABLED)$/.exec(filter.trim());
        if (!m)
          throw invalidArgument('filter', `unsupported filter "${filter}" (only state:ENABLED and state:DISABLED)`);
        ids = ids.filter((i) => (d.services[i] === 'ENABLED' ? 'ENABLED' : 'DISABLED') === m[1]);
      }
      return ok(page(ids.map(render1), req.query, 'services', 50, 200));
    }),
    route('serviceusage', 'GET', '/v1/projects/{project}/services:batchGet', (req) => {
      const ids = req.query.getAll('names').map((n) => {
        const m = /^projects\/([^/]+)\/services\/([^/]+)$/.exec(n);
        if (!m) throw invalidArgument('names', `"${n}" is not projects/P/services/S`);
        return known({ project: m[1]!, service: m[2]! });
      });
      return ok({ services: ids.map(render1) });
    }),
    route('serviceusage', 'GET', '/v1/projects/{project}/services/{service}', (req) => ok(render1(known(req.params)))),
    route('serviceusage', 'POST', '/v1/projects/{project}/services/{service}:enable', (req) => {
      const id = known(req.params);
      if (d.services[id] === 'ENABLED')
        return ok({
          name: 'operations/noop.DONE_OPERATION',
          done: true,
          response: { '@type': typeUrl('google.api.serviceusage.v1.EnableServiceResponse'), service: render1(id) },
        });
      return change([id], 'ENABLED', false);
    }),
    route('serviceusage', 'POST', '/v1/projects/{project}/services/{service}:disable', (req) => {
      const id = known(req.params);
      if (d.services[id] !== 'ENABLED')
        return ok({
          name: 'operations/noop.DONE_OPERATION',
          done: true,
          response: { '@type': typeUrl('google.api.serviceusage.v1.DisableServiceResponse'), service: render1(id) },
        });
      return change([id], 'DISABLED', false);
    }),
    route('serviceusage', 'POST', '/v1/projects/{project}/services:batchEnable', (req) => {
      const ids = ((req.body.serviceIds ?? []) as string[]).map((s) =>
        known({ project: req.params.project!, service: s }),
      );
      if (ids.length === 0 || ids.length > 20) throw invalidArgument('service_ids', 'give 1 to 20 services');
      return change(ids, 'ENABLED', true);
    }),
  ];
}
