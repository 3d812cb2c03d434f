import {
  type FieldChange,
  type HandlerContext,
  KeelsonError,
  type KindSchema,
  type ObservedResource,
  type ObserveQuery,
  type ResolvedResource,
  type ResourceHandler,
  resourceKey,
} from '../../sdk/index.ts';
import type { DockerNetwork, SwarmClient } from '../client/client.ts';
import { isOwned, isProtected, listOwnedAndNamed, liveUserLabels, ownerLabels, sortedRecord } from '../ownership.ts';

export const NETWORK_KIND = 'swarm.Network';

export const networkSchema: KindSchema = {
  kind: NETWORK_KIND,
  description:
    'A Swarm-scoped network (overlay by default). Docker networks cannot be changed in place: driver, attachable, internal and options replace it; a label change re-creates it while no service uses it.',
  spec: {
    driver: {
      type: 'string',
      default: 'overlay',
      // bridge, host and none are local to one engine: a Swarm service cannot use them.
      pattern: '^(?!(bridge|host|none)$).+$',
      replaceOnChange: true,
      description:
        'Network driver: overlay, or a Swarm-scoped plugin. Not bridge, host or none (local to one engine: services cannot use them). Default overlay.',
    },
    attachable: {
      type: 'boolean',
      default: false,
      replaceOnChange: true,
      description: 'Standalone containers may attach (docker run --network). Default false.',
    },
    internal: {
      type: 'boolean',
      default: false,
      replaceOnChange: true,
      description: 'No external connectivity. Default false.',
    },
    options: {
      type: 'map',
      values: { type: 'string' },
      default: {},
      replaceOnChange: true,
      description: 'Driver options, e.g. com.docker.network.driver.mtu. Default none.',
    },
    labels: { type: 'map', values: { type: 'string' }, default: {}, description: 'Labels. Default none.' },
    ipam: {
      type: 'object',
      default: {},
      replaceOnChange: true,
      description: 'Address management. Default: the engine picks a free subnet.',
      properties: {
        driver: { type: 'string', default: 'default', description: 'IPAM driver. Default default.' },
        config: {
          type: 'array',
          set: true,
          default: [],
          description: 'Subnets.',
          items: {
            type: 'object',
            properties: {
              subnet: { type: 'string', required: true, description: 'e.g. 10.200.0.0/24.' },
              gateway: { type: 'string', default: '', description: 'Default: the engine picks the first address.' },
              ipRange: { type: 'string', default: '', description: 'Addresses for tasks, within the subnet.' },
            },
          },
        },
      },
    },
  },
  outputs: {
    name: { type: 'string', computed: true, description: 'The network name (what services list).' },
    networkId: { type: 'string', computed: true, description: "Docker's id of the network." },
  },
  replaceOrder: {
    order: 'delete-first',
    why: 'the services on a Swarm network know it by name, and names are unique: the old network must go before the new one can take its name',
  },
};

/** Options the engine adds by itself (an overlay's VXLAN id): not the user's, so not drift. */
const ENGINE_OPTIONS = ['com.docker.network.driver.overlay.vxlanid_list'];

interface IpamConfig {
  subnet: string;
  gateway: string;
  ipRange: string;
}

interface NetworkSpec {
  driver: string;
  attachable: boolean;
  internal: boolean;
  options: Record<string, string>;
  labels: Record<string, string>;
  ipam: { driver: string; config: IpamConfig[] };
}

function normalizeNetwork(spec: Readonly<Record<string, unknown>>): NetworkSpec {
  const ipam = (spec.ipam ?? {}) as { driver?: unknown; config?: unknown };
  const config = (Array.isArray(ipam.config) ? ipam.config : []).map((c: Record<string, unknown>) => ({
    subnet: String(c?.subnet ?? ''),
    gateway: String(c?.gateway ?? ''),
    ipRange: String(c?.ipRange ?? ''),
  }));
  return {
    driver: typeof spec.driver === 'string' ? spec.driver : 'overlay',
    attachable: spec.attachable === true,
    internal: spec.internal === true,
    options: sortedRecord(spec.options as Record<string, string> | undefined),
    labels: sortedRecord(spec.labels as Record<string, string> | undefined),
    ipam: {
      driver: typeof ipam.driver === 'string' && ipam.driver ? ipam.driver : 'default',
      config: config.sort((a, b) => a.subnet.localeCompare(b.subnet)),
    },
  };
}

