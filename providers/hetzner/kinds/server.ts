import {
  defineKind,
  type FieldChange,
  type HandlerContext,
  type KindSpec,
  type ObservedResource,
  type ObserveQuery,
  type ResolvedResource,
  type ResourceHandler,
  specOf,
} from '../../sdk/index.ts';
import type { HcloudAction, HcloudServer } from '../client/api-types.ts';
import { INPUT_HASH_LABEL, inputHash, userLabelsOf } from '../ownership.ts';
import { without } from './network.ts';
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

export const serverSchema = defineKind({
  kind: 'hetzner.Server',
  description: 'A cloud server. Its disk holds data: a replacement needs `allowReplace: true`.',
  stateful: true,
  spec: {
    serverType: { type: 'string', required: true, description: 'e.g. cx22; changed in place with a power cycle.' },
    image: {
      type: 'any',
      required: true,
      replaceOnChange: true,
      referenceable: true,
      description: 'Image name (debian-12) or id (a snapshot, e.g. a reference to a hetzner.Image).',
    },
    location: { type: 'string', required: true, replaceOnChange: true, description: 'fsn1, nbg1, hel1.' },
    networks: {
      type: 'array',
      set: true,
      default: [],
      description: 'Private networks (default none); `ip` fixes the address.',
      items: {
        type: 'object',
        properties: {
          network: { type: 'integer', required: true, referenceable: true },
          ip: { type: 'string' },
        },
      },
    },
    firewalls: {
      type: 'array',
      set: true,
      items: { type: 'integer', referenceable: true },
      description: 'Firewalls applied directly to this server (leave out when a firewall selects it by label).',
    },
    sshKeys: {
      type: 'array',
      set: true,
      default: [],
      replaceOnChange: true,
      items: { type: 'any', referenceable: true },
      description: 'SSH key names or ids for root (default none); only read at creation.',
    },
    userData: { type: 'string', replaceOnChange: true, description: 'cloud-init user data; only read at creation.' },
    placementGroup: { type: 'integer', referenceable: true, replaceOnChange: true, description: 'Placement group id.' },
    labels: { type: 'map', values: { type: 'string' }, default: {}, description: 'User labels (default none).' },
    deleteProtection: { type: 'boolean', default: false, description: 'Default off.' },
    rebuildProtection: { type: 'boolean', default: false, description: 'Default off.' },
    publicIpv4: { type: 'boolean', default: true, replaceOnChange: true, description: 'Default on.' },
    publicIpv6: { type: 'boolean', default: true, replaceOnChange: true, description: 'Default on.' },
  },
  outputs: {
    id: { type: 'integer' },
    ipv4: { type: 'string' },
    ipv6: { type: 'string' },
    privateIp: { type: 'string', description: 'Address in the first private network.' },
  },
  replaceOrder: {
    order: 'delete-first',
    why: 'Hetzner server names are unique in a project: the old server must go before the new one can take its name',
  },
});

type ServerSpec = KindSpec<typeof serverSchema>;

/** What the API never returns (user data, SSH keys) is compared through a digest label. */
function writeOnlyDigest(spec: Partial<ServerSpec>): string {
  return inputHash({ userData: spec.userData ?? null, sshKeys: [...(spec.sshKeys ?? [])].map(String).sort() });
}

/**
 * `hetzner.Server`. In place: type (poweroff, change_type, poweron), networks, firewalls, labels,
 * protection. Replaced: image, location, placement group, public IPs, SSH keys, user data.
 */
export class ServerHandler implements ResourceHandler {
  readonly #rt: HetznerRuntime;
  constructor(rt: HetznerRuntime) {
    this.#rt = rt;
  }

  normalize(spec: Readonly<Record<string, unknown>>): Record<string, unknown> {
    const out: Record<string, unknown> = { ...spec, image: asId(spec.image) };
    if (Array.isArray(spec.networks)) {
      out.networks = (spec.networks as Record<string, unknown>[]).map((n) => ({ ...n, network: asId(n.network) }));
    }
    if (Array.isArray(spec.firewalls)) out.firewalls = spec.firewalls.map(asId);
    if (Array.isArray(spec.sshKeys)) out.sshKeys = spec.sshKeys.map(asId);
    if (spec.placementGroup !== undefined) out.placementGroup = asId(spec.placementGroup);
    return out;
  }

