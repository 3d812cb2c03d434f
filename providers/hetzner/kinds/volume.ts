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
  specOf,
} from '../../sdk/index.ts';
import type { HcloudAction, HcloudVolume } from '../client/api-types.ts';
import { userLabelsOf } from '../ownership.ts';
import {
  asId,
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

export const volumeSchema = defineKind({
  kind: 'hetzner.Volume',
  description: 'A block volume. It holds data: a replacement needs `allowReplace: true`; it grows, never shrinks.',
  stateful: true,
  spec: {
    size: { type: 'integer', required: true, minimum: 10, maximum: 10240, description: 'GB; grows in place.' },
    location: { type: 'string', required: true, replaceOnChange: true, description: 'Same as its server.' },
    server: { type: 'integer', referenceable: true, description: 'Server id to attach to (default detached).' },
    automount: { type: 'boolean', default: false, description: 'Mount on the server at attach (default off).' },
    format: {
      type: 'string',
      enum: ['ext4', 'xfs'],
      replaceOnChange: true,
      description: 'Filesystem made at creation.',
    },
    labels: { type: 'map', values: { type: 'string' }, default: {}, description: 'User labels (default none).' },
    deleteProtection: { type: 'boolean', default: false, description: 'Default off.' },
  },
  outputs: { id: { type: 'integer' }, linuxDevice: { type: 'string' } },
  replaceOrder: {
    order: 'delete-first',
    why: 'Hetzner volume names are unique in a project: the old volume must go before the new one can take its name',
  },
});

/** `hetzner.Volume`: size grows (a shrink is a terminal error), attach/detach and protection in place. */
export class VolumeHandler implements ResourceHandler {
  readonly #rt: HetznerRuntime;
  constructor(rt: HetznerRuntime) {
    this.#rt = rt;
  }

  normalize(spec: Readonly<Record<string, unknown>>): Record<string, unknown> {
    return spec.server === undefined ? { ...spec } : { ...spec, server: asId(spec.server) };
  }

  #observed(ctx: HandlerContext, v: HcloudVolume, desired?: ResolvedResource): ObservedResource {
    const key = `${volumeSchema.kind}/${v.name}`;
    const running = this.#rt.actions.running(key) || v.status !== 'available';
    const failure = this.#rt.actions.failure(key);
    return {
      ...observedBase(volumeSchema.kind, v, ctx, { deleteProtection: v.protection.delete }),
      spec: {
        size: v.size,
        location: v.location.name,
        ...(v.server === null ? {} : { server: v.server }),
        // automount acts only at attach time and cannot be read back.
        automount: desired ? specOf(volumeSchema, desired).automount : false,
        ...(v.format === null ? {} : { format: v.format }),
        labels: userLabelsOf(v.labels),
        deleteProtection: v.protection.delete,
      },
      outputs: { id: v.id, linuxDevice: v.linux_device },
      ready: !running,
      ...(failure ? { message: failure } : running ? { message: `status ${v.status}` } : {}),
    };
  }

  async observe(ctx: HandlerContext, query: ObserveQuery): Promise<ObservedResource[]> {
    await this.#rt.actions.refresh(ctx.signal);
    const volumes = await this.#rt.client.list<HcloudVolume>('/volumes', 'volumes', {
      what: 'list volumes',
      ...signalOf(ctx),
    });
    const desired = new Map(query.desired.map((d) => [d.name, d]));
    return relevant(volumes, ctx, query).map((v) => this.#observed(ctx, v, desired.get(v.name)));
  }

  #get(ctx: HandlerContext, id: string | number, key: string): Promise<HcloudVolume> {
    return getOne<HcloudVolume>(this.#rt.client, ctx, 'volumes', 'volume', id, key);
  }

  async create(ctx: HandlerContext, desired: ResolvedResource): Promise<ObservedResource> {
    const c = this.#rt.client;
    const spec = specOf(volumeSchema, desired);
    const key = desired.key;
    let action: HcloudAction | undefined;
    const { item, outcome } = await findOrClaimNamed<HcloudVolume>(this.#rt, ctx, desired, 'volumes', {
      create: async () => {
        const answer = await c.request<{ volume: HcloudVolume; action: HcloudAction }>('POST', '/volumes', {
          body: {
            name: desired.name,
            size: spec.size,
            ...(spec.server === undefined
              ? { location: spec.location }
              : { server: spec.server, automount: spec.automount }),
            ...(spec.format === undefined ? {} : { format: spec.format }),
            labels: labelsFor(ctx, desired),
          },
          what: `create ${key}`,
          resource: key,
          ...signalOf(ctx),
        });
        action = answer.action;
        return answer.volume;
      },
      claim: async (found) => {
        await this.#putLabels(ctx, desired, found.id);
        return this.#get(ctx, found.id, key);
      },
    });
    const created = outcome === 'created';
    if (created && spec.deleteProtection) {
      await this.#rt.actions.wait(key, [action], `create ${key}`, this.#rt.actionTimeoutMs, ctx.signal);
      await postAction(
        this.#rt,
        ctx,
        key,
        `/volumes/${item.id}/actions/change_protection`,
        { delete: true },
        `protect ${key}`,
        false,
      );
    } else if (created) this.#rt.actions.track(key, `create ${key}`, [action]);
    return this.#observed(ctx, created ? await this.#get(ctx, item.id, key) : item, desired);
  }

  async #putLabels(ctx: HandlerContext, desired: ResolvedResource, id: number | string): Promise<void> {
    await this.#rt.client.request('PUT', `/volumes/${id}`, {
      body: { labels: labelsFor(ctx, desired) },
      what: `update labels of ${desired.key}`,
      resource: desired.key,
      ...signalOf(ctx),
    });
  }

  async update(
    ctx: HandlerContext,
    desired: ResolvedResource,
    observed: ObservedResource,
    changes: readonly FieldChange[],
  ): Promise<ObservedResource> {
    const id = observed.id;
    const key = desired.key;
    const want = specOf(volumeSchema, desired);
    const have = specOf(volumeSchema, observed);
    if (want.size < have.size) {
      throw new KeelsonError(
        `cannot update ${key}: size ${want.size} GB is smaller than the current ${have.size} GB, and a volume cannot shrink`,
        { code: 'INVALID_SPEC', class: 'terminal', resource: key },
      );
    }
    const act = (command: string, body: unknown) =>
      postAction(this.#rt, ctx, key, `/volumes/${id}/actions/${command}`, body, `${command} on ${key}`, true);
    if (!observed.owned || fieldChanged(changes, 'labels')) await this.#putLabels(ctx, desired, id);
    if (fieldChanged(changes, 'size')) await act('resize', { size: want.size });
    if (fieldChanged(changes, 'server')) {
      if (have.server !== undefined) await act('detach', {});
      if (want.server !== undefined) await act('attach', { server: want.server, automount: want.automount });
    }
    if (fieldChanged(changes, 'deleteProtection')) await act('change_protection', { delete: want.deleteProtection });
    return this.#observed(ctx, await this.#get(ctx, id, key), desired);
  }

  async delete(ctx: HandlerContext, observed: ObservedResource): Promise<void> {
    const v = await deleteIgnoringMissing(() => this.#get(ctx, observed.id, observed.key));
    if (v === undefined) return;
    if (v.server !== null) {
      await deleteIgnoringMissing(() =>
        postAction(this.#rt, ctx, observed.key, `/volumes/${v.id}/actions/detach`, {}, `detach ${observed.key}`, true),
      );
    }
    await deleteById(this.#rt, ctx, 'volumes', v.id, observed.key);
  }

  async settle(ctx: HandlerContext, applied: ObservedResource): Promise<void> {
    await this.#rt.actions.settle(applied.key, this.#rt.actionTimeoutMs, ctx.signal);
  }
}
