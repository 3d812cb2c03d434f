import {
  type FieldChange,
  type HandlerContext,
  KeelsonError,
  type KindSchema,
  type ObservedResource,
  type ObserveQuery,
  OWNER_LABEL,
  type ResolvedResource,
  type ResourceHandler,
  resourceKey,
} from '../../sdk/index.ts';
import type { DockerNode, SwarmClient } from '../client/client.ts';
import { isOwned, isProtected, liveUserLabels, ownerLabels, sortedRecord } from '../ownership.ts';

export const NODE_KIND = 'swarm.Node';

export const nodeSchema: KindSchema = {
  kind: NODE_KIND,
  description:
    'A node of the Swarm, matched by hostname (the resource name). Nodes join by themselves: keelson manages their labels, availability and role, never creates or removes one. Only the fields written are managed. Draining the node keelson runs on, or demoting the last manager, is refused unless allowDisruption is true.',
  spec: {
    labels: {
      type: 'map',
      values: { type: 'string' },
      description:
        'Node labels (placement constraints read them: node.labels.mongo==1). When written, the node has exactly these.',
    },
    availability: {
      type: 'string',
      enum: ['active', 'pause', 'drain'],
      description: 'active; pause (no new tasks); drain (its tasks move to other nodes).',
    },
    role: { type: 'string', enum: ['manager', 'worker'], description: 'Promote or demote the node.' },
    allowDisruption: {
      type: 'boolean',
      default: false,
      description: 'Allow pausing or draining the node keelson runs on, and demoting the last manager. Default false.',
    },
  },
  outputs: {
    id: { type: 'string', computed: true, description: "Docker's node id." },
    address: { type: 'string', computed: true, description: 'The node address Swarm reports.' },
    state: { type: 'string', computed: true, description: 'ready, down, unknown or disconnected.' },
  },
};

interface NodeSpec {
  labels?: Record<string, string>;
  availability?: string;
  role?: string;
  allowDisruption: boolean;
}

/** Only what the desired spec writes is kept: a field left out is not managed. */
function normalizeNode(spec: Readonly<Record<string, unknown>>): NodeSpec {
  return {
    ...(spec.labels !== undefined && spec.labels !== null
      ? { labels: sortedRecord(spec.labels as Record<string, string>) }
      : {}),
    ...(typeof spec.availability === 'string' ? { availability: spec.availability } : {}),
    ...(typeof spec.role === 'string' ? { role: spec.role } : {}),
    allowDisruption: spec.allowDisruption === true,
  };
}

const hostname = (n: DockerNode): string => n.Description?.Hostname ?? n.Spec.Name ?? n.ID;

/**
 * `swarm.Node`. A node is the resource once keelson has taken it over: `create` enrolls the node
 * of that hostname (ownership labels plus the desired fields), and `delete` releases it (removes
 * the ownership labels and the labels it managed, leaves availability and role). A node not
 * enrolled is not observed, so a plan shows the enrollment as a create.
 */
export class NodeHandler implements ResourceHandler {
  readonly #client: SwarmClient;

  constructor(client: SwarmClient) {
    this.#client = client;
  }

  normalize(spec: Readonly<Record<string, unknown>>): Record<string, unknown> {
    return { ...normalizeNode(spec) };
  }

  async observe(ctx: HandlerContext, query: ObserveQuery): Promise<ObservedResource[]> {
    // A cluster has a handful of nodes: one list call, filtered here.
    const desired = new Map(query.desired.map((d) => [d.name, normalizeNode(d.spec)]));
    return (await this.#client.listNodes())
      .filter((n) => isOwned(n.Spec.Labels ?? undefined, ctx.owner))
      .map((n) => this.#toObserved(ctx, n, desired.get(hostname(n))));
  }

  #toObserved(ctx: HandlerContext, n: DockerNode, desired?: NodeSpec): ObservedResource {
    const name = hostname(n);
    return {
      key: resourceKey(NODE_KIND, name),
      kind: NODE_KIND,
      name,
      id: n.ID,
      owned: isOwned(n.Spec.Labels ?? undefined, ctx.owner),
      protect: isProtected(n.Spec.Labels ?? undefined),
      spec: {
        labels: liveUserLabels(n.Spec.Labels ?? undefined),
        availability: n.Spec.Availability,
        role: n.Spec.Role,
        // Not a property of the node: the desired's own setting, so it never shows as a change.
        allowDisruption: desired?.allowDisruption ?? false,
      },
      outputs: { id: n.ID, address: n.Status?.Addr ?? '', state: n.Status?.State ?? 'unknown' },
      ready: n.Status?.State === 'ready',
    };
  }

  async #node(name: string): Promise<{ node: DockerNode; all: DockerNode[] }> {
    const all = await this.#client.listNodes();
    const matches = all.filter((n) => hostname(n) === name);
    if (matches.length === 0) {
      throw new KeelsonError(
        `node ${name} is not in the swarm (nodes: ${all.map(hostname).join(', ')}); join it first (docker swarm join), or fix the hostname`,
        { code: 'NOT_READY', class: 'waiting', retryAfterMs: 30_000, resource: resourceKey(NODE_KIND, name) },
      );
    }
    if (matches.length > 1) {
      throw new KeelsonError(
        `${matches.length} nodes have the hostname ${name} (${matches.map((n) => n.ID).join(', ')}); remove the stale one (docker node rm) so keelson knows which to manage`,
        { code: 'INVALID_SPEC', class: 'terminal', resource: resourceKey(NODE_KIND, name) },
      );
    }
    return { node: matches[0] as DockerNode, all };
  }

