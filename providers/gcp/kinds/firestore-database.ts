import {
  defineKind,
  type FieldChange,
  type HandlerContext,
  KeelsonError,
  type ObservedResource,
  type ObserveQuery,
  type ResolvedResource,
  type ResourceHandler,
} from '../../sdk/index.ts';
import { isAlreadyExists } from '../client/errors.ts';
import {
  fieldChanged,
  type GcpRuntime,
  inventoryBase,
  refreshOperations,
  shortName,
  signalOf,
  startOperation,
} from './common.ts';

export const FIRESTORE_DATABASE_KIND = 'gcp.FirestoreDatabase';

export const firestoreDatabaseSchema = defineKind({
  kind: FIRESTORE_DATABASE_KIND,
  description:
    'A Firestore database in native mode; the resource named `default` is the `(default)` database. Never deleted by keelson (pruning only forgets it). Tracked in the inventory.',
  stateful: true,
  spec: {
    locationId: {
      type: 'string',
      required: true,
      replaceOnChange: true,
      description: 'e.g. `eur3` or `europe-west3`.',
    },
    type: {
      type: 'string',
      enum: ['FIRESTORE_NATIVE', 'DATASTORE_MODE'],
      default: 'FIRESTORE_NATIVE',
      replaceOnChange: true,
    },
    pointInTimeRecovery: {
      type: 'boolean',
      default: false,
      description: 'Keep 7 days of versions to read or restore.',
    },
    deleteProtection: {
      type: 'boolean',
      default: true,
      description: 'Google refuses to delete it while set. Default true.',
    },
  },
  outputs: { name: { type: 'string', computed: true }, databaseId: { type: 'string', computed: true } },
});

interface Database {
  name?: string;
  locationId?: string;
  type?: string | number;
  pointInTimeRecoveryEnablement?: string | number;
  deleteProtectionState?: string | number;
}

/** The database id of a resource name: `default` is Firestore's `(default)`. */
export function databaseId(name: string): string {
  return name === 'default' ? '(default)' : name;
}

function resourceName(id: string): string {
  return id === '(default)' ? 'default' : id;
}

const TYPES = ['DATABASE_TYPE_UNSPECIFIED', 'FIRESTORE_NATIVE', 'DATASTORE_MODE'];

/** Firestore databases: one list per observe; never deleted. */
export class FirestoreDatabaseHandler implements ResourceHandler {
  readonly #rt: GcpRuntime;

  constructor(rt: GcpRuntime) {
    this.#rt = rt;
  }

  #observed(ctx: HandlerContext, db: Database): ObservedResource {
    const id = shortName(db.name);
    const name = resourceName(id);
    const pitr = db.pointInTimeRecoveryEnablement;
    const protection = db.deleteProtectionState;
    return {
      ...inventoryBase(FIRESTORE_DATABASE_KIND, name, db.name ?? id, ctx, this.#rt),
      // A database is never pruned: losing it loses every document.
      protect: true,
      spec: {
        locationId: db.locationId,
        type: typeof db.type === 'number' ? TYPES[db.type] : (db.type ?? 'FIRESTORE_NATIVE'),
        pointInTimeRecovery: pitr === 'POINT_IN_TIME_RECOVERY_ENABLED' || pitr === 1,
        deleteProtection: protection === 'DELETE_PROTECTION_ENABLED' || protection === 2,
      },
      outputs: { name: db.name, databaseId: id },
    };
  }

