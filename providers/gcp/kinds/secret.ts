import {
  defineKind,
  deleteIgnoringMissing,
  type FieldChange,
  type HandlerContext,
  type InventoryEntry,
  KeelsonError,
  type ObservedResource,
  type ObserveQuery,
  type ResolvedResource,
  type ResourceHandler,
  resourceKey,
  SecretValue,
  specOf,
} from '../../sdk/index.ts';
import { isAlreadyExists, isNotFound, readFailure, Status } from '../client/errors.ts';
import { isOwnedBy, ownershipLabels, userLabels } from '../ownership.ts';
import {
  compact,
  fieldChanged,
  type GcpRuntime,
  labelledBase,
  shortName,
  signalOf,
  unowned,
  wanted,
} from './common.ts';
import { labelsField } from './schema-parts.ts';

export const SECRET_KIND = 'gcp.SecretManagerSecret';
const DAY_MS = 86_400_000;

export const secretSchema = defineKind({
  kind: SECRET_KIND,
  description:
    'A Secret Manager secret (named like the resource) and its current version, whose value comes from a keelson secretRef. Compared by digest; a new value adds a version, the old one is disabled, and destroyed after `destroyAfterDays`.',
  spec: {
    value: {
      type: 'secret',
      required: true,
      sensitive: true,
      description: 'The value: `{ secretRef: NAME }`. Never written to Git, a plan or a log.',
    },
    locations: {
      type: 'array',
      set: true,
      items: { type: 'string' },
      replaceOnChange: true,
      default: [],
      description: 'Replica locations (user-managed replication); empty: automatic replication.',
    },
    destroyAfterDays: {
      type: 'integer',
      minimum: 0,
      default: 7,
      description: 'Days a replaced (disabled) version is kept before it is destroyed. Default 7.',
    },
    labels: labelsField,
  },
  outputs: {
    name: { type: 'string', computed: true, description: 'Full name, `projects/P/secrets/S`.' },
    id: { type: 'string', computed: true },
    version: { type: 'string', computed: true, description: 'Full name of the current version.' },
  },
  replaceOrder: {
    order: 'delete-first',
    why: 'a Secret Manager secret is named by its id, unique in the project: the old secret must go before the new one can take its name',
  },
});

interface Secret {
  name?: string;
  labels?: Record<string, string> | null;
  replication?: { automatic?: object | null; userManaged?: { replicas?: { location?: string }[] } | null } | null;
}

/** What the inventory keeps of a secret: never its value. */
interface SecretRecord {
  /** sha256 of the value keelson last added, as `SecretValue.digest`. */
  readonly digest?: string;
  /** Full name of the version keelson last added. */
  readonly version?: string;
  readonly destroyAfterDays?: number;
  /** Versions keelson disabled, with the time it did (epoch ms), to destroy after the grace period. */
  readonly disabled?: Readonly<Record<string, number>>;
}

/**
 * Secret Manager secrets: one paged list per observe (labels carry ownership); the digest of the
 * value keelson wrote is kept in the inventory, so no version is read to compare.
 */
export class SecretManagerSecretHandler implements ResourceHandler {
  readonly #rt: GcpRuntime;

  constructor(rt: GcpRuntime) {
    this.#rt = rt;
  }

