import {
  defineKind,
  deleteIgnoringMissing,
  type FieldChange,
  type HandlerContext,
  type ObservedResource,
  type ObserveQuery,
  type ResolvedResource,
  type ResourceHandler,
  resourceKey,
  specOf,
} from '../../sdk/index.ts';
import { isAlreadyExists, isNotFound } from '../client/errors.ts';
import { isOwnedBy, ownershipLabels, userLabels } from '../ownership.ts';
import {
  compact,
  deleteKey,
  deleting,
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
import { labelsField, regionField } from './schema-parts.ts';

export const RUN_SERVICE_KIND = 'gcp.RunService';

const INGRESS = [
  'INGRESS_TRAFFIC_UNSPECIFIED',
  'INGRESS_TRAFFIC_ALL',
  'INGRESS_TRAFFIC_INTERNAL_ONLY',
  'INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER',
];

export const runServiceSchema = defineKind({
  kind: RUN_SERVICE_KIND,
  description:
    'A Cloud Run (v2) service running one container image; who may invoke it is a `gcp.IamBinding` (`roles/run.invoker`).',
  spec: {
    image: { type: 'string', required: true, referenceable: true },
    region: regionField,
    env: { type: 'map', values: { type: 'string', referenceable: true }, default: {} },
    secrets: {
      type: 'map',
      default: {},
      description: 'Environment variables from Secret Manager: `NAME: { secret: ID, version: latest }`.',
      values: {
        type: 'object',
        properties: {
          secret: { type: 'string', required: true, referenceable: true },
          version: { type: 'string', default: 'latest' },
        },
      },
    },
    serviceAccount: { type: 'string', referenceable: true },
    port: { type: 'integer', minimum: 1, maximum: 65535, default: 8080 },
    memory: { type: 'string', default: '512Mi' },
    cpu: { type: 'string', default: '1' },
    minInstances: { type: 'integer', minimum: 0, default: 0 },
    maxInstances: { type: 'integer', minimum: 1, default: 100 },
    ingress: { type: 'string', enum: INGRESS.slice(1), default: 'INGRESS_TRAFFIC_ALL' },
    labels: labelsField,
  },
  outputs: { uri: { type: 'string', computed: true }, name: { type: 'string', computed: true } },
});

interface Service {
  name?: string;
  uri?: string;
  labels?: Record<string, string> | null;
  reconciling?: boolean;
  ingress?: string | number;
  template?: {
    serviceAccount?: string;
    scaling?: { minInstanceCount?: number; maxInstanceCount?: number } | null;
    containers?: {
      image?: string;
      env?: {
        name?: string;
        value?: string;
        valueSource?: { secretKeyRef?: { secret?: string; version?: string } } | null;
      }[];
      ports?: { containerPort?: number }[];
      resources?: { limits?: Record<string, string> } | null;
    }[];
  } | null;
}

/** Cloud Run services: one paged list per region in use; deploys are long-running operations. */
export class RunServiceHandler implements ResourceHandler {
  readonly #rt: GcpRuntime;

  constructor(rt: GcpRuntime) {
    this.#rt = rt;
  }

  #region(spec: Readonly<Record<string, unknown>>): string {
    return typeof spec.region === 'string' ? spec.region : this.#rt.api.region;
  }

  #path(region: string, name: string): string {
    return `${this.#rt.api.location(region)}/services/${name}`;
  }

  normalize(spec: Readonly<Record<string, unknown>>): Record<string, unknown> {
    const secrets = spec.secrets as Record<string, { secret?: unknown; version?: unknown }> | undefined;
    if (!secrets) return { ...spec };
    return {
      ...spec,
      secrets: Object.fromEntries(
        Object.entries(secrets).map(([k, v]) => [
          k,
          {
            ...v,
            secret: typeof v.secret === 'string' ? shortName(v.secret) : v.secret,
            version: v.version ?? 'latest',
          },
        ]),
      ),
    };
  }

  #observed(ctx: HandlerContext, s: Service, region: string): ObservedResource {
    const name = shortName(s.name);
    const c = s.template?.containers?.[0] ?? {};
    const env: Record<string, string> = {};
    const secrets: Record<string, unknown> = {};
    for (const e of c.env ?? []) {
      if (!e.name) continue;
      const ref = e.valueSource?.secretKeyRef;
      if (ref?.secret) secrets[e.name] = { secret: shortName(ref.secret), version: ref.version || 'latest' };
      else env[e.name] = e.value ?? '';
    }
    const base = labelledBase(RUN_SERVICE_KIND, name, s.name ?? name, s.labels, ctx, this.#rt);
    const ingress = typeof s.ingress === 'number' ? INGRESS[s.ingress] : s.ingress;
    return {
      ...base,
      ready: base.ready && s.reconciling !== true,
      spec: compact({
        image: c.image,
        region,
        env,
        secrets,
        serviceAccount: s.template?.serviceAccount || undefined,
        port: numberOf(c.ports?.[0]?.containerPort) || 8080,
        memory: c.resources?.limits?.memory ?? '512Mi',
        cpu: c.resources?.limits?.cpu ?? '1',
        minInstances: numberOf(s.template?.scaling?.minInstanceCount),
        maxInstances: numberOf(s.template?.scaling?.maxInstanceCount) || 100,
        ingress: ingress && ingress !== 'INGRESS_TRAFFIC_UNSPECIFIED' ? ingress : 'INGRESS_TRAFFIC_ALL',
        labels: userLabels(s.labels),
      }),
      outputs: compact({ uri: s.uri || undefined, name: s.name }),
    };
  }

  async observe(ctx: HandlerContext, query: ObserveQuery): Promise<ObservedResource[]> {
    await refreshOperations(this.#rt, RUN_SERVICE_KIND);
    const api = this.#rt.api;
    const names = new Set(query.names);
    const out: ObservedResource[] = [];
    // One list across every region (`locations/-`): an owned service in any region is seen.
    const services = await api.list<Service>(
      'list Run services',
      api.clients.run(),
      'listServices',
      { parent: api.location('-') },
      signalOf(ctx),
    );
    for (const s of services) {
      if (deleting(this.#rt, resourceKey(RUN_SERVICE_KIND, shortName(s.name)), s.name)) continue;
      const region = (s.name ?? '').split('/')[3] ?? api.region;
      if (names.has(shortName(s.name)) || isOwnedBy(s.labels, ctx.owner)) out.push(this.#observed(ctx, s, region));
    }
    for (const d of query.desired) {
      if (this.#rt.operations.running(d.key) && !out.some((o) => o.key === d.key)) out.push(this.#placeholder(d));
    }
    return out;
  }

  #placeholder(desired: ResolvedResource): ObservedResource {
    return {
      key: desired.key,
      kind: RUN_SERVICE_KIND,
      name: desired.name,
      id: this.#path(this.#region(desired.spec), desired.name),
      owned: true,
      ready: false,
      message: this.#rt.operations.message(desired.key) ?? 'deploying',
      spec: this.normalize(desired.spec),
      outputs: {},
    };
  }

  #service(ctx: HandlerContext, desired: ResolvedResource): Record<string, unknown> {
    const spec = specOf(runServiceSchema, desired);
    const env: Record<string, unknown>[] = Object.entries(spec.env).map(([name, value]) => ({ name, value }));
    for (const [name, s] of Object.entries(spec.secrets)) {
      env.push({ name, valueSource: { secretKeyRef: { secret: shortName(s.secret), version: s.version } } });
    }
    return {
      labels: ownershipLabels(spec.labels, ctx.owner, desired.protect),
      ingress: spec.ingress,
      template: compact({
        serviceAccount: spec.serviceAccount,
        scaling: { minInstanceCount: spec.minInstances, maxInstanceCount: spec.maxInstances },
        containers: [
          {
            image: spec.image,
            env,
            ports: [{ containerPort: spec.port }],
            resources: { limits: { memory: spec.memory, cpu: spec.cpu } },
          },
        ],
      }),
    };
  }

  async #read(ctx: HandlerContext, desired: ResolvedResource, region: string): Promise<Service | undefined> {
    const api = this.#rt.api;
    try {
      const [s] = await api.call<[Service]>(
        `read Run service ${desired.name}`,
        desired.key,
        (gax) => api.clients.run().getService({ name: this.#path(region, desired.name) }, gax),
        signalOf(ctx),
      );
      return s;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async #after(ctx: HandlerContext, desired: ResolvedResource, region: string): Promise<ObservedResource> {
    const s = await this.#read(ctx, desired, region);
    return s ? this.#observed(ctx, s, region) : this.#placeholder(desired);
  }

  async create(ctx: HandlerContext, desired: ResolvedResource): Promise<ObservedResource> {
    requireKnown(desired);
    const region = this.#region(desired.spec);
    const existing = await this.#read(ctx, desired, region);
    if (existing) {
      // Ours (an earlier attempt whose answer was lost): the next plan updates it if it differs.
      if (isOwnedBy(existing.labels, ctx.owner)) return this.#observed(ctx, existing, region);
      if (!desired.adopt) throw unowned(desired, 'Run service', desired.name);
      return this.update(ctx, desired, this.#observed(ctx, existing, region), []);
    }
    const api = this.#rt.api;
    const client = api.clients.run();
    try {
      await startOperation(this.#rt, ctx, desired.key, `deploy Run service ${desired.name}`, client, (gax) =>
        client.createService(
          { parent: api.location(region), serviceId: desired.name, service: this.#service(ctx, desired) },
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
    _observed: ObservedResource,
    _changes: readonly FieldChange[],
  ): Promise<ObservedResource> {
    requireKnown(desired);
    const region = this.#region(desired.spec);
    const client = this.#rt.api.clients.run();
    await startOperation(this.#rt, ctx, desired.key, `redeploy Run service ${desired.name}`, client, (gax) =>
      client.updateService(
        { service: { ...this.#service(ctx, desired), name: this.#path(region, desired.name) } },
        gax,
      ),
    );
    return this.#after(ctx, desired, region);
  }

  async delete(ctx: HandlerContext, observed: ObservedResource): Promise<void> {
    const client = this.#rt.api.clients.run();
    // Already being deleted (by an earlier call of this pass): nothing more to do.
    if (deleting(this.#rt, observed.key, observed.id)) return;
    await deleteIgnoringMissing(
      () =>
        startOperation(
          this.#rt,
          ctx,
          deleteKey(observed.key, observed.id),
          `delete Run service ${observed.name}`,
          client,
          (gax) => client.deleteService({ name: observed.id }, gax),
          true,
        ),
      isNotFound,
    );
  }
}