/**
 * The live IPAM config in the desired's terms: subnets the engine picked by itself (the desired
 * names none) are not the user's, nor is a gateway the engine filled in for a desired subnet.
 */
function liveIpam(n: DockerNetwork, desired: NetworkSpec | undefined): NetworkSpec['ipam'] {
  const wanted = desired?.ipam.config ?? [];
  const config = wanted.length
    ? (n.IPAM?.Config ?? []).map((c) => {
        const d = wanted.find((w) => w.subnet === c.Subnet);
        return {
          subnet: c.Subnet ?? '',
          gateway: d && !d.gateway ? '' : (c.Gateway ?? ''),
          ipRange: c.IPRange ?? '',
        };
      })
    : [];
  return { driver: n.IPAM?.Driver || 'default', config };
}

/**
 * `swarm.Network`. Its `id` is its name (stable across the re-create a label change needs, and
 * what services name in their `networks:`); Docker's id is the `networkId` output.
 */
export class NetworkHandler implements ResourceHandler {
  readonly #client: SwarmClient;
  /** How long delete waits for the tasks of removed services to leave the network. */
  readonly #detachTimeoutMs: number;

  constructor(client: SwarmClient, options: { detachTimeoutMs?: number } = {}) {
    this.#client = client;
    this.#detachTimeoutMs = options.detachTimeoutMs ?? 60_000;
  }

  normalize(spec: Readonly<Record<string, unknown>>): Record<string, unknown> {
    return { ...normalizeNetwork(spec) };
  }

  async observe(ctx: HandlerContext, query: ObserveQuery): Promise<ObservedResource[]> {
    const names = new Set(query.names);
    const live = await listOwnedAndNamed(
      (f) => this.#client.listNetworks(f),
      ctx.owner,
      query.names,
      (n) => n.Id,
    );
    const desired = new Map(query.desired.map((d) => [d.name, normalizeNetwork(d.spec)]));
    return live
      .filter((n) => n.Scope === 'swarm' && !n.Ingress && (isOwned(n.Labels, ctx.owner) || names.has(n.Name)))
      .map((n) => this.#toObserved(ctx, n, desired.get(n.Name)));
  }

  #toObserved(ctx: HandlerContext, n: DockerNetwork, desired?: NetworkSpec): ObservedResource {
    const options: Record<string, string> = {};
    for (const [k, v] of Object.entries(n.Options ?? {})) {
      if (ENGINE_OPTIONS.includes(k) && desired?.options[k] === undefined) continue;
      options[k] = v;
    }
    return {
      key: resourceKey(NETWORK_KIND, n.Name),
      kind: NETWORK_KIND,
      name: n.Name,
      id: n.Name,
      owned: isOwned(n.Labels, ctx.owner),
      protect: isProtected(n.Labels),
      spec: normalizeNetwork({
        // Right after a create, the list can show a swarm network before its driver is filled in.
        driver: n.Driver || desired?.driver || 'overlay',
        attachable: n.Attachable,
        internal: n.Internal,
        options,
        labels: liveUserLabels(n.Labels),
        ipam: liveIpam(n, desired),
      }) as unknown as Record<string, unknown>,
      outputs: { name: n.Name, networkId: n.Id },
      // Not allocated yet (just created): no driver, no subnets to compare.
      ready: n.Driver !== '',
    };
  }

