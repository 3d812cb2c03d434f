import {
  defineKind,
  type FieldChange,
  type HandlerContext,
  type ObservedResource,
  type ObserveQuery,
  type ResolvedResource,
  type ResourceHandler,
  resourceKey,
} from '../../sdk/index.ts';
import {
  deleteKey,
  deleting,
  type GcpRuntime,
  inventoryBase,
  refreshOperations,
  shortName,
  signalOf,
  startOperation,
} from './common.ts';

export const PROJECT_SERVICE_KIND = 'gcp.ProjectService';

export const projectServiceSchema = defineKind({
  kind: PROJECT_SERVICE_KIND,
  description:
    'An enabled API of the project; the resource name is the service, e.g. `firestore.googleapis.com`. Tracked in the inventory. Leaving Git does not disable it unless `disableOnDestroy` was set.',
  spec: {
    disableOnDestroy: {
      type: 'boolean',
      default: false,
      description:
        'Disable the API when the resource leaves Git (default false: pruning only forgets it, because disabling an API can break what depends on it).',
    },
  },
  outputs: { name: { type: 'string', computed: true } },
});

interface Service {
  name?: string;
  config?: { name?: string } | null;
}

interface ServiceRecord {
  readonly disableOnDestroy?: boolean;
}

/** Enabled APIs through Service Usage: one paged list of the enabled ones per observe. */
export class ProjectServiceHandler implements ResourceHandler {
  readonly #rt: GcpRuntime;

  constructor(rt: GcpRuntime) {
    this.#rt = rt;
  }

  #observed(ctx: HandlerContext, name: string): ObservedResource {
    const key = resourceKey(PROJECT_SERVICE_KIND, name);
    const record = (ctx.inventory.get(key)?.data ?? {}) as ServiceRecord;
    return {
      ...inventoryBase(PROJECT_SERVICE_KIND, name, name, ctx, this.#rt),
      spec: { disableOnDestroy: record.disableOnDestroy === true },
      outputs: { name },
    };
  }

  async observe(ctx: HandlerContext, query: ObserveQuery): Promise<ObservedResource[]> {
    await refreshOperations(this.#rt, PROJECT_SERVICE_KIND);
    // Nothing wanted and nothing recorded: nothing of this kind can be keelson's (no labels to list by).
    if (query.names.length === 0 && ctx.inventory.list(PROJECT_SERVICE_KIND).length === 0) return [];
    const api = this.#rt.api;
    const enabled = await api.list<Service>(
      'list enabled APIs',
      api.clients.serviceUsage(),
      'listServices',
      { parent: api.project, filter: 'state:ENABLED', pageSize: 200 },
      signalOf(ctx),
    );
    const live = new Set(enabled.map((s) => s.config?.name || shortName(s.name)));
    const wanted = new Set([...query.names, ...ctx.inventory.list(PROJECT_SERVICE_KIND).map((e) => e.id)]);
    const out: ObservedResource[] = [];
    for (const name of wanted) {
      // Being enabled: not listed yet, but not to be enabled twice either.
      const key = resourceKey(PROJECT_SERVICE_KIND, name);
      if (deleting(this.#rt, key)) continue;
      if (live.has(name) || this.#rt.operations.running(key)) out.push(this.#observed(ctx, name));
    }
    return out;
  }

  async create(ctx: HandlerContext, desired: ResolvedResource): Promise<ObservedResource> {
    const api = this.#rt.api;
    await ctx.inventory.set({
      key: desired.key,
      kind: PROJECT_SERVICE_KIND,
      id: desired.name,
      data: { disableOnDestroy: desired.spec.disableOnDestroy === true },
    });
    const client = api.clients.serviceUsage();
    await startOperation(
      this.#rt,
      ctx,
      desired.key,
      `enable ${desired.name}`,
      client,
      (gax) => client.enableService({ name: `${api.project}/services/${desired.name}` }, gax),
      // Enabling an enabled API is a no-op at Google: safe to send twice.
      true,
    );
    return this.#observed(ctx, desired.name);
  }

  async update(
    ctx: HandlerContext,
    desired: ResolvedResource,
    _observed: ObservedResource,
    _changes: readonly FieldChange[],
  ): Promise<ObservedResource> {
    // The only setting is keelson's own (what a prune does): kept in the inventory.
    await ctx.inventory.set({
      key: desired.key,
      kind: PROJECT_SERVICE_KIND,
      id: desired.name,
      data: { disableOnDestroy: desired.spec.disableOnDestroy === true },
    });
    return this.#observed(ctx, desired.name);
  }

  async delete(ctx: HandlerContext, observed: ObservedResource): Promise<void> {
    const record = (ctx.inventory.get(observed.key)?.data ?? {}) as ServiceRecord;
    if (record.disableOnDestroy === true) {
      const api = this.#rt.api;
      const client = api.clients.serviceUsage();
      await startOperation(
        this.#rt,
        ctx,
        deleteKey(observed.key),
        `disable ${observed.name}`,
        client,
        (gax) => client.disableService({ name: `${api.project}/services/${observed.name}` }, gax),
        true,
      );
    }
    await ctx.inventory.remove(observed.key);
  }
}
