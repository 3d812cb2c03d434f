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
import type { HcloudSshKey } from '../client/api-types.ts';
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

export const sshKeySchema = defineKind({
  kind: 'hetzner.SshKey',
  description: 'An SSH public key in the Hetzner project, for servers to trust at creation.',
  spec: {
    publicKey: { type: 'string', required: true, replaceOnChange: true, description: 'OpenSSH public key line.' },
    labels: { type: 'map', values: { type: 'string' }, default: {}, description: 'User labels (default none).' },
  },
  outputs: { id: { type: 'integer' }, fingerprint: { type: 'string' } },
  replaceOrder: {
    order: 'delete-first',
    why: 'Hetzner SSH key names are unique in a project (and so are public keys): the old key must go before the new one can take its name',
  },
});

/** `hetzner.SshKey`: only the labels change in place; another key is a new resource. */
export class SshKeyHandler implements ResourceHandler {
  readonly #rt: HetznerRuntime;
  constructor(rt: HetznerRuntime) {
    this.#rt = rt;
  }

  normalize(spec: Readonly<Record<string, unknown>>): Record<string, unknown> {
    return typeof spec.publicKey === 'string' ? { ...spec, publicKey: spec.publicKey.trim() } : { ...spec };
  }

  #observed(ctx: HandlerContext, k: HcloudSshKey): ObservedResource {
    return {
      ...observedBase(sshKeySchema.kind, k, ctx, {}),
      spec: { publicKey: k.public_key.trim(), labels: userLabelsOf(k.labels) },
      outputs: { id: k.id, fingerprint: k.fingerprint },
      ready: true,
    };
  }

  async observe(ctx: HandlerContext, query: ObserveQuery): Promise<ObservedResource[]> {
    const keys = await this.#rt.client.list<HcloudSshKey>('/ssh_keys', 'ssh_keys', {
      what: 'list SSH keys',
      ...signalOf(ctx),
    });
    return relevant(keys, ctx, query).map((k) => this.#observed(ctx, k));
  }

  async create(ctx: HandlerContext, desired: ResolvedResource): Promise<ObservedResource> {
    const c = this.#rt.client;
    const { item } = await findOrClaimNamed<HcloudSshKey>(this.#rt, ctx, desired, 'ssh_keys', {
      create: async () =>
        (
          await c.request<{ ssh_key: HcloudSshKey }>('POST', '/ssh_keys', {
            body: {
              name: desired.name,
              public_key: specOf(sshKeySchema, desired).publicKey,
              labels: labelsFor(ctx, desired),
            },
            what: `create ${desired.key}`,
            resource: desired.key,
            ...signalOf(ctx),
          })
        ).ssh_key,
      claim: (found) => this.#putLabels(ctx, desired, found.id),
    });
    return this.#observed(ctx, item);
  }

  async #putLabels(ctx: HandlerContext, desired: ResolvedResource, id: number | string): Promise<HcloudSshKey> {
    const body = await this.#rt.client.request<{ ssh_key: HcloudSshKey }>('PUT', `/ssh_keys/${id}`, {
      body: { labels: labelsFor(ctx, desired) },
      what: `update labels of ${desired.key}`,
      resource: desired.key,
      ...signalOf(ctx),
    });
    return body.ssh_key;
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
    await deleteById(this.#rt, ctx, 'ssh_keys', observed.id, observed.key);
  }
}
