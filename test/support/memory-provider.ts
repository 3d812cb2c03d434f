import type { ProviderModule } from '../../providers/sdk/index.ts';
import {
  type CompositeExpander,
  KeelsonError,
  type KindSchema,
  type ObservedResource,
  type Provider,
  type ResourceHandler,
  SecretValue,
  userLabels,
} from '../../providers/sdk/index.ts';

/**
 * A small in-memory provider for engine tests (plain objects, no mock framework). `mem.Thing` has
 * an in-place field, a replace-on-change field, labels and a secret; `mem.Link` references a
 * Thing's output. Every write is counted and can be made to fail.
 */
export const thingSchema: KindSchema = {
  kind: 'mem.Thing',
  description: 'a thing in memory',
  spec: {
    size: { type: 'integer', required: true, minimum: 0, description: 'how big' },
    color: { type: 'string', default: 'blue' },
    zone: { type: 'string', replaceOnChange: true, default: 'z1' },
    labels: { type: 'map', values: { type: 'string' } },
    password: { type: 'secret', sensitive: true },
    tags: { type: 'array', items: { type: 'string' }, set: true },
  },
  outputs: { address: { type: 'string', computed: true } },
};

export const linkSchema: KindSchema = {
  kind: 'mem.Link',
  description: 'points at a thing',
  spec: { target: { type: 'string', required: true, referenceable: true } },
};

/** A composite: expands into `count` things named `<group>-<i>`. */
export const groupSchema: KindSchema = {
  kind: 'mem.Group',
  description: 'a group of things',
  spec: { count: { type: 'integer', required: true, minimum: 0 } },
};

const groupExpander: CompositeExpander = {
  expand(resource) {
    return Array.from({ length: Number(resource.spec.count) }, (_, i) => ({
      kind: 'mem.Thing',
      name: `${resource.name}-${i}`,
      spec: { size: i },
    }));
  },
};

export const vaultSchema: KindSchema = {
  kind: 'mem.Vault',
  description: 'a stateful thing',
  stateful: true,
  spec: { region: { type: 'string', required: true, replaceOnChange: true } },
};

interface Stored {
  id: string;
  kind: string;
  name: string;
  spec: Record<string, unknown>;
  labels: Record<string, string>;
  protect?: boolean;
}

export interface MemoryWorld {
  readonly items: Map<string, Stored>;
  writes: number;
  reads: number;
  /** Keys whose next create/update fails with this error. */
  readonly failNext: Map<string, Error>;
  /** Fields the "API" rewrites after every write (for unstable-field tests). */
  readonly rewrite: Map<string, Record<string, unknown>>;
  /** Create that succeeds at the vendor but then throws (a timeout after the request went through). */
  readonly lostResponse: Set<string>;
  /** Fields a create leaves out (a multi-step create whose later steps did not happen). */
  readonly partialCreate: Map<string, readonly string[]>;
  /** Keys whose `settle` does not wait but answers 'unconfirmed' (as for keelson's own service). */
  readonly unconfirmed: Set<string>;
  /** Keys the "vendor" is still working on (observed not ready). */
  readonly busy: Set<string>;
  /** Per key: the spec of the last update the "vendor" undid, and why (as a Swarm rollback). */
  readonly rolledBack: Map<string, { spec: Record<string, unknown>; message: string }>;
}

export function memoryWorld(): MemoryWorld {
  return {
    items: new Map(),
    writes: 0,
    reads: 0,
    failNext: new Map(),
    rewrite: new Map(),
    lostResponse: new Set(),
    partialCreate: new Map(),
    unconfirmed: new Set(),
    busy: new Set(),
    rolledBack: new Map(),
  };
}

