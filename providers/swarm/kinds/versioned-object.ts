import { createHash } from 'node:crypto';
import {
  type FieldChange,
  HASH_LABEL,
  type HandlerContext,
  KEY_LABEL,
  KeelsonError,
  type ObservedResource,
  type ObserveQuery,
  type ResolvedResource,
  type ResourceHandler,
  resourceKey,
  SecretValue,
  splitKey,
} from '../../sdk/index.ts';
import type { DockerSecret, DockerService, DockerTask, SwarmClient, SwarmObjectApi } from '../client/client.ts';
import {
  ACTIVATED_LABEL,
  isOwned,
  isProtected,
  liveUserLabels,
  ownedFilter,
  ownerLabels,
  sortedRecord,
} from '../ownership.ts';

/** Versions of one secret or config kept after a rotation (the current one included), for rollback. */
export const DEFAULT_KEEP_VERSIONS = 3;

/** Docker's limit on secret and config names. */
const MAX_NAME = 64;
const VERSION_HEX = 12;

export interface VersionedObjectOptions {
  /** Versions kept per name, the current one included (default 3, at least 1). */
  readonly keepVersions?: number;
}

/** How a secret or a config differs: where its bytes come from and how observe shows them. */
export interface VersionedFlavour {
  readonly kind: string;
  /** `secret` or `config`, for messages. */
  readonly noun: string;
  readonly api: (client: SwarmClient) => SwarmObjectApi;
  /** The content of a desired spec; `undefined` when not known yet (an unresolved reference). */
  content(spec: Readonly<Record<string, unknown>>): string | undefined;
  /** How observe shows the live content (a digest for secrets, the text for configs). */
  observedData(object: DockerSecret, digest: string): unknown;
  /** The secret or config ids a service or task uses. */
  usedIds(containerSpec: Record<string, unknown> | undefined): string[];
}

/** sha256 hex of the content: the same digest `SecretValue` computes. */
export function contentDigest(content: string): string {
  return createHash('sha256').update(content).digest('hex');
}

/** `<name>-<first 12 hex of sha256(content)>`: the live name of one version. */
export function versionName(name: string, digest: string): string {
  return `${name}-${digest.slice(0, VERSION_HEX)}`;
}

function activation(o: DockerSecret): number {
  const label = Number(o.Spec.Labels?.[ACTIVATED_LABEL]);
  return Number.isFinite(label) && label > 0 ? label : Date.parse(o.CreatedAt);
}

/** Newest activation first. */
function byActivation(a: DockerSecret, b: DockerSecret): number {
  return activation(b) - activation(a) || b.CreatedAt.localeCompare(a.CreatedAt);
}

/**
 * Secrets and configs: immutable in Swarm and (for secrets) never readable, so each content is a
 * version named `<name>-<hash12>` with the full hash in `keelson.io/hash`. A content change makes a
 * new version current; services move to it through the `name` output; `collectGarbage` removes
 * versions beyond the last few once no service and no running task uses them.
 *
 * The observed `id` is Docker's id of the current version; the `name` output is the version the
 * desired content has (known before it exists, so a service that refers to it is planned to move
 * in the same pass).
 */
export class SwarmVersionedObjectHandler implements ResourceHandler {
  readonly #client: SwarmClient;
  readonly #flavour: VersionedFlavour;
  readonly #keep: number;

  constructor(client: SwarmClient, flavour: VersionedFlavour, options: VersionedObjectOptions = {}) {
    this.#client = client;
    this.#flavour = flavour;
    this.#keep = Math.max(1, options.keepVersions ?? DEFAULT_KEEP_VERSIONS);
  }

