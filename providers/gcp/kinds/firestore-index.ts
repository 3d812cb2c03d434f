import {
  canonicalJson,
  defineKind,
  deleteIgnoringMissing,
  type FieldChange,
  type HandlerContext,
  isLeftover,
  leftoverName,
  leftoverOf,
  leftoverOwner,
  type ObservedResource,
  type ObserveQuery,
  type ResolvedResource,
  type ResourceHandler,
  resourceKey,
} from '../../sdk/index.ts';
import { isAlreadyExists, isNotFound } from '../client/errors.ts';
import { compact, type GcpRuntime, readiness, refreshOperations, signalOf, startOperation } from './common.ts';

export const FIRESTORE_INDEX_KIND = 'gcp.FirestoreIndex';

export const firestoreIndexSchema = defineKind({
  kind: FIRESTORE_INDEX_KIND,
  description:
    'A composite Firestore index. Indexes have no name of their own: keelson recognises one by its collection group, scope and fields, and records it in the inventory. Long-running create.',
  spec: {
    database: { type: 'string', default: '(default)', replaceOnChange: true },
    collectionGroup: { type: 'string', required: true, replaceOnChange: true },
    queryScope: {
      type: 'string',
      enum: ['COLLECTION', 'COLLECTION_GROUP'],
      default: 'COLLECTION',
      replaceOnChange: true,
    },
    fields: {
      type: 'array',
      required: true,
      replaceOnChange: true,
      items: {
        type: 'object',
        properties: {
          fieldPath: { type: 'string', required: true },
          order: { type: 'string', enum: ['ASCENDING', 'DESCENDING'] },
          arrayConfig: { type: 'string', enum: ['CONTAINS'] },
        },
      },
    },
  },
  outputs: { name: { type: 'string', computed: true } },
  // An index answers queries only once it is READY (building one takes minutes to hours): the old
  // one keeps serving them until then, and is deleted only once the new one is READY.
  replaceOrder: {
    order: 'create-first',
    why: 'the old index serves queries until the new one is READY (both may exist at once); it is deleted only then',
  },
});

interface Index {
  name?: string;
  queryScope?: string | number;
  state?: string | number;
  fields?: { fieldPath?: string; order?: string | number | null; arrayConfig?: string | number | null }[];
}

const SCOPES = ['QUERY_SCOPE_UNSPECIFIED', 'COLLECTION', 'COLLECTION_GROUP', 'COLLECTION_RECURSIVE'];
const ORDERS = ['ORDER_UNSPECIFIED', 'ASCENDING', 'DESCENDING'];
const STATES = ['STATE_UNSPECIFIED', 'CREATING', 'READY', 'NEEDS_REPAIR'];
const enumOf = (names: readonly string[], v: string | number | null | undefined): string | undefined =>
  v === null || v === undefined ? undefined : typeof v === 'number' ? names[v] : v;

interface Definition {
  database: string;
  collectionGroup: string;
  queryScope: string;
  fields: Record<string, unknown>[];
}

/** What identifies an index: database, collection group, scope and fields in order. */
function signature(d: Definition): string {
  return canonicalJson([d.database, d.collectionGroup, d.queryScope, d.fields]);
}

function definitionOf(spec: Readonly<Record<string, unknown>>): Definition {
  return {
    database: String(spec.database ?? '(default)'),
    collectionGroup: String(spec.collectionGroup),
    queryScope: String(spec.queryScope ?? 'COLLECTION'),
    fields: ((spec.fields ?? []) as Record<string, unknown>[]).map((f) =>
      compact({ fieldPath: f.fieldPath, order: f.order, arrayConfig: f.arrayConfig }),
    ),
  };
}

/** `projects/P/databases/D/collectionGroups/C/indexes/I` → D and C. */
function parseName(name: string): { database: string; collectionGroup: string } {
  const parts = name.split('/');
  return { database: parts[3] ?? '(default)', collectionGroup: parts[5] ?? '' };
}

/** Composite indexes: one paged list per database in use. */
export class FirestoreIndexHandler implements ResourceHandler {
  readonly #rt: GcpRuntime;