  async observe(ctx: HandlerContext, query: ObserveQuery): Promise<ObservedResource[]> {
    await refreshOperations(this.#rt, FIRESTORE_DATABASE_KIND);
    // Nothing wanted and nothing recorded: nothing of this kind can be keelson's (no labels to list by).
    if (query.names.length === 0 && ctx.inventory.list(FIRESTORE_DATABASE_KIND).length === 0) return [];
    const api = this.#rt.api;
    const [answer] = await api.call<[{ databases?: Database[] }]>(
      'list Firestore databases',
      undefined,
      (gax) => api.clients.firestoreAdmin().listDatabases({ parent: api.project }, gax),
      signalOf(ctx),
    );
    const ids = new Set([
      ...query.names.map(databaseId),
      ...ctx.inventory.list(FIRESTORE_DATABASE_KIND).map((e) => shortName(e.id)),
    ]);
    const out = (answer?.databases ?? []).filter((d) => ids.has(shortName(d.name))).map((d) => this.#observed(ctx, d));
    for (const d of query.desired) {
      if (this.#rt.operations.running(d.key) && !out.some((o) => o.key === d.key)) {
        out.push({
          ...inventoryBase(FIRESTORE_DATABASE_KIND, d.name, this.#path(d.name), ctx, this.#rt),
          protect: true,
          spec: { ...d.spec },
          outputs: {},
        });
      }
    }
    return out;
  }

  #path(name: string): string {
    return `${this.#rt.api.project}/databases/${databaseId(name)}`;
  }

  #database(desired: ResolvedResource): Record<string, unknown> {
    const s = desired.spec;
    return {
      name: this.#path(desired.name),
      locationId: s.locationId,
      type: s.type ?? 'FIRESTORE_NATIVE',
      pointInTimeRecoveryEnablement: s.pointInTimeRecovery
        ? 'POINT_IN_TIME_RECOVERY_ENABLED'
        : 'POINT_IN_TIME_RECOVERY_DISABLED',
      deleteProtectionState: s.deleteProtection === false ? 'DELETE_PROTECTION_DISABLED' : 'DELETE_PROTECTION_ENABLED',
    };
  }

  async create(ctx: HandlerContext, desired: ResolvedResource): Promise<ObservedResource> {
    const api = this.#rt.api;
    const client = api.clients.firestoreAdmin();
    await ctx.inventory.set({ key: desired.key, kind: FIRESTORE_DATABASE_KIND, id: this.#path(desired.name) });
    try {
      await startOperation(
        this.#rt,
        ctx,
        desired.key,
        `create Firestore database ${databaseId(desired.name)}`,
        client,
        (gax) =>
          client.createDatabase(
            { parent: api.project, databaseId: databaseId(desired.name), database: this.#database(desired) },
            gax,
          ),
      );
    } catch (error) {
      // Planned only when observe did not find it: an earlier attempt created it.
      if (!isAlreadyExists(error)) throw error;
    }
    return {
      ...inventoryBase(FIRESTORE_DATABASE_KIND, desired.name, this.#path(desired.name), ctx, this.#rt),
      protect: true,
      spec: { ...desired.spec },
      outputs: { name: this.#path(desired.name), databaseId: databaseId(desired.name) },
    };
  }

  async update(
    ctx: HandlerContext,
    desired: ResolvedResource,
    observed: ObservedResource,
    changes: readonly FieldChange[],
  ): Promise<ObservedResource> {
    const api = this.#rt.api;
    const client = api.clients.firestoreAdmin();
    if (!observed.owned) await ctx.inventory.set({ key: desired.key, kind: FIRESTORE_DATABASE_KIND, id: observed.id });
    const paths: string[] = [];
    if (fieldChanged(changes, 'pointInTimeRecovery')) paths.push('point_in_time_recovery_enablement');
    if (fieldChanged(changes, 'deleteProtection')) paths.push('delete_protection_state');
    if (paths.length > 0) {
      await startOperation(
        this.#rt,
        ctx,
        desired.key,
        `update Firestore database ${databaseId(desired.name)}`,
        client,
        (gax) => client.updateDatabase({ database: this.#database(desired), updateMask: { paths } }, gax),
      );
    }
    return {
      ...observed,
      owned: true,
      spec: { ...observed.spec, ...desired.spec },
      ready: !this.#rt.operations.running(desired.key),
    };
  }

  async delete(_ctx: HandlerContext, observed: ObservedResource): Promise<void> {
    throw new KeelsonError(
      `keelson never deletes a Firestore database (${observed.key}): it holds every document; delete it by hand in the console if you really mean it`,
      { code: 'PROTECTED', class: 'terminal', resource: observed.key },
    );
  }
}
