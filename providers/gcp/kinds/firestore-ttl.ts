import {
  defineKind,
  type FieldChange,
  type HandlerContext,
  type ObservedResource,
  type ObserveQuery,
  type ResolvedResource,
  type ResourceHandler,
  resourceKey,
} from '../../sdk/index.ts';
import { isNotFound } from '../client/errors.ts';
import {
  deleteKey,
  deleting,
  type GcpRuntime,
  readiness,
  refreshOperations,
  signalOf,
  startOperation,
} from './common.ts';

export const FIRESTORE_TTL_KIND = 'gcp.FirestoreTtlPolicy';

export const firestoreTtlSchema = defineKind({
  kind: FIRESTORE_TTL_KIND,
  description:
    'A TTL policy: documents of a collection group are deleted after the time in one of their timestamp fields. Tracked in the inventory.',
  spec: {
    database: { type: 'string', default: '(default)', replaceOnChange: true },
    collectionGroup: { type: 'string', required: true, replaceOnChange: true },
    field: {
      type: 'string',
      required: true,
      replaceOnChange: true,
      description: 'A timestamp field, e.g. `expireAt`.',
    },
  },
  outputs: { name: { type: 'string', computed: true } },
});

interface FsField {
  name?: string;
  ttlConfig?: { state?: string | number } | null;
}

const STATES = ['STATE_UNSPECIFIED', 'CREATING', 'ACTIVE', 'NEEDS_REPAIR'];

/** TTL policies: one filtered, paged list of fields per database in use. */
export class FirestoreTtlPolicyHandler implements ResourceHandler {
  readonly #rt: GcpRuntime;

  constructor(rt: GcpRuntime) {
    this.#rt = rt;
  }

  #fieldName(spec: Readonly<Record<string, unknown>>): string {
    const db = String(spec.database ?? '(default)');
    return `${this.#rt.api.project}/databases/${db}/collectionGroups/${String(spec.collectionGroup)}/fields/${String(spec.field)}`;
  }

  async observe(ctx: HandlerContext, query: ObserveQuery): Promise<ObservedResource[]> {
    await refreshOperations(this.#rt, FIRESTORE_TTL_KIND);
    // Nothing wanted and nothing recorded: nothing of this kind can be keelson's (no labels to list by).
    if (query.names.length === 0 && ctx.inventory.list(FIRESTORE_TTL_KIND).length === 0) return [];
    const api = this.#rt.api;
    const recorded = ctx.inventory.list(FIRESTORE_TTL_KIND);
    const databases = new Set([
      ...query.desired.map((d) => String(d.spec.database ?? '(default)')),
      ...recorded.map((e) => e.id.split('/')[3] ?? '(default)'),
    ]);
    const live = new Map<string, FsField>();
    for (const db of [...databases].sort()) {
      let fields: FsField[] = [];
      try {
        fields = await api.list<FsField>(
          `list TTL policies of ${db}`,
          api.clients.firestoreAdmin(),
          'listFields',
          { parent: `${api.project}/databases/${db}/collectionGroups/-`, filter: 'ttlConfig:*' },
          signalOf(ctx),
        );
      } catch (error) {
        // No database (yet): no TTL policy either.
        if (!isNotFound(error)) throw error;
      }
      for (const f of fields) if (f.name && f.ttlConfig) live.set(f.name, f);
    }
    const candidates = new Map<string, string>();
    for (const e of recorded) candidates.set(e.key.slice(FIRESTORE_TTL_KIND.length + 1), e.id);
    for (const d of query.desired) candidates.set(d.name, this.#fieldName(d.spec));
    const out: ObservedResource[] = [];
    for (const [name, fieldName] of candidates) {
      const f = live.get(fieldName);
      const key = resourceKey(FIRESTORE_TTL_KIND, name);
      if (deleting(this.#rt, key) || (!f && !this.#rt.operations.running(key))) continue;
      const state = STATES[Number(f?.ttlConfig?.state)] ?? String(f?.ttlConfig?.state ?? 'CREATING');
      const parts = fieldName.split('/');
      out.push({
        key,
        kind: FIRESTORE_TTL_KIND,
        name,
        id: fieldName,
        owned: ctx.inventory.get(key)?.id === fieldName,
        ...readiness(this.#rt, key, state === 'CREATING'),
        spec: { database: parts[3], collectionGroup: parts[5], field: parts[7] },
        outputs: { name: fieldName },
      });
    }
    return out;
  }

  async #setTtl(ctx: HandlerContext, key: string, fieldName: string, on: boolean): Promise<void> {
    const client = this.#rt.api.clients.firestoreAdmin();
    await startOperation(
      this.#rt,
      ctx,
      on ? key : deleteKey(key),
      `${on ? 'enable' : 'disable'} TTL on ${fieldName}`,
      client,
      (gax) =>
        client.updateField(
          { field: { name: fieldName, ...(on ? { ttlConfig: {} } : {}) }, updateMask: { paths: ['ttl_config'] } },
          gax,
        ),
      true,
    );
  }

  async create(ctx: HandlerContext, desired: ResolvedResource): Promise<ObservedResource> {
    const fieldName = this.#fieldName(desired.spec);
    await ctx.inventory.set({ key: desired.key, kind: FIRESTORE_TTL_KIND, id: fieldName });
    await this.#setTtl(ctx, desired.key, fieldName, true);
    return {
      key: desired.key,
      kind: FIRESTORE_TTL_KIND,
      name: desired.name,
      id: fieldName,
      owned: true,
      ...readiness(this.#rt, desired.key),
      spec: {
        database: desired.spec.database ?? '(default)',
        collectionGroup: desired.spec.collectionGroup,
        field: desired.spec.field,
      },
      outputs: { name: fieldName },
    };
  }

  async update(
    ctx: HandlerContext,
    desired: ResolvedResource,
    observed: ObservedResource,
    _changes: readonly FieldChange[],
  ): Promise<ObservedResource> {
    // Every field forces a replacement; an update only adopts.
    await ctx.inventory.set({ key: desired.key, kind: FIRESTORE_TTL_KIND, id: observed.id });
    return { ...observed, owned: true };
  }

  async delete(ctx: HandlerContext, observed: ObservedResource): Promise<void> {
    await this.#setTtl(ctx, observed.key, observed.id, false);
    await ctx.inventory.remove(observed.key);
  }
}
