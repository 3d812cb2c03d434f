import {
  defineKind,
  type FieldChange,
  type HandlerContext,
  KeelsonError,
  leftoverName,
  type ObservedResource,
  type ObserveQuery,
  type ResolvedResource,
  type ResourceHandler,
  resourceKey,
} from '../../sdk/index.ts';
import { isConflict, isNotFound } from '../client/errors.ts';
import { type GcpRuntime, readiness, requireKnown, signalOf } from './common.ts';

export const IAM_BINDING_KIND = 'gcp.IamBinding';

const TARGETS = ['project', 'topic', 'subscription', 'function', 'runService', 'secret'] as const;
type TargetType = (typeof TARGETS)[number];

export const iamBindingSchema = defineKind({
  kind: IAM_BINDING_KIND,
  description:
    'One role for a set of members on the project or on one resource. Authoritative for that role on that resource only: other roles, and the role on other resources, are left alone. Tracked in the inventory.',
  spec: {
    target: {
      type: 'object',
      required: true,
      replaceOnChange: true,
      properties: {
        type: { type: 'string', enum: TARGETS, required: true },
        name: {
          type: 'string',
          referenceable: true,
          description: 'The resource (id or full name; a reference to its `name` output). Not used for `project`.',
        },
        region: { type: 'string', description: 'Region of a function or Run service. Default `GCP_REGION`.' },
      },
    },
    role: {
      type: 'string',
      required: true,
      replaceOnChange: true,
      pattern: '^(roles|projects/[^/]+/roles)/[A-Za-z0-9_.]+$',
    },
    members: {
      type: 'array',
      set: true,
      required: true,
      items: { type: 'string', referenceable: true },
      description:
        "e.g. `serviceAccount:x@p.iam.gserviceaccount.com` (a reference to a ServiceAccount's `member` output), `user:...`.",
    },
  },
  outputs: { resource: { type: 'string', computed: true } },
  // Granting the new role (or the role on the new target) before revoking the old one leaves the
  // members no moment without access; the old binding, tracked under its leftover key, goes after.
  replaceOrder: {
    order: 'create-first',
    why: 'the members are granted the new role before the old one is revoked (both may be held at once)',
  },
});

interface Policy {
  version?: number;
  etag?: unknown;
  bindings?: { role?: string; members?: string[]; condition?: unknown }[];
}

interface Target {
  readonly type: TargetType;
  readonly resource: string;
}

/** Read-modify-write attempts when another writer changes the policy in between (etag mismatch). */
const MAX_ATTEMPTS = 5;

/**
 * IAM bindings: the policy of each resource in use is read once per observe (policies cannot be
 * listed); a write reads the policy, replaces the members of the one role and writes it back with
 * the etag it read, again from the start when another writer came in between.
 */
export class IamBindingHandler implements ResourceHandler {
  readonly #rt: GcpRuntime;

  constructor(rt: GcpRuntime) {
    this.#rt = rt;
  }