  async #find(ctx: HandlerContext, name: string): Promise<ObservedResource | undefined> {
    const found = await this.observe(ctx, { kind: NETWORK_KIND, names: [name], desired: [] });
    return found.find((o) => o.name === name);
  }

  async create(ctx: HandlerContext, desired: ResolvedResource): Promise<ObservedResource> {
    const existing = await this.#find(ctx, desired.name);
    if (existing) {
      if (existing.owned) return existing;
      throw unowned(desired.name);
    }
    const spec = normalizeNetwork(desired.spec);
    if (['bridge', 'host', 'none'].includes(spec.driver)) {
      throw new KeelsonError(
        `cannot create network ${desired.name}: driver ${spec.driver} is local to one engine and Swarm services cannot use it; use overlay`,
        { code: 'INVALID_SPEC', class: 'terminal', resource: desired.key },
      );
    }
    const id = await this.#client.createNetwork({
      Name: desired.name,
      Driver: spec.driver,
      Attachable: spec.attachable,
      Internal: spec.internal,
      CheckDuplicate: true,
      Options: spec.options,
      Labels: { ...spec.labels, ...ownerLabels(ctx.owner, desired.key, desired.protect) },
      ...(spec.ipam.config.length || spec.ipam.driver !== 'default'
        ? {
            IPAM: {
              Driver: spec.ipam.driver,
              Config: spec.ipam.config.map((c) => ({
                Subnet: c.subnet,
                ...(c.gateway ? { Gateway: c.gateway } : {}),
                ...(c.ipRange ? { IPRange: c.ipRange } : {}),
              })),
            },
          }
        : {}),
    });
    ctx.log.info({ resource: desired.key, id }, 'created network');
    // Swarm lists a new network before its allocator has filled in the driver and the subnets:
    // wait for them, so the observe right after the apply sees what was asked for.
    const deadline = Date.now() + this.#detachTimeoutMs;
    for (;;) {
      const found = await this.#find(ctx, desired.name);
      if (found?.ready) return found;
      if (Date.now() > deadline) {
        if (!found) fail(`network ${desired.name} was created but cannot be found`);
        throw new KeelsonError(
          `network ${desired.name} was created but Swarm has not allocated it (no driver, no subnet yet); a subnet that overlaps another network's stays so: check ipam.config`,
          { code: 'NOT_READY', class: 'waiting', retryAfterMs: 30_000, resource: desired.key },
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * Only labels can differ here (everything else replaces). Docker has no network update, so the
   * network is re-created under the same name, which is possible only while nothing uses it.
   */
  async update(
    ctx: HandlerContext,
    desired: ResolvedResource,
    observed: ObservedResource,
    _changes: readonly FieldChange[],
  ): Promise<ObservedResource> {
    const users = await this.#users(observed);
    if (users.length > 0) {
      throw new KeelsonError(
        `cannot change the labels of network ${desired.name}: Docker networks cannot be changed in place and it is in use by ${users.join(', ')}; detach them first, or leave its labels as they are`,
        { code: 'REPLACE_REFUSED', class: 'terminal', resource: desired.key },
      );
    }
    await this.#client.removeNetwork(String(observed.outputs.networkId));
    return this.create(ctx, desired);
  }

  async delete(ctx: HandlerContext, observed: ObservedResource): Promise<void> {
    const networkId = String(observed.outputs.networkId ?? observed.id);
    const deadline = Date.now() + this.#detachTimeoutMs;
    for (;;) {
      try {
        await this.#client.removeNetwork(networkId);
        ctx.log.info({ resource: observed.key }, 'removed network');
        return;
      } catch (error) {
        // The tasks of a service removed a moment ago keep their endpoints until their containers stop.
        const inUse = /active endpoints|in use/i.test(String((error as Error).message));
        if (!inUse) throw error;
        if (Date.now() > deadline) {
          throw new KeelsonError(
            `cannot remove network ${observed.name}: it is still in use (${(error as Error).message})`,
            {
              code: 'NOT_READY',
              class: 'waiting',
              retryAfterMs: 10_000,
              resource: observed.key,
              cause: error,
            },
          );
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  /** Services whose spec lists the network (containers on it make the removal fail instead). */
  async #users(observed: ObservedResource): Promise<string[]> {
    const networkId = String(observed.outputs.networkId);
    const services = await this.#client.listServices({});
    return services
      .filter((s) =>
        ((s.Spec.TaskTemplate?.Networks as { Target: string }[] | undefined) ?? []).some(
          (n) => n.Target === networkId || n.Target === observed.name,
        ),
      )
      .map((s) => `service ${s.Spec.Name}`);
  }
}

function unowned(name: string): KeelsonError {
  return new KeelsonError(
    `cannot create network ${name}: a network of that name exists and keelson does not own it; rename the resource, remove the network, or set "adopt: true"`,
    { code: 'CONFLICT_UNOWNED', class: 'terminal', resource: resourceKey(NETWORK_KIND, name) },
  );
}

function fail(message: string): never {
  throw new KeelsonError(message, { code: 'API_ERROR', class: 'transient' });
}