  #observed(ctx: HandlerContext, s: HcloudServer, desired?: ResolvedResource): ObservedResource {
    const key = `${serverSchema.kind}/${s.name}`;
    const want: Partial<ServerSpec> = desired ? specOf(serverSchema, desired) : {};
    const wantIps = new Map((want.networks ?? []).map((n) => [Number(n.network), n.ip]));
    const running = this.#rt.actions.running(key) || s.status !== 'running';
    const failure = this.#rt.actions.failure(key);
    const image =
      typeof want.image === 'number' || s.image === null
        ? (s.image?.id ?? null)
        : want.image === String(s.image.id)
          ? String(s.image.id)
          : (s.image.name ?? s.image.id);
    // User data and SSH keys cannot be read back: when the digest label matches, they are as desired.
    const digest = s.labels[INPUT_HASH_LABEL];
    const writeOnlyKnown = digest !== undefined && digest === writeOnlyDigest(want);
    const spec: Record<string, unknown> = {
      serverType: s.server_type.name,
      image,
      location: s.datacenter.location.name,
      networks: s.private_net.map((p) => ({ network: p.network, ...(wantIps.get(p.network) ? { ip: p.ip } : {}) })),
      firewalls: s.public_net.firewalls.map((f) => f.id),
      sshKeys: writeOnlyKnown ? (want.sshKeys ?? []) : ['(unknown: set outside keelson)'],
      ...(writeOnlyKnown
        ? want.userData === undefined
          ? {}
          : { userData: want.userData }
        : { userData: '(unknown)' }),
      ...(s.placement_group ? { placementGroup: s.placement_group.id } : {}),
      labels: userLabelsOf(s.labels),
      deleteProtection: s.protection.delete,
      rebuildProtection: s.protection.rebuild,
      publicIpv4: s.public_net.ipv4 !== null,
      publicIpv6: s.public_net.ipv6 !== null,
    };
    return {
      ...observedBase(serverSchema.kind, s, ctx, { deleteProtection: s.protection.delete }),
      spec,
      outputs: {
        id: s.id,
        ipv4: s.public_net.ipv4?.ip ?? null,
        ipv6: s.public_net.ipv6?.ip ?? null,
        privateIp: s.private_net[0]?.ip ?? null,
      },
      ready: !running,
      ...(failure ? { message: failure } : running ? { message: `status ${s.status}` } : {}),
    };
  }

  async observe(ctx: HandlerContext, query: ObserveQuery): Promise<ObservedResource[]> {
    await this.#rt.actions.refresh(ctx.signal);
    const servers = await this.#rt.client.list<HcloudServer>('/servers', 'servers', {
      what: 'list servers',
      ...signalOf(ctx),
    });
    const desired = new Map(query.desired.map((d) => [d.name, d]));
    return relevant(servers, ctx, query).map((s) => this.#observed(ctx, s, desired.get(s.name)));
  }

  #get(ctx: HandlerContext, id: string | number, key: string): Promise<HcloudServer> {
    return getOne<HcloudServer>(this.#rt.client, ctx, 'servers', 'server', id, key);
  }

  async create(ctx: HandlerContext, desired: ResolvedResource): Promise<ObservedResource> {
    const c = this.#rt.client;
    const spec = specOf(serverSchema, desired);
    const key = desired.key;
    const labels = () => labelsFor(ctx, desired, { [INPUT_HASH_LABEL]: writeOnlyDigest(spec) });
    let createAction: HcloudAction | undefined;
    const { item, outcome } = await findOrClaimNamed<HcloudServer>(this.#rt, ctx, desired, 'servers', {
      create: async () => {
        // Not idempotent: never retried here; the create journal and the ownership labels decide.
        const answer = await c.request<{ server: HcloudServer; action: HcloudAction }>('POST', '/servers', {
          idempotent: false,
          body: {
            name: desired.name,
            server_type: spec.serverType,
            image: spec.image,
            location: spec.location,
            start_after_create: true,
            ssh_keys: (spec.sshKeys ?? []).map(String),
            ...(spec.userData === undefined ? {} : { user_data: spec.userData }),
            labels: labels(),
            ...(spec.placementGroup === undefined ? {} : { placement_group: spec.placementGroup }),
            public_net: { enable_ipv4: spec.publicIpv4 !== false, enable_ipv6: spec.publicIpv6 !== false },
            firewalls: (spec.firewalls ?? []).map((firewall) => ({ firewall })),
            // Fixed addresses need attach_to_network after the create action.
            networks: (spec.networks ?? []).filter((n) => n.ip === undefined).map((n) => n.network),
          },
          what: `create ${key}`,
          resource: key,
          ...signalOf(ctx),
        });
        createAction = answer.action;
        return answer.server;
      },
      claim: async (found) => {
        await this.#putLabels(ctx, desired, found.id, labels());
        return this.#get(ctx, found.id, key);
      },
    });
    if (outcome !== 'created') return this.#observed(ctx, item, desired);
    const fixed = (spec.networks ?? []).filter((n) => n.ip !== undefined);
    const protect = spec.deleteProtection || spec.rebuildProtection;
    if (fixed.length === 0 && !protect) {
      this.#rt.actions.track(key, `create ${key}`, [createAction]);
      return this.#observed(ctx, item, desired);
    }
    // Further actions on a server are refused (423) until its create action has finished.
    await this.#rt.actions.wait(key, [createAction], `create ${key}`, this.#rt.actionTimeoutMs, ctx.signal);
    for (const [i, n] of fixed.entries()) {
      const last = i === fixed.length - 1 && !protect;
      await postAction(
        this.#rt,
        ctx,
        key,
        `/servers/${item.id}/actions/attach_to_network`,
        { network: n.network, ip: n.ip },
        `attach ${key} to network ${n.network}`,
        !last,
      );
    }
    if (protect) {
      await postAction(
        this.#rt,
        ctx,
        key,
        `/servers/${item.id}/actions/change_protection`,
        { delete: spec.deleteProtection, rebuild: spec.rebuildProtection },
        `protect ${key}`,
        false,
      );
    }
    return this.#observed(ctx, await this.#get(ctx, item.id, key), desired);
  }

  async #putLabels(
    ctx: HandlerContext,
    desired: ResolvedResource,
    id: number | string,
    labels: Record<string, string>,
  ) {
    await this.#rt.client.request('PUT', `/servers/${id}`, {
      body: { labels },
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
    const want = specOf(serverSchema, desired);
    const have = specOf(serverSchema, observed);
    const act = (command: string, body: unknown, wait = true) =>
      postAction(this.#rt, ctx, key, `/servers/${id}/actions/${command}`, body, `${command} on ${key}`, wait);
    if (!observed.owned || fieldChanged(changes, 'labels')) {
      const digest = observed.owned ? writeOnlyDigest(want) : undefined;
      await this.#putLabels(ctx, desired, id, labelsFor(ctx, desired, digest ? { [INPUT_HASH_LABEL]: digest } : {}));
    }
    if (fieldChanged(changes, 'networks')) {
      const remove = without(have.networks, want.networks);
      const add = without(want.networks, have.networks);
      for (const n of remove) await act('detach_from_network', { network: n.network });
      for (const n of add) await act('attach_to_network', { network: n.network, ...(n.ip ? { ip: n.ip } : {}) });
    }
    if (fieldChanged(changes, 'firewalls')) {
      for (const f of without(have.firewalls ?? [], want.firewalls ?? [])) {
        await postAction(
          this.#rt,
          ctx,
          key,
          `/firewalls/${f}/actions/remove_from_resources`,
          { remove_from: [{ type: 'server', server: { id: Number(id) } }] },
          `remove firewall ${f} from ${key}`,
          true,
        );
      }
      for (const f of without(want.firewalls ?? [], have.firewalls ?? [])) {
        await postAction(
          this.#rt,
          ctx,
          key,
          `/firewalls/${f}/actions/apply_to_resources`,
          { apply_to: [{ type: 'server', server: { id: Number(id) } }] },
          `apply firewall ${f} to ${key}`,
          true,
        );
      }
    }
    if (fieldChanged(changes, 'deleteProtection') || fieldChanged(changes, 'rebuildProtection')) {
      await act('change_protection', { delete: want.deleteProtection, rebuild: want.rebuildProtection });
    }
    if (fieldChanged(changes, 'serverType')) {
      // A type change needs the server off; it is powered on again at the end (tracked, not awaited).
      await act('poweroff', {});
      await act('change_type', { server_type: want.serverType, upgrade_disk: false });
      await act('poweron', {}, false);
    }
    return this.#observed(ctx, await this.#get(ctx, id, key), desired);
  }

  async delete(ctx: HandlerContext, observed: ObservedResource): Promise<void> {
    const answer = await deleteById<{ action?: HcloudAction }>(this.#rt, ctx, 'servers', observed.id, observed.key);
    // Wait, so that the network or placement group it leaves can be deleted next in the same pass.
    await this.#rt.actions.wait(
      observed.key,
      [answer?.action],
      `delete ${observed.key}`,
      this.#rt.actionTimeoutMs,
      ctx.signal,
    );
  }

  async settle(ctx: HandlerContext, applied: ObservedResource): Promise<void> {
    await this.#rt.actions.settle(applied.key, this.#rt.actionTimeoutMs, ctx.signal);
  }
}