  async create(ctx: HandlerContext, desired: ResolvedResource): Promise<ObservedResource> {
    return this.#apply(ctx, desired);
  }

  async update(
    ctx: HandlerContext,
    desired: ResolvedResource,
    _observed: ObservedResource,
    _changes: readonly FieldChange[],
  ): Promise<ObservedResource> {
    return this.#apply(ctx, desired);
  }

  /** Writes the desired fields (and ownership) onto the node, after the safety checks. */
  async #apply(ctx: HandlerContext, desired: ResolvedResource): Promise<ObservedResource> {
    const want = normalizeNode(desired.spec);
    const { node, all } = await this.#node(desired.name);
    const owner = node.Spec.Labels?.[OWNER_LABEL];
    if (owner && owner !== ctx.owner && !desired.adopt) {
      throw new KeelsonError(
        `cannot manage node ${desired.name}: keelson instance "${owner}" manages it; set "adopt: true" to take it over`,
        { code: 'CONFLICT_UNOWNED', class: 'terminal', resource: desired.key },
      );
    }
    const availability = (want.availability ?? node.Spec.Availability) as DockerNode['Spec']['Availability'];
    const role = (want.role ?? node.Spec.Role) as DockerNode['Spec']['Role'];
    if (!want.allowDisruption) {
      if (availability !== 'active' && availability !== node.Spec.Availability) {
        const local = await this.#client.localNodeId();
        if (local === node.ID) {
          throw refused(
            desired,
            `cannot ${availability === 'drain' ? 'drain' : 'pause'} node ${desired.name}: keelson runs on it (its engine is the one keelson talks to), and would stop itself`,
          );
        }
      }
      if (role === 'worker' && node.Spec.Role === 'manager') {
        const managers = all.filter((n) => n.Spec.Role === 'manager' && n.ID !== node.ID);
        if (managers.length === 0)
          throw refused(desired, `cannot demote node ${desired.name}: it is the last manager of the swarm`);
      }
    }
    const user = want.labels ?? liveUserLabels(node.Spec.Labels ?? undefined);
    const labels = { ...user, ...ownerLabels(ctx.owner, desired.key, desired.protect) };
    await this.#client.updateNode(node.ID, node.Version.Index, {
      ...(node.Spec.Name ? { Name: node.Spec.Name } : {}),
      Labels: labels,
      Role: role,
      Availability: availability,
    });
    ctx.log.info({ resource: desired.key, id: node.ID, availability, role }, 'updated node');
    const { node: after } = await this.#node(desired.name);
    return this.#toObserved(ctx, after, want);
  }

  /** Releases the node: keelson's labels go, availability and role stay as they are. */
  async delete(ctx: HandlerContext, observed: ObservedResource): Promise<void> {
    const node = (await this.#client.listNodes()).find((n) => n.ID === observed.id);
    if (!node || !isOwned(node.Spec.Labels ?? undefined, ctx.owner)) return;
    const managed = new Set(Object.keys((observed.spec.labels ?? {}) as Record<string, string>));
    const labels = Object.fromEntries(
      Object.entries(node.Spec.Labels ?? {}).filter(([k]) => !k.startsWith('keelson.io/') && !managed.has(k)),
    );
    await this.#client.updateNode(node.ID, node.Version.Index, { ...node.Spec, Labels: labels });
    ctx.log.info({ resource: observed.key, id: node.ID }, 'released node');
  }
}

function refused(desired: ResolvedResource, why: string): KeelsonError {
  return new KeelsonError(`${why}; set allowDisruption: true on ${desired.key} to do it anyway`, {
    code: 'PROTECTED',
    class: 'terminal',
    resource: desired.key,
  });
}
