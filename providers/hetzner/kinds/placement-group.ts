import {
  defineKind,
  type FieldChange,
  type HandlerContext,
  type ObservedResource,
  type ObserveQuery,
  type ResolvedResource,
  type ResourceHandler,
  specOf,
} from '../../sdk/index.ts';
import type { HcloudPlacementGroup } from '../client/api-types.ts';
import { userLabelsOf } from '../ownership.ts';
import {
  deleteById,
  findOrClaimNamed,
  type HetznerRuntime,
  labelsFor,
  observedBase,
  relevant,
  signalOf,
} from './runtime.ts';

export const placementGroupSchema = defineKind({
  kind: 'hetzner.PlacementGroup',
  description: 'A placement group: its servers run on different physical hosts.',
  spec: {
    type: {
      type: 'string',
      enum: ['spread'],
      default: 'spread',
      replaceOnChange: true,
      description: 'Default spread.',
    },
    labels: { type: 'map', values: { type: 'string' }, default: {}, description: 'User labels (default none).' },
  },
  outputs: { id: { type: 'integer' } },
  replaceOrder: {
    order: 'delete-first',
    why: 'Hetzner placement group names are unique in a project: the old group must go before the new one can take its name',
  },
});

/** `hetzner.PlacementGroup`: labels change in place. */
export class PlacementGroupHandler implements ResourceHandler {
  readonly #rt: HetznerRuntime;
  constructor(rt: HetznerRuntime) {
    this.#rt = rt;
  }

  #observed(ctx: HandlerContext, g: HcloudPlacementGroup): ObservedResource {
    return {
      ...observedBase(placementGroupSchema.kind, g, ctx, {}),
      spec: { type: g.type, labels: userLabelsOf(g.labels) },
      outputs: { id: g.id },
      ready: true,
    };
  }

  async observe(ctx: HandlerContext, query: ObserveQuery): Promise<ObservedResource[]> {
    const groups = await this.#rt.client.list<HcloudPlacementGroup>('/placement_groups', 'placement_groups', {
      what: 'list placement groups',
      ...signalOf(ctx),
    });
    return relevant(groups, ctx, query).map((g) => this.#observed(ctx, g));
  }

  async create(ctx: HandlerContext, desired: ResolvedResource): Promise<ObservedResource> {
    const c = this.#rt.client;
    const { item } = await findOrClaimNamed<HcloudPlacementGroup>(this.#rt, ctx, desired, 'placement_groups', {
      create: async () =>
        (
          await c.request<{ placement_group: HcloudPlacementGroup }>('POST', '/placement_groups', {
            body: {
              name: desired.name,
              type: specOf(placementGroupSchema, desired).type,
              labels: labelsFor(ctx, desired),
            },
            what: `create ${desired.key}`,
            resource: desired.key,
            ...signalOf(ctx),
          })
        ).placement_group,
      claim: (found) => this.#putLabels(ctx, desired, found.id),
    });
    return this.#observed(ctx, item);
  }

  async #putLabels(ctx: HandlerContext, desired: ResolvedResource, id: number | string): Promise<HcloudPlacementGroup> {
    const body = await this.#rt.client.request<{ placement_group: HcloudPlacementGroup }>(
      'PUT',
      `/placement_groups/${id}`,
      {
        body: { labels: labelsFor(ctx, desired) },
        what: `update labels of ${desired.key}`,
        resource: desired.key,
        ...signalOf(ctx),
      },
    );
    return body.placement_group;
  }

  async update(
    ctx: HandlerContext,
    desired: ResolvedResource,
    observed: ObservedResource,
    _changes: readonly FieldChange[],
  ): Promise<ObservedResource> {
    return this.#observed(ctx, await this.#putLabels(ctx, desired, observed.id));
  }

  async delete(ctx: HandlerContext, observed: ObservedResource): Promise<void> {
    await deleteById(this.#rt, ctx, 'placement_groups', observed.id, observed.key);
  }
}