function handlerFor(world: MemoryWorld): ResourceHandler {
  let next = 1;
  const toObserved = (s: Stored, owner: string): ObservedResource => ({
    key: `${s.kind}/${s.name}`,
    kind: s.kind,
    name: s.name,
    id: s.id,
    owned: s.labels['keelson.io/owner'] === owner,
    spec: {
      ...s.spec,
      ...(Object.keys(s.labels).length && s.spec.labels !== undefined ? { labels: userLabels(s.labels) } : {}),
    },
    outputs: { address: `10.0.0.${s.id.replace(/\D/g, '')}` },
    ready: !world.busy.has(`${s.kind}/${s.name}`),
    protect: s.protect ?? false,
    ...(world.rolledBack.has(`${s.kind}/${s.name}`) ? { rolledBack: world.rolledBack.get(`${s.kind}/${s.name}`) } : {}),
  });
  const store = (spec: Record<string, unknown>): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(spec)) out[k] = v instanceof SecretValue ? { $sensitiveDigest: v.digest } : v;
    return out;
  };
  const fail = (key: string): void => {
    const e = world.failNext.get(key);
    if (e) {
      world.failNext.delete(key);
      throw e;
    }
  };
  return {
    async observe(ctx, query) {
      world.reads++;
      return [...world.items.values()]
        .filter(
          (s) => s.kind === query.kind && (s.labels['keelson.io/owner'] === ctx.owner || query.names.includes(s.name)),
        )
        .map((s) => toObserved(s, ctx.owner));
    },
    async create(ctx, desired) {
      const existing = world.items.get(desired.key);
      if (existing) {
        if (existing.labels['keelson.io/owner'] !== ctx.owner)
          throw new KeelsonError(`cannot create ${desired.key}: it exists and is not owned by keelson`, {
            code: 'CONFLICT_UNOWNED',
            class: 'terminal',
          });
        return toObserved(existing, ctx.owner);
      }
      fail(desired.key);
      world.writes++;
      const s: Stored = {
        id: `id-${next++}`,
        kind: desired.kind,
        name: desired.name,
        spec: { ...store(desired.spec), ...(world.rewrite.get(desired.key) ?? {}) },
        labels: { ...((desired.spec.labels as Record<string, string>) ?? {}), 'keelson.io/owner': ctx.owner },
      };
      for (const field of world.partialCreate.get(desired.key) ?? []) delete s.spec[field];
      world.partialCreate.delete(desired.key);
      world.items.set(desired.key, s);
      if (world.lostResponse.delete(desired.key))
        throw new KeelsonError(`cannot create ${desired.key}: timed out`, { code: 'TIMEOUT', class: 'transient' });
      return toObserved(s, ctx.owner);
    },
    async update(ctx, desired) {
      fail(desired.key);
      world.writes++;
      const s = world.items.get(desired.key);
      if (!s)
        throw new KeelsonError(`cannot update ${desired.key}: not found`, { code: 'NOT_FOUND', class: 'transient' });
      s.spec = { ...store(desired.spec), ...(world.rewrite.get(desired.key) ?? {}) };
      world.rolledBack.delete(desired.key);
      s.labels = { ...((desired.spec.labels as Record<string, string>) ?? {}), 'keelson.io/owner': ctx.owner };
      return toObserved(s, ctx.owner);
    },
    async settle(_ctx, applied) {
      return world.unconfirmed.has(applied.key) ? 'unconfirmed' : undefined;
    },
    async delete(_ctx, observed) {
      if (!world.items.has(observed.key)) return;
      world.writes++;
      world.items.delete(observed.key);
    },
  };
}

export function memoryProvider(world: MemoryWorld): Provider {
  return {
    name: 'mem',
    concurrency: 2,
    kinds: [thingSchema, linkSchema, vaultSchema].map((schema) => ({ schema, handler: handlerFor(world) })),
  };
}

export function memoryModule(world: MemoryWorld): ProviderModule {
  return {
    name: 'mem',
    schemas: [thingSchema, linkSchema, vaultSchema, groupSchema],
    expanders: { 'mem.Group': groupExpander },
    create: () => memoryProvider(world),
  };
}