  #path(name: string): string {
    return `${this.#rt.api.project}/secrets/${name}`;
  }

  #observed(ctx: HandlerContext, s: Secret): ObservedResource {
    const name = shortName(s.name);
    const key = resourceKey(SECRET_KIND, name);
    const record = (ctx.inventory.get(key)?.data ?? {}) as SecretRecord;
    const locations = (s.replication?.userManaged?.replicas ?? []).map((r) => r.location ?? '').sort();
    return {
      ...labelledBase(SECRET_KIND, name, s.name ?? name, s.labels, ctx, this.#rt),
      spec: {
        value: { $sensitiveDigest: record.digest ?? 'unknown' },
        locations,
        destroyAfterDays: record.destroyAfterDays ?? 7,
        labels: userLabels(s.labels),
      },
      outputs: compact({ name: s.name, id: name, version: record.version }),
    };
  }

  async observe(ctx: HandlerContext, query: ObserveQuery): Promise<ObservedResource[]> {
    const api = this.#rt.api;
    const secrets = await api.list<Secret>(
      'list secrets',
      api.clients.secrets(),
      'listSecrets',
      {
        parent: api.project,
      },
      signalOf(ctx),
    );
    const names = new Set(query.names);
    return secrets
      .filter((s) => wanted(names, shortName(s.name), s.labels, ctx.owner))
      .map((s) => this.#observed(ctx, s));
  }

  #value(desired: ResolvedResource): SecretValue {
    const value = desired.spec.value;
    if (!(value instanceof SecretValue)) {
      throw new KeelsonError(`cannot write ${desired.key}: its value is not a resolved secretRef`, {
        code: 'INVALID_SPEC',
        class: 'terminal',
        resource: desired.key,
      });
    }
    return value;
  }

  async #addVersion(ctx: HandlerContext, desired: ResolvedResource, previous: SecretRecord): Promise<SecretRecord> {
    const api = this.#rt.api;
    const value = this.#value(desired);
    const version = (await this.#latestWith(ctx, desired, value)) ?? (await this.#add(ctx, desired, value));
    const disabled: Record<string, number> = { ...(previous.disabled ?? {}) };
    if (previous.version && previous.version !== version.name) {
      try {
        await api.call(
          `disable the previous version of secret ${desired.name}`,
          desired.key,
          (gax) => api.clients.secrets().disableSecretVersion({ name: previous.version }, gax),
          signalOf(ctx),
        );
        disabled[previous.version] = this.#rt.now();
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
    return compact({
      digest: value.digest,
      version: version.name,
      destroyAfterDays: specOf(secretSchema, desired).destroyAfterDays,
      disabled,
    });
  }

  /**
   * The latest version when it already holds this value (an earlier attempt added it and its answer
   * was lost): compared by digest in memory, so a retried update never adds a second version.
   */
  async #latestWith(
    ctx: HandlerContext,
    desired: ResolvedResource,
    value: SecretValue,
  ): Promise<{ name?: string } | undefined> {
    const api = this.#rt.api;
    try {
      const [latest] = await api.call<[{ name?: string; payload?: { data?: Uint8Array | string } }]>(
        `read the latest version of secret ${desired.name}`,
        desired.key,
        (gax) =>
          api.clients.secrets().accessSecretVersion({ name: `${this.#path(desired.name)}/versions/latest` }, gax),
        signalOf(ctx),
      );
      const data = latest.payload?.data;
      const bytes = typeof data === 'string' ? Buffer.from(data, 'base64') : Buffer.from(data ?? []);
      return new SecretValue(bytes.toString('utf8'), value.source).digest === value.digest ? latest : undefined;
    } catch (error) {
      const status = readFailure((error as { cause?: unknown }).cause ?? error).status;
      // No version yet, or the latest is disabled: there is nothing to reuse.
      if (status === Status.NOT_FOUND || status === Status.FAILED_PRECONDITION) return undefined;
      throw error;
    }
  }

  async #add(ctx: HandlerContext, desired: ResolvedResource, value: SecretValue): Promise<{ name?: string }> {
    const api = this.#rt.api;
    const [version] = await api.call<[{ name?: string }]>(
      `add a version to secret ${desired.name}`,
      desired.key,
      (gax) =>
        api.clients
          .secrets()
          .addSecretVersion(
            { parent: this.#path(desired.name), payload: { data: Buffer.from(value.reveal(), 'utf8') } },
            gax,
          ),
      { idempotent: false, ...signalOf(ctx) },
    );
    return version;
  }

  async #record(ctx: HandlerContext, desired: ResolvedResource, record: SecretRecord): Promise<void> {
    const entry: InventoryEntry = {
      key: desired.key,
      kind: SECRET_KIND,
      id: this.#path(desired.name),
      data: { ...record },
    };
    await ctx.inventory.set(entry);
  }

  async create(ctx: HandlerContext, desired: ResolvedResource): Promise<ObservedResource> {
    const api = this.#rt.api;
    const { locations } = specOf(secretSchema, desired);
    const secret = {
      labels: ownershipLabels(specOf(secretSchema, desired).labels, ctx.owner, desired.protect),
      replication:
        locations.length === 0
          ? { automatic: {} }
          : { userManaged: { replicas: locations.map((location) => ({ location })) } },
    };
    let live: Secret;
    try {
      [live] = await api.call<[Secret]>(
        `create secret ${desired.name}`,
        desired.key,
        (gax) => api.clients.secrets().createSecret({ parent: api.project, secretId: desired.name, secret }, gax),
        { idempotent: false, ...signalOf(ctx) },
      );
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
      [live] = await api.call<[Secret]>(`read secret ${desired.name}`, desired.key, (gax) =>
        api.clients.secrets().getSecret({ name: this.#path(desired.name) }, gax),
      );
      if (!isOwnedBy(live.labels, ctx.owner)) {
        if (!desired.adopt) throw unowned(desired, 'secret', desired.name);
        return this.update(ctx, desired, this.#observed(ctx, live), [
          { path: 'labels' } as FieldChange,
          { path: 'value' } as FieldChange,
        ]);
      }
    }
    const previous = (ctx.inventory.get(desired.key)?.data ?? {}) as SecretRecord;
    // Ours already with this value (an earlier attempt whose answer was lost): no second version.
    if (previous.digest !== this.#value(desired).digest || !previous.version) {
      await this.#record(ctx, desired, await this.#addVersion(ctx, desired, previous));
    }
    return this.#observed(ctx, live);
  }

  async update(
    ctx: HandlerContext,
    desired: ResolvedResource,
    _observed: ObservedResource,
    changes: readonly FieldChange[],
  ): Promise<ObservedResource> {
    const api = this.#rt.api;
    let previous = (ctx.inventory.get(desired.key)?.data ?? {}) as SecretRecord;
    let live: Secret | undefined;
    if (fieldChanged(changes, 'labels')) {
      [live] = await api.call<[Secret]>(
        `update labels of secret ${desired.name}`,
        desired.key,
        (gax) =>
          api.clients.secrets().updateSecret(
            {
              secret: {
                name: this.#path(desired.name),
                labels: ownershipLabels(specOf(secretSchema, desired).labels, ctx.owner, desired.protect),
              },
              updateMask: { paths: ['labels'] },
            },
            gax,
          ),
        signalOf(ctx),
      );
    }
    if (fieldChanged(changes, 'value')) previous = await this.#addVersion(ctx, desired, previous);
    await this.#record(ctx, desired, { ...previous, destroyAfterDays: specOf(secretSchema, desired).destroyAfterDays });
    if (!live) {
      [live] = await api.call<[Secret]>(`read secret ${desired.name}`, desired.key, (gax) =>
        api.clients.secrets().getSecret({ name: this.#path(desired.name) }, gax),
      );
    }
    return this.#observed(ctx, live);
  }

  async delete(ctx: HandlerContext, observed: ObservedResource): Promise<void> {
    const api = this.#rt.api;
    await deleteIgnoringMissing(
      () =>
        api.call(
          `delete secret ${observed.name}`,
          observed.key,
          (gax) => api.clients.secrets().deleteSecret({ name: this.#path(observed.name) }, gax),
          signalOf(ctx),
        ),
      isNotFound,
    );
    await ctx.inventory.remove(observed.key);
  }

  /** Destroys versions keelson disabled longer ago than the secret's grace period. */
  async collectGarbage(ctx: HandlerContext): Promise<void> {
    const api = this.#rt.api;
    const now = this.#rt.now();
    for (const entry of ctx.inventory.list(SECRET_KIND)) {
      const record = (entry.data ?? {}) as SecretRecord;
      const grace = (record.destroyAfterDays ?? 7) * DAY_MS;
      const disabled = { ...(record.disabled ?? {}) };
      let changed = false;
      for (const [version, at] of Object.entries(disabled)) {
        if (now - at < grace) continue;
        try {
          await api.call(
            `destroy old version ${version}`,
            entry.key,
            (gax) => api.clients.secrets().destroySecretVersion({ name: version }, gax),
            signalOf(ctx),
          );
        } catch (error) {
          const status = readFailure((error as { cause?: unknown }).cause ?? error).status;
          // Gone already, or destroyed already: nothing left to do.
          if (status !== Status.NOT_FOUND && status !== Status.FAILED_PRECONDITION) throw error;
        }
        delete disabled[version];
        changed = true;
      }
      if (changed) await ctx.inventory.set({ ...entry, data: { ...record, disabled } });
    }
  }
}