  get #api(): SwarmObjectApi {
    return this.#flavour.api(this.#client);
  }

  normalize(spec: Readonly<Record<string, unknown>>): Record<string, unknown> {
    return { ...spec, labels: sortedRecord(spec.labels as Record<string, string> | undefined) };
  }

  async observe(ctx: HandlerContext, query: ObserveQuery): Promise<ObservedResource[]> {
    const groups = await this.#versions(ctx, query.names);
    const desired = new Map(query.desired.map((d) => [d.name, d]));
    const out: ObservedResource[] = [];
    for (const [name, versions] of groups) {
      const d = desired.get(name);
      const digest = d ? digestOf(d.spec.data) : undefined;
      if (!isOwned(versions[0]?.Spec.Labels, ctx.owner)) {
        // Someone else's object is in the way only when it has the very name keelson would create.
        const liveName = digest ? versionName(name, digest) : undefined;
        const clash = versions.filter((v) => v.Spec.Name === liveName);
        if (clash.length > 0) out.push(this.#toObserved(ctx, name, clash, digest));
        continue;
      }
      out.push(this.#toObserved(ctx, name, versions, digest));
    }
    return out;
  }

  /**
   * Versions by logical name: every owned version (by its key label), and for the names asked,
   * unowned objects named like a version of them.
   */
  async #versions(ctx: HandlerContext, names: readonly string[]): Promise<Map<string, DockerSecret[]>> {
    const api = this.#api;
    const calls = [api.list(ownedFilter(ctx.owner))];
    for (let i = 0; i < names.length; i += 100) {
      calls.push(api.list({ name: names.slice(i, i + 100).map((n) => `${n}-`) }));
    }
    const all = new Map<string, DockerSecret>();
    for (const batch of await Promise.all(calls)) for (const o of batch) all.set(o.ID, o);
    const owned = new Map<string, DockerSecret[]>();
    const unowned = new Map<string, DockerSecret[]>();
    const asked = new Set(names);
    for (const o of all.values()) {
      const key = o.Spec.Labels?.[KEY_LABEL];
      if (isOwned(o.Spec.Labels, ctx.owner) && key) {
        const { kind, name } = splitKey(key);
        if (kind !== this.#flavour.kind) continue;
        owned.set(name, [...(owned.get(name) ?? []), o]);
        continue;
      }
      const match = /^(.+)-[0-9a-f]{12}$/.exec(o.Spec.Name);
      const name = match?.[1];
      if (name && asked.has(name)) unowned.set(name, [...(unowned.get(name) ?? []), o]);
    }
    for (const [name, versions] of unowned) if (!owned.has(name)) owned.set(name, versions);
    for (const versions of owned.values()) versions.sort(byActivation);
    return owned;
  }

  #toObserved(ctx: HandlerContext, name: string, versions: DockerSecret[], desiredDigest?: string): ObservedResource {
    const current = versions[0] as DockerSecret;
    const digest = current.Spec.Labels?.[HASH_LABEL] ?? '';
    return {
      key: resourceKey(this.#flavour.kind, name),
      kind: this.#flavour.kind,
      name,
      id: current.ID,
      owned: isOwned(current.Spec.Labels, ctx.owner),
      protect: isProtected(current.Spec.Labels),
      spec: {
        data: this.#flavour.observedData(current, digest),
        labels: sortedRecord(liveUserLabels(current.Spec.Labels)),
      },
      outputs: {
        name: desiredDigest ? versionName(name, desiredDigest) : current.Spec.Name,
        id: current.ID,
        current: current.Spec.Name,
        versions: versions.map((v) => v.Spec.Name),
      },
      ready: true,
    };
  }

  async create(ctx: HandlerContext, desired: ResolvedResource): Promise<ObservedResource> {
    return this.#ensure(ctx, desired);
  }

  async update(
    ctx: HandlerContext,
    desired: ResolvedResource,
    _observed: ObservedResource,
    _changes: readonly FieldChange[],
  ): Promise<ObservedResource> {
    return this.#ensure(ctx, desired);
  }

  /** Makes the version for the desired content exist, carry the desired labels, and be current. */
  async #ensure(ctx: HandlerContext, desired: ResolvedResource): Promise<ObservedResource> {
    const content = this.#flavour.content(desired.spec);
    if (content === undefined) {
      throw new KeelsonError(`cannot write ${this.#flavour.noun} ${desired.name}: its data is not known`, {
        code: 'INVALID_SPEC',
        class: 'terminal',
        resource: desired.key,
      });
    }
    const digest = contentDigest(content);
    const liveName = versionName(desired.name, digest);
    if (liveName.length > MAX_NAME) {
      throw new KeelsonError(
        `cannot create ${this.#flavour.noun} ${desired.name}: its name is too long (Docker allows ${MAX_NAME} characters and keelson adds a 13-character version suffix); shorten it to ${MAX_NAME - VERSION_HEX - 1} characters`,
        { code: 'INVALID_SPEC', class: 'terminal', resource: desired.key },
      );
    }
    const api = this.#api;
    const listed = await api.list({ name: [`${desired.name}-`] });
    const versions = listed
      .filter((v) => isOwned(v.Spec.Labels, ctx.owner) && v.Spec.Labels?.[KEY_LABEL] === desired.key)
      .sort(byActivation);
    const clash = listed.find((v) => v.Spec.Name === liveName && !versions.includes(v));
    if (clash) {
      throw new KeelsonError(
        `cannot create ${this.#flavour.noun} ${desired.name}: a ${this.#flavour.noun} named ${liveName} exists and keelson does not own it; remove it or rename the resource`,
        { code: 'CONFLICT_UNOWNED', class: 'terminal', resource: desired.key },
      );
    }
    const current = versions[0];
    const userLabels = sortedRecord(desired.spec.labels as Record<string, string> | undefined);
    const labels = (activated: string): Record<string, string> => ({
      ...userLabels,
      ...ownerLabels(ctx.owner, desired.key, desired.protect),
      [HASH_LABEL]: digest,
      [ACTIVATED_LABEL]: activated,
    });
    const existing = versions.find((v) => v.Spec.Name === liveName);
    // A clock that went backwards must not leave an older version current.
    const next = String(Math.max(Date.now(), current ? activation(current) + 1 : 0));
    if (!existing) {
      await api.create({ Name: liveName, Labels: labels(next), Data: Buffer.from(content, 'utf8').toString('base64') });
      ctx.log.info({ resource: desired.key, version: liveName }, `created ${this.#flavour.noun} version`);
    } else {
      const isCurrent = existing === current;
      const want = labels(isCurrent ? (existing.Spec.Labels?.[ACTIVATED_LABEL] ?? next) : next);
      if (JSON.stringify(sortedRecord(existing.Spec.Labels)) !== JSON.stringify(sortedRecord(want))) {
        await api.updateLabels(existing, want);
        ctx.log.info({ resource: desired.key, version: liveName }, `made ${this.#flavour.noun} version current`);
      }
    }
    const after = (await this.#versions(ctx, [desired.name])).get(desired.name);
    if (!after)
      throw new KeelsonError(`${this.#flavour.noun} ${liveName} was written but cannot be found`, {
        code: 'API_ERROR',
        class: 'transient',
      });
    return this.#toObserved(ctx, desired.name, after, digest);
  }

  /** Removes every version; one that a service still uses makes it a "come back later". */
  async delete(ctx: HandlerContext, observed: ObservedResource): Promise<void> {
    const versions = (await this.#versions(ctx, [observed.name])).get(observed.name) ?? [];
    const inUse: string[] = [];
    for (const v of versions) {
      if (!isOwned(v.Spec.Labels, ctx.owner)) continue;
      try {
        await this.#api.remove(v.ID);
      } catch (error) {
        if (/in use/i.test((error as Error).message)) inUse.push(v.Spec.Name);
        else throw error;
      }
    }
    if (inUse.length > 0) {
      throw new KeelsonError(
        `cannot remove ${this.#flavour.noun} ${observed.name}: version(s) ${inUse.join(', ')} still in use by a service`,
        { code: 'NOT_READY', class: 'waiting', retryAfterMs: 10_000, resource: observed.key },
      );
    }
    ctx.log.info({ resource: observed.key }, `removed ${this.#flavour.noun}`);
  }

  /**
   * After a pass: per name, keep the current version and the next newest up to the keep count;
   * remove older versions that no service spec and no live task uses. Three list calls.
   */
  async collectGarbage(ctx: HandlerContext): Promise<void> {
    const [objects, services, tasks] = await Promise.all([
      this.#api.list(ownedFilter(ctx.owner)),
      this.#client.listServices({}),
      this.#client.listTasks({}),
    ]);
    const used = usedIds(this.#flavour, services, tasks);
    const byName = new Map<string, DockerSecret[]>();
    for (const o of objects) {
      const key = o.Spec.Labels?.[KEY_LABEL];
      if (!key || splitKey(key).kind !== this.#flavour.kind) continue;
      byName.set(key, [...(byName.get(key) ?? []), o]);
    }
    for (const [key, versions] of byName) {
      versions.sort(byActivation);
      for (const old of versions.slice(this.#keep)) {
        if (used.has(old.ID)) continue;
        try {
          await this.#api.remove(old.ID);
          ctx.log.info({ resource: key, version: old.Spec.Name }, `removed old ${this.#flavour.noun} version`);
        } catch (error) {
          // A task may have picked it up since the list: it stays until the next collection.
          ctx.log.warn({ resource: key, version: old.Spec.Name, error: (error as Error).message }, 'old version kept');
        }
      }
    }
  }
}

/** Task states in which a container may still have the file mounted. */
const LIVE_TASK_STATES = new Set([
  'new',
  'pending',
  'assigned',
  'accepted',
  'preparing',
  'ready',
  'starting',
  'running',
]);

function usedIds(
  flavour: VersionedFlavour,
  services: readonly DockerService[],
  tasks: readonly DockerTask[],
): Set<string> {
  const used = new Set<string>();
  for (const s of services) {
    for (const id of flavour.usedIds(s.Spec.TaskTemplate?.ContainerSpec as Record<string, unknown> | undefined))
      used.add(id);
  }
  for (const t of tasks) {
    if (t.DesiredState !== 'running' && !LIVE_TASK_STATES.has(t.Status.State)) continue;
    for (const id of flavour.usedIds(t.Spec.ContainerSpec as Record<string, unknown> | undefined)) used.add(id);
  }
  return used;
}

/** sha256 of desired data without revealing a secret (a `SecretValue` carries its digest). */
function digestOf(data: unknown): string | undefined {
  if (data instanceof SecretValue) return data.digest;
  if (typeof data === 'string') return contentDigest(data);
  return undefined;
}

/** The revealed value of a `SecretValue` field, or a plain string. */
export function revealed(value: unknown): string | undefined {
  if (value instanceof SecretValue) return value.reveal();
  if (typeof value === 'string') return value;
  return undefined;
}
