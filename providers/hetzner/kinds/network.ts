import {
  canonicalJson,
  defineKind,
  type FieldChange,
  type HandlerContext,
  type ObservedResource,
  type ObserveQuery,
  type ResolvedResource,
  type ResourceHandler,
  specOf,
} from '../../sdk/index.ts';
import type { HcloudNetwork } from '../client/api-types.ts';
import { userLabelsOf } from '../ownership.ts';
import {
  deleteById,
  fieldChanged,
  findOrClaimNamed,
  getOne,
  type HetznerRuntime,
  labelsFor,
  observedBase,
  postAction,
  relevant,
  signalOf,
} from './runtime.ts';

export const networkSchema = defineKind({
  kind: 'hetzner.Network',
  description: 'A private network with its subnets and routes.',
  spec: {
    ipRange: { type: 'string', required: true, description: 'CIDR of the whole network; may only grow in place.' },
    subnets: {
      type: 'array',
      set: true,
      default: [],
      description: 'Subnets (default none).',
      items: {
        type: 'object',
        properties: {
          type: { type: 'string', enum: ['cloud', 'server', 'vswitch'], default: 'cloud' },
          ipRange: { type: 'string', required: true },
          networkZone: { type: 'string', default: 'eu-central' },
        },
      },
    },
    routes: {
      type: 'array',
      set: true,
      default: [],
      description: 'Static routes (default none).',
      items: {
        type: 'object',
        properties: { destination: { type: 'string', required: true }, gateway: { type: 'string', required: true } },
      },
    },
    labels: { type: 'map', values: { type: 'string' }, default: {}, description: 'User labels (default none).' },
    deleteProtection: { type: 'boolean', default: false, description: 'Hetzner delete protection (default off).' },
  },
  outputs: { id: { type: 'integer' } },
});

/** `hetzner.Network`: range, subnets, routes, labels and protection all change in place through actions. */
export class NetworkHandler implements ResourceHandler {
  readonly #rt: HetznerRuntime;
  constructor(rt: HetznerRuntime) {
    this.#rt = rt;
  }

  #observed(ctx: HandlerContext, n: HcloudNetwork): ObservedResource {
    const key = `${networkSchema.kind}/${n.name}`;
    const running = this.#rt.actions.running(key);
    const failure = this.#rt.actions.failure(key);
    return {
      ...observedBase(networkSchema.kind, n, ctx, { deleteProtection: n.protection.delete }),
      spec: {
        ipRange: n.ip_range,
        subnets: n.subnets.map((s) => ({ type: s.type, ipRange: s.ip_range, networkZone: s.network_zone })),
        routes: n.routes.map((r) => ({ destination: r.destination, gateway: r.gateway })),
        labels: userLabelsOf(n.labels),
        deleteProtection: n.protection.delete,
      },
      outputs: { id: n.id },
      ready: !running,
      ...(running ? { message: 'an action is running' } : failure ? { message: failure } : {}),
    };
  }

  async observe(ctx: HandlerContext, query: ObserveQuery): Promise<ObservedResource[]> {
    await this.#rt.actions.refresh(ctx.signal);
    const networks = await this.#rt.client.list<HcloudNetwork>('/networks', 'networks', {
      what: 'list networks',
      ...signalOf(ctx),
    });
    return relevant(networks, ctx, query).map((n) => this.#observed(ctx, n));
  }

  #get(ctx: HandlerContext, id: string | number, key: string): Promise<HcloudNetwork> {
    return getOne<HcloudNetwork>(this.#rt.client, ctx, 'networks', 'network', id, key);
  }

  async create(ctx: HandlerContext, desired: ResolvedResource): Promise<ObservedResource> {
    const c = this.#rt.client;
    const spec = specOf(networkSchema, desired);
    const { item, outcome } = await findOrClaimNamed<HcloudNetwork>(this.#rt, ctx, desired, 'networks', {
      create: async () =>
        (
          await c.request<{ network: HcloudNetwork }>('POST', '/networks', {
            body: {
              name: desired.name,
              ip_range: spec.ipRange,
              subnets: (spec.subnets ?? []).map((s) => ({
                type: s.type,
                ip_range: s.ipRange,
                network_zone: s.networkZone,
              })),
              routes: spec.routes ?? [],
              labels: labelsFor(ctx, desired),
            },
            what: `create ${desired.key}`,
            resource: desired.key,
            ...signalOf(ctx),
          })
        ).network,
      claim: (found) => this.#putLabels(ctx, desired, found.id),
    });
    if (outcome === 'created' && spec.deleteProtection) {
      await postAction(
        this.#rt,
        ctx,
        desired.key,
        `/networks/${item.id}/actions/change_protection`,
        { delete: true },
        `protect ${desired.key}`,
        false,
      );
      return this.#observed(ctx, await this.#get(ctx, item.id, desired.key));
    }
    return this.#observed(ctx, item);
  }

  async #putLabels(ctx: HandlerContext, desired: ResolvedResource, id: number | string): Promise<HcloudNetwork> {
    return (
      await this.#rt.client.request<{ network: HcloudNetwork }>('PUT', `/networks/${id}`, {
        body: { labels: labelsFor(ctx, desired) },
        what: `update labels of ${desired.key}`,
        resource: desired.key,
        ...signalOf(ctx),
      })
    ).network;
  }

  async update(
    ctx: HandlerContext,
    desired: ResolvedResource,
    observed: ObservedResource,
    changes: readonly FieldChange[],
  ): Promise<ObservedResource> {
    const id = observed.id;
    const key = desired.key;
    const want = specOf(networkSchema, desired);
    const have = specOf(networkSchema, observed);
    const act = (command: string, body: unknown) =>
      postAction(this.#rt, ctx, key, `/networks/${id}/actions/${command}`, body, `${command} on ${key}`, true);
    if (!observed.owned || fieldChanged(changes, 'labels')) await this.#putLabels(ctx, desired, id);
    if (fieldChanged(changes, 'ipRange')) await act('change_ip_range', { ip_range: want.ipRange });
    if (fieldChanged(changes, 'routes')) {
      for (const r of without(have.routes, want.routes)) await act('delete_route', r);
    }
    if (fieldChanged(changes, 'subnets')) {
      for (const s of without(have.subnets, want.subnets)) await act('delete_subnet', { ip_range: s.ipRange });
      for (const s of without(want.subnets, have.subnets)) {
        await act('add_subnet', { type: s.type, ip_range: s.ipRange, network_zone: s.networkZone });
      }
    }
    if (fieldChanged(changes, 'routes')) {
      for (const r of without(want.routes, have.routes)) await act('add_route', r);
    }
    if (fieldChanged(changes, 'deleteProtection')) await act('change_protection', { delete: want.deleteProtection });
    return this.#observed(ctx, await this.#get(ctx, id, key));
  }

  async delete(ctx: HandlerContext, observed: ObservedResource): Promise<void> {
    await deleteById(this.#rt, ctx, 'networks', observed.id, observed.key);
  }

  async settle(ctx: HandlerContext, applied: ObservedResource): Promise<void> {
    await this.#rt.actions.settle(applied.key, this.#rt.actionTimeoutMs, ctx.signal);
  }
}

/** Items of `a` that `b` lacks, compared as canonical JSON. */
export function without<T>(a: readonly T[] = [], b: readonly T[] = []): T[] {
  const keys = new Set(b.map(canonicalJson));
  return a.filter((x) => !keys.has(canonicalJson(x)));
}