  #target(spec: Readonly<Record<string, unknown>>): Target {
    const t = (spec.target ?? {}) as { type?: TargetType; name?: unknown; region?: unknown };
    const api = this.#rt.api;
    const type = t.type ?? 'project';
    if (type === 'project') return { type, resource: api.project };
    const raw = typeof t.name === 'string' ? t.name : '';
    if (raw.startsWith('projects/')) return { type, resource: raw };
    const region = typeof t.region === 'string' ? t.region : api.region;
    const resource = {
      topic: `${api.project}/topics/${raw}`,
      subscription: `${api.project}/subscriptions/${raw}`,
      secret: `${api.project}/secrets/${raw}`,
      function: `${api.location(region)}/functions/${raw}`,
      runService: `${api.location(region)}/services/${raw}`,
    }[type];
    return { type, resource };
  }

  /**
   * Where a resource's IAM policy lives. Called over REST directly: the generated clients' IAM
   * mixin sends every policy call as `POST /v1/…` in REST mode, which is not the path of the
   * Functions and Run v2 APIs nor the method Pub/Sub and Secret Manager document.
   */
  #endpoint(type: TargetType): { host: string; version: string; readWithPost: boolean } {
    switch (type) {
      case 'project':
        // Resource Manager reads policies with POST (it takes options in the body).
        return { host: 'cloudresourcemanager.googleapis.com', version: 'v3', readWithPost: true };
      case 'topic':
      case 'subscription':
        return { host: 'pubsub.googleapis.com', version: 'v1', readWithPost: false };
      case 'secret':
        return { host: 'secretmanager.googleapis.com', version: 'v1', readWithPost: false };
      case 'function':
        return { host: 'cloudfunctions.googleapis.com', version: 'v2', readWithPost: false };
      case 'runService':
        return { host: 'run.googleapis.com', version: 'v2', readWithPost: false };
    }
  }

  async #policy(ctx: HandlerContext, target: Target, key: string | undefined): Promise<Policy | undefined> {
    const api = this.#rt.api;
    const e = this.#endpoint(target.type);
    try {
      return await api.rest<Policy>(
        e.readWithPost ? 'POST' : 'GET',
        e.host,
        e.readWithPost
          ? `/${e.version}/${target.resource}:getIamPolicy`
          : `/${e.version}/${target.resource}:getIamPolicy?options.requestedPolicyVersion=3`,
        `read the IAM policy of ${target.resource}`,
        key,
        e.readWithPost ? { options: { requestedPolicyVersion: 3 } } : undefined,
        { idempotent: true, ...signalOf(ctx) },
      );
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  normalize(spec: Readonly<Record<string, unknown>>): Record<string, unknown> {
    const t = (spec.target ?? {}) as Record<string, unknown>;
    // A target not created yet (its name is known after apply) stays as it is.
    if (t.type !== 'project' && t.type !== undefined && typeof t.name !== 'string') return { ...spec };
    const target = this.#target(spec);
    return { ...spec, target: { ...t, name: target.type === 'project' ? undefined : target.resource } };
  }

  #observed(
    ctx: HandlerContext,
    name: string,
    target: Target,
    role: string,
    policy: Policy,
    spec: Readonly<Record<string, unknown>>,
  ): ObservedResource {
    const key = resourceKey(IAM_BINDING_KIND, name);
    const id = `${target.resource}#${role}`;
    const members = (policy.bindings ?? [])
      .filter((b) => b.role === role && !b.condition)
      .flatMap((b) => b.members ?? []);
    const t = (spec.target ?? {}) as Record<string, unknown>;
    return {
      key,
      kind: IAM_BINDING_KIND,
      name,
      id,
      owned: ctx.inventory.get(key)?.id === id,
      ...readiness(this.#rt, key),
      spec: {
        target: { ...t, type: target.type, name: target.type === 'project' ? undefined : target.resource },
        role,
        members: [...new Set(members)].sort(),
      },
      outputs: { resource: target.resource },
    };
  }

  async observe(ctx: HandlerContext, query: ObserveQuery): Promise<ObservedResource[]> {
    const candidates = new Map<string, { target: Target; role: string; spec: Readonly<Record<string, unknown>> }>();
    for (const e of ctx.inventory.list(IAM_BINDING_KIND)) {
      const d = (e.data ?? {}) as { type?: TargetType; resource?: string; role?: string };
      if (d.type && d.resource && d.role) {
        candidates.set(e.key.slice(IAM_BINDING_KIND.length + 1), {
          target: { type: d.type, resource: d.resource },
          role: d.role,
          spec: { target: { type: d.type } },
        });
      }
    }
    for (const d of query.desired) {
      const t = (d.spec.target ?? {}) as { name?: unknown };
      // A target whose name is not known yet (created later in this pass) has no policy to read.
      if (t.name !== undefined && typeof t.name !== 'string') continue;
      // What keelson recorded wins: a changed role or target shows as a difference to replace.
      const recorded = candidates.get(d.name);
      if (recorded) candidates.set(d.name, { ...recorded, spec: d.spec });
      else candidates.set(d.name, { target: this.#target(d.spec), role: String(d.spec.role), spec: d.spec });
    }
    const policies = new Map<string, Policy | undefined>();
    const out: ObservedResource[] = [];
    for (const [name, c] of candidates) {
      if (!policies.has(c.target.resource))
        policies.set(c.target.resource, await this.#policy(ctx, c.target, undefined));
      const policy = policies.get(c.target.resource);
      if (!policy) continue;
      const observed = this.#observed(ctx, name, c.target, c.role, policy, c.spec);
      // A role nobody holds and keelson never wrote does not exist.
      if ((observed.spec.members as string[]).length === 0 && !observed.owned) continue;
      out.push(observed);
    }
    return out;
  }

  /** Sets the members of one role (none: removes the role), keeping everything else of the policy. */
  async #write(
    ctx: HandlerContext,
    key: string,
    target: Target,
    role: string,
    members: readonly string[],
  ): Promise<Policy> {
    const api = this.#rt.api;
    for (let attempt = 1; ; attempt++) {
      const policy = await this.#policy(ctx, target, key);
      if (!policy) {
        if (members.length === 0) return {};
        throw new KeelsonError(`cannot bind ${role} on ${target.resource}: the resource does not exist`, {
          code: 'NOT_READY',
          class: 'waiting',
          resource: key,
          retryAfterMs: 5000,
        });
      }
      const bindings = (policy.bindings ?? []).filter((b) => b.role !== role || b.condition);
      if (members.length > 0) bindings.push({ role, members: [...members].sort() });
      // Conditional bindings need policy version 3; keep what was read otherwise.
      const version = bindings.some((b) => b.condition) ? 3 : (policy.version ?? 1);
      const next: Policy = { ...policy, version, bindings };
      try {
        const e = this.#endpoint(target.type);
        const written = await api.rest<Policy>(
          'POST',
          e.host,
          `/${e.version}/${target.resource}:setIamPolicy`,
          `write the IAM policy of ${target.resource}`,
          key,
          { policy: next },
          // The etag makes a repeat harmless: it is refused, read again and re-applied below.
          { idempotent: true, ...signalOf(ctx) },
        );
        return written ?? next;
      } catch (error) {
        // Someone else wrote the policy since it was read: read again and re-apply this one role.
        if (!isConflict(error) || attempt >= MAX_ATTEMPTS) throw error;
      }
    }
  }

  async #apply(ctx: HandlerContext, desired: ResolvedResource): Promise<ObservedResource> {
    requireKnown(desired);
    const target = this.#target(desired.spec);
    const role = String(desired.spec.role);
    const members = [...new Set((desired.spec.members ?? []) as string[])];
    const id = `${target.resource}#${role}`;
    // A create-first replacement: the binding recorded under this key is the old one. It stays
    // recorded, under its leftover key, until it is deleted (also by the next pass after a crash).
    const previous = ctx.inventory.get(desired.key);
    if (previous && previous.id !== id) {
      await ctx.inventory.set({
        ...previous,
        key: resourceKey(IAM_BINDING_KIND, leftoverName(desired.name, previous.id)),
      });
    }
    await ctx.inventory.set({
      key: desired.key,
      kind: IAM_BINDING_KIND,
      id,
      data: { type: target.type, resource: target.resource, role },
    });
    const policy = await this.#write(ctx, desired.key, target, role, members);
    return this.#observed(ctx, desired.name, target, role, policy, desired.spec);
  }

  create(ctx: HandlerContext, desired: ResolvedResource): Promise<ObservedResource> {
    return this.#apply(ctx, desired);
  }

  update(
    ctx: HandlerContext,
    desired: ResolvedResource,
    _observed: ObservedResource,
    _changes: readonly FieldChange[],
  ): Promise<ObservedResource> {
    return this.#apply(ctx, desired);
  }

  async delete(ctx: HandlerContext, observed: ObservedResource): Promise<void> {
    const hash = observed.id.lastIndexOf('#');
    const resource = observed.id.slice(0, hash);
    const role = observed.id.slice(hash + 1);
    const type = ((observed.spec.target as { type?: TargetType } | undefined)?.type ??
      (ctx.inventory.get(observed.key)?.data as { type?: TargetType } | undefined)?.type ??
      'project') as TargetType;
    await this.#write(ctx, observed.key, { type, resource }, role, []);
    // Only the record of this binding: a leftover's delete must not forget the new binding.
    if (ctx.inventory.get(observed.key)?.id === observed.id) await ctx.inventory.remove(observed.key);
  }
}