  constructor(rt: GcpRuntime) {
    this.#rt = rt;
  }

  #definitionOfLive(index: Index): Definition {
    const { database, collectionGroup } = parseName(index.name ?? '');
    const fields = (index.fields ?? [])
      // Firestore appends `__name__` to every composite index: not part of what the user wrote.
      .filter((f, i, all) => !(f.fieldPath === '__name__' && i === all.length - 1))
      .map((f) =>
        compact({
          fieldPath: f.fieldPath,
          order: enumOf(ORDERS, f.order),
          arrayConfig: f.arrayConfig ? 'CONTAINS' : undefined,
        }),
      )
      .map((f) => (f.order === 'ORDER_UNSPECIFIED' ? { ...f, order: undefined } : f));
    return {
      database,
      collectionGroup,
      queryScope: enumOf(SCOPES, index.queryScope) ?? 'COLLECTION',
      fields: fields.map((f) => compact(f)),
    };
  }

  async observe(ctx: HandlerContext, query: ObserveQuery): Promise<ObservedResource[]> {
    await refreshOperations(this.#rt, FIRESTORE_INDEX_KIND);
    // Nothing wanted and nothing recorded: nothing of this kind can be keelson's (no labels to list by).
    if (query.names.length === 0 && ctx.inventory.list(FIRESTORE_INDEX_KIND).length === 0) return [];
    const api = this.#rt.api;
    const recorded = ctx.inventory.list(FIRESTORE_INDEX_KIND);
    const databases = new Set([
      ...query.desired.map((d) => String(d.spec.database ?? '(default)')),
      ...recorded.map((e) => String((e.data as { database?: string } | undefined)?.database ?? '(default)')),
    ]);
    const live: Index[] = [];
    for (const db of [...databases].sort()) {
      try {
        live.push(
          ...(await api.list<Index>(
            `list Firestore indexes of ${db}`,
            api.clients.firestoreAdmin(),
            'listIndexes',
            { parent: `${api.project}/databases/${db}/collectionGroups/-` },
            signalOf(ctx),
          )),
        );
      } catch (error) {
        // No database (yet): no index either.
        if (!isNotFound(error)) throw error;
      }
    }
    const bySignature = new Map(live.map((i) => [signature(this.#definitionOfLive(i)), i]));
    const out: ObservedResource[] = [];
    const seen = new Set<string>();
    const observed = (name: string, sig: string, index: Index, owned: boolean): ObservedResource => {
      const key = resourceKey(FIRESTORE_INDEX_KIND, name);
      const def = this.#definitionOfLive(index);
      const state = enumOf(STATES, index.state) ?? 'READY';
      const r = readiness(this.#rt, key, state === 'CREATING');
      return {
        key,
        kind: FIRESTORE_INDEX_KIND,
        name,
        id: index.name ?? sig,
        owned,
        ...r,
        ...(state === 'NEEDS_REPAIR' ? { message: 'the index needs repair' } : {}),
        spec: { ...def },
        outputs: { name: index.name },
      };
    };
    const report = (o: ObservedResource) => {
      if (seen.has(o.key)) return;
      seen.add(o.key);
      out.push(o);
    };
    // Old indexes of create-first replacements (recorded under a leftover key), by resource name.
    const leftovers = new Map<string, ObservedResource[]>();
    for (const e of recorded) {
      const index = bySignature.get(e.id);
      if (!index) continue;
      const name = e.key.slice(FIRESTORE_INDEX_KIND.length + 1);
      if (isLeftover(name)) {
        const owner = leftoverOwner(name);
        // Still recorded under the resource's key as well (keelson died between the two records of
        // create): it is the resource, not a leftover; the replacement is planned again.
        if (ctx.inventory.get(resourceKey(FIRESTORE_INDEX_KIND, owner))?.id === e.id) continue;
        leftovers.set(owner, [...(leftovers.get(owner) ?? []), observed(owner, e.id, index, true)]);
      } else report(observed(name, e.id, index, ctx.inventory.get(e.key)?.id === e.id));
    }
    for (const d of query.desired) {
      const sig = signature(definitionOf(d.spec));
      const index = bySignature.get(sig);
      if (index) report(observed(d.name, sig, index, ctx.inventory.get(d.key)?.id === sig));
    }
    // No new index (its create failed): the old one still answers to the resource, and is
    // replaced again — not deleted as a leftover while nothing replaces it.
    for (const d of query.desired) {
      const old = seen.has(d.key) ? undefined : leftovers.get(d.name)?.[0];
      if (old === undefined) continue;
      report(old);
      leftovers.set(
        d.name,
        (leftovers.get(d.name) ?? []).filter((o) => o !== old),
      );
    }
    for (const list of leftovers.values()) for (const o of list) report(leftoverOf(o));
    return out;
  }

  /**
   * A create-first replacement: the index recorded under this key is the old one. It is recorded
   * under a leftover key before the new one is made, and stays recorded until it is deleted
   * (after the new one is READY; also by a later pass).
   */
  async #setAside(ctx: HandlerContext, desired: ResolvedResource, sig: string): Promise<void> {
    const previous = ctx.inventory.get(desired.key);
    if (previous === undefined || previous.id === sig) return;
    await ctx.inventory.set({
      ...previous,
      key: resourceKey(FIRESTORE_INDEX_KIND, leftoverName(desired.name, previous.id)),
    });
  }

  async create(ctx: HandlerContext, desired: ResolvedResource): Promise<ObservedResource> {
    const api = this.#rt.api;
    const client = api.clients.firestoreAdmin();
    const def = definitionOf(desired.spec);
    const sig = signature(def);
    await this.#setAside(ctx, desired, sig);
    let existed = false;
    await ctx.inventory.set({
      key: desired.key,
      kind: FIRESTORE_INDEX_KIND,
      id: sig,
      data: { database: def.database },
    });
    try {
      await startOperation(this.#rt, ctx, desired.key, `create index on ${def.collectionGroup}`, client, (gax) =>
        client.createIndex(
          {
            parent: `${api.project}/databases/${def.database}/collectionGroups/${def.collectionGroup}`,
            index: { queryScope: def.queryScope, fields: def.fields },
          },
          gax,
        ),
      );
    } catch (error) {
      // Planned only when observe did not find it: an earlier attempt created it. Whether it is
      // READY yet is read by the next pass's observe; until then it does not count as ready.
      if (!isAlreadyExists(error)) throw error;
      existed = true;
    }
    const ready = readiness(this.#rt, desired.key);
    return {
      key: desired.key,
      kind: FIRESTORE_INDEX_KIND,
      name: desired.name,
      id: sig,
      owned: true,
      ...ready,
      ...(existed ? { ready: false } : {}),
      spec: { ...def },
      outputs: {},
    };
  }

  async update(
    ctx: HandlerContext,
    desired: ResolvedResource,
    observed: ObservedResource,
    _changes: readonly FieldChange[],
  ): Promise<ObservedResource> {
    // Every field forces a replacement; an update only adopts.
    const sig = signature(definitionOf(desired.spec));
    await ctx.inventory.set({
      key: desired.key,
      kind: FIRESTORE_INDEX_KIND,
      id: sig,
      data: { database: definitionOf(desired.spec).database },
    });
    return { ...observed, owned: true };
  }

  async delete(ctx: HandlerContext, observed: ObservedResource): Promise<void> {
    const api = this.#rt.api;
    if (observed.id.startsWith('projects/')) {
      await deleteIgnoringMissing(
        () =>
          api.call(
            `delete index ${observed.name}`,
            observed.key,
            (gax) => api.clients.firestoreAdmin().deleteIndex({ name: observed.id }, gax),
            signalOf(ctx),
          ),
        isNotFound,
      );
    }
    // This resource's records of this index only: a leftover's delete must not forget the new one.
    const sig = signature(definitionOf(observed.spec));
    const resource = leftoverOwner(observed.key);
    for (const e of ctx.inventory.list(FIRESTORE_INDEX_KIND)) {
      if (leftoverOwner(e.key) === resource && (e.key === observed.key || (isLeftover(e.key) && e.id === sig))) {
        await ctx.inventory.remove(e.key);
      }
    }
  }
}
