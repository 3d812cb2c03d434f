import {
  defineKind,
  deleteIgnoringMissing,
  type FieldChange,
  findOrClaim,
  type HandlerContext,
  type ObservedResource,
  type ObserveQuery,
  type ResolvedResource,
  type ResourceHandler,
  resourceKey,
  specOf,
  unownedConflict,
} from '../../sdk/index.ts';
import { cloudflareCall, toKeelsonError } from '../client/api-error.ts';
import type { CloudflareClient } from '../client/client.ts';
import { unknownZones, type ZoneDirectory } from '../client/zone-directory.ts';

export const WORKER_ROUTE_KIND = 'cloudflare.WorkerRoute';

export const workerRouteSchema = defineKind({
  kind: WORKER_ROUTE_KIND,
  description:
    'A route sending requests that match a pattern in a zone to a Worker; ownership is kept in the inventory.',
  spec: {
    zone: { type: 'string', required: true, replaceOnChange: true, description: 'Zone name, e.g. example.com.' },
    pattern: { type: 'string', required: true, description: 'e.g. `hooks.example.com/aircall*`.' },
    script: { type: 'string', required: true, referenceable: true, description: 'Worker script name.' },
  },
  outputs: { id: { type: 'string', computed: true } },
});

interface LiveRoute {
  readonly id: string;
  readonly pattern: string;
  readonly script?: string;
}

function observedFrom(route: LiveRoute, zone: string, zoneId: string, name: string, owned: boolean): ObservedResource {
  return {
    key: resourceKey(WORKER_ROUTE_KIND, name),
    kind: WORKER_ROUTE_KIND,
    name,
    id: route.id,
    owned,
    spec: { zone, pattern: route.pattern, script: route.script ?? '' },
    outputs: { id: route.id, zoneId },
    ready: true,
  };
}

/** Worker routes: one list per zone involved; ownership in the inventory (routes carry no labels). */
export class WorkerRouteHandler implements ResourceHandler {
  readonly #client: CloudflareClient;
  readonly #zones: ZoneDirectory;

  constructor(client: CloudflareClient, zones: ZoneDirectory) {
    this.#client = client;
    this.#zones = zones;
  }

  normalize(spec: Readonly<Record<string, unknown>>): Record<string, unknown> {
    return typeof spec.zone === 'string' ? { ...spec, zone: spec.zone.toLowerCase() } : { ...spec };
  }

  async #routes(zoneId: string, zone: string): Promise<LiveRoute[]> {
    const out: LiveRoute[] = [];
    try {
      for await (const route of this.#client.sdk.workers.routes.list({ zone_id: zoneId })) out.push(route as LiveRoute);
    } catch (error) {
      throw toKeelsonError(error, `cannot list Worker routes of zone ${zone}`);
    }
    return out;
  }

  /** A zone that does not exist is refused before anything is planned for the resource. */
  preflight(_ctx: HandlerContext, desired: readonly ResolvedResource[]): Promise<Record<string, string>> {
    return unknownZones(this.#zones, desired);
  }

  async observe(ctx: HandlerContext, query: ObserveQuery): Promise<ObservedResource[]> {
    const zones = await this.#zones.all();
    const owned = ctx.inventory.list(WORKER_ROUTE_KIND);
    const zoneNames = new Set<string>();
    for (const d of query.desired) zoneNames.add(specOf(workerRouteSchema, d).zone.toLowerCase());
    for (const e of owned) if (typeof e.data?.zone === 'string') zoneNames.add(e.data.zone);
    const found = new Map<string, ObservedResource>();
    for (const zone of zoneNames) {
      const zoneId = zones.get(zone);
      if (zoneId === undefined) continue;
      const routes = await this.#routes(zoneId, zone);
      const ownedIds = new Map(owned.map((e) => [e.id, e.key.slice(WORKER_ROUTE_KIND.length + 1)]));
      for (const route of routes) {
        const name = ownedIds.get(route.id);
        if (name !== undefined) found.set(name, observedFrom(route, zone, zoneId, name, true));
      }
      for (const d of query.desired) {
        const want = specOf(workerRouteSchema, d);
        if (found.has(d.name) || want.zone.toLowerCase() !== zone) continue;
        const clash = routes.find((r) => r.pattern === want.pattern && !ownedIds.has(r.id));
        if (clash) found.set(d.name, observedFrom(clash, zone, zoneId, d.name, false));
      }
    }
    return [...found.values()];
  }

  async create(ctx: HandlerContext, desired: ResolvedResource): Promise<ObservedResource> {
    const want = specOf(workerRouteSchema, desired);
    const zone = want.zone.toLowerCase();
    const zoneId = await this.#zones.idOf(zone, desired.key);
    const mine = ctx.inventory.get(desired.key);
    const body = { zone_id: zoneId, pattern: want.pattern, script: want.script };
    const action = `cannot create Worker route ${desired.name} (${body.pattern})`;
    // Routes carry no labels: ours is the one the inventory names; the claim is the inventory entry below.
    const { item, outcome } = await findOrClaim<LiveRoute>({
      desired,
      find: async () => {
        const routes = await this.#routes(zoneId, zone);
        return routes.find((r) => r.id === mine?.id) ?? routes.find((r) => r.pattern === body.pattern);
      },
      owned: (r) => r.id === mine?.id,
      create: async () => {
        const created = await cloudflareCall(() => this.#client.sdk.workers.routes.create(body), action, desired.key);
        return { id: created.id, pattern: body.pattern, script: body.script };
      },
      claim: async (r) => r,
      describe: (r) => `a route of pattern ${r.pattern} to ${r.script ?? 'nothing'}`,
    });
    const id = item.id;
    if (outcome !== 'created' && (item.pattern !== body.pattern || item.script !== body.script)) {
      await cloudflareCall(() => this.#client.sdk.workers.routes.update(id, body), action, desired.key);
    }
    await ctx.inventory.set({ key: desired.key, kind: WORKER_ROUTE_KIND, id, data: { zone } });
    return observedFrom({ id, pattern: body.pattern, script: body.script }, zone, zoneId, desired.name, true);
  }

  async update(
    ctx: HandlerContext,
    desired: ResolvedResource,
    observed: ObservedResource,
    _changes: readonly FieldChange[],
  ): Promise<ObservedResource> {
    if (!observed.owned && !desired.adopt) throw unownedConflict(desired, `Worker route ${desired.name}`, 'update');
    const want = specOf(workerRouteSchema, desired);
    const zone = want.zone.toLowerCase();
    const zoneId = String(observed.outputs.zoneId);
    const body = { zone_id: zoneId, pattern: want.pattern, script: want.script };
    await cloudflareCall(
      () => this.#client.sdk.workers.routes.update(observed.id, body),
      `cannot update Worker route ${desired.name} (${body.pattern})`,
      desired.key,
    );
    await ctx.inventory.set({ key: desired.key, kind: WORKER_ROUTE_KIND, id: observed.id, data: { zone } });
    return observedFrom(
      { id: observed.id, pattern: body.pattern, script: body.script },
      zone,
      zoneId,
      desired.name,
      true,
    );
  }

  async delete(ctx: HandlerContext, observed: ObservedResource): Promise<void> {
    await deleteIgnoringMissing(() =>
      cloudflareCall(
        () => this.#client.sdk.workers.routes.delete(observed.id, { zone_id: String(observed.outputs.zoneId) }),
        `cannot delete Worker route ${observed.name}`,
        observed.key,
      ),
    );
    await ctx.inventory.remove(observed.key);
  }
}
