import {
  defineKind,
  deleteIgnoringMissing,
  type FieldChange,
  findOrClaim,
  type HandlerContext,
  type InventoryEntry,
  isLeftover,
  leftoverName,
  leftoverOf,
  leftoverOwner,
  type ObservedResource,
  type ObserveQuery,
  type ReplaceOrderDecision,
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
  replaceOrder: routeReplaceOrder,
});

/**
 * A route moved to another zone is a new route. It is created before the old one is deleted (the
 * requests of the new pattern reach the Worker from the start, those of the old one until the new
 * one exists) when the patterns differ: two routes of different patterns coexist. The same
 * pattern in two zones (a zone and a subdomain zone of it) is deleted first: Cloudflare refuses a
 * second route of one pattern in a zone (code 10020), and which of two zones would answer for one
 * pattern is not keelson's to guess.
 */
export function routeReplaceOrder(
  before: Readonly<Record<string, unknown>>,
  after: Readonly<Record<string, unknown>>,
): ReplaceOrderDecision {
  if (typeof before.pattern === 'string' && before.pattern === after.pattern) {
    return {
      order: 'delete-first',
      why: `the new route has the same pattern (${before.pattern}) as the old one: two routes of one pattern cannot both be live, so the old route must go before the new one is created`,
    };
  }
  return {
    order: 'create-first',
    why: 'the new route does not share its pattern with the old one (both may exist at once)',
  };
}

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
    // The name each owned id is recorded under. An id recorded under a leftover key too (a kill
    // between the two writes of the move in create) is the leftover.
    const ownedIds = new Map<string, string>();
    for (const e of owned) {
      const name = e.key.slice(WORKER_ROUTE_KIND.length + 1);
      if (!isLeftover(ownedIds.get(e.id) ?? '')) ownedIds.set(e.id, name);
    }
    const found = new Map<string, ObservedResource>();
    // Old routes of create-first replacements (recorded under a leftover key), by their resource's name.
    const leftovers = new Map<string, ObservedResource[]>();
    const live = new Map<string, { zoneId: string; routes: LiveRoute[] }>();
    for (const zone of zoneNames) {
      const zoneId = zones.get(zone);
      if (zoneId === undefined) continue;
      const routes = await this.#routes(zoneId, zone);
      live.set(zone, { zoneId, routes });
      for (const route of routes) {
        const name = ownedIds.get(route.id);
        if (name === undefined) continue;
        if (!isLeftover(name)) {
          found.set(name, observedFrom(route, zone, zoneId, name, true));
          continue;
        }
        const list = leftovers.get(leftoverOwner(name)) ?? [];
        list.push(observedFrom(route, zone, zoneId, leftoverOwner(name), true));
        leftovers.set(leftoverOwner(name), list);
      }
    }
    for (const d of query.desired) {
      if (found.has(d.name)) continue;
      const want = specOf(workerRouteSchema, d);
      const zone = want.zone.toLowerCase();
      const here = live.get(zone);
      // A route of the desired pattern that is not ours: refused unless adopted, or claimed through
      // the create journal when it is the one a create whose answer was lost made.
      const clash = here?.routes.find((r) => r.pattern === want.pattern && !ownedIds.has(r.id));
      if (here && clash) {
        found.set(d.name, observedFrom(clash, zone, here.zoneId, d.name, false));
        continue;
      }
      // No new route yet (its create failed): the old one still answers to the resource, and is
      // replaced again — not deleted as a leftover while nothing replaces it.
      const old = leftovers.get(d.name)?.sort((a, b) => a.id.localeCompare(b.id))[0];
      if (old) {
        found.set(d.name, old);
        leftovers.set(
          d.name,
          (leftovers.get(d.name) ?? []).filter((o) => o !== old),
        );
      }
    }
    const out = [...found.values()];
    for (const list of leftovers.values()) for (const o of list) out.push(leftoverOf(o));
    return out;
  }

  /**
   * A create-first replacement (a route moved to another zone): the route recorded under this key
   * is the old one. It is recorded under its leftover key before the new one is created, so that
   * neither a lost answer's claim nor a crash can take it for the new one, and it stays recorded
   * until it is deleted (also by the next pass). A record of a route that no longer exists goes.
   */
  async #setAside(ctx: HandlerContext, key: string, name: string, zone: string): Promise<void> {
    const previous: InventoryEntry | undefined = ctx.inventory.get(key);
    if (previous === undefined || typeof previous.data?.zone !== 'string' || previous.data.zone === zone) return;
    const oldZone = previous.data.zone;
    const oldZoneId = (await this.#zones.all()).get(oldZone);
    const exists =
      oldZoneId !== undefined && (await this.#routes(oldZoneId, oldZone)).some((r) => r.id === previous.id);
    if (exists) {
      await ctx.inventory.set({ ...previous, key: resourceKey(WORKER_ROUTE_KIND, leftoverName(name, previous.id)) });
    }
    await ctx.inventory.remove(key);
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
        // Not before the look-up: a route in the way that is not ours (CONFLICT_UNOWNED) keeps the old one the resource.
        await this.#setAside(ctx, desired.key, desired.name, zone);
        const created = await cloudflareCall(() => this.#client.sdk.workers.routes.create(body), action, desired.key);
        return { id: created.id, pattern: body.pattern, script: body.script };
      },
      claim: async (r) => r,
      describe: (r) => `a route of pattern ${r.pattern} to ${r.script ?? 'nothing'}`,
    });
    // Found (a create whose answer was lost) or adopted: the old route is not this one either.
    await this.#setAside(ctx, desired.key, desired.name, zone);
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
    // The records of this route only: a leftover's delete must not forget the new route.
    for (const e of ctx.inventory.list(WORKER_ROUTE_KIND)) if (e.id === observed.id) await ctx.inventory.remove(e.key);
  }
}
