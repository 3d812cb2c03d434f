import {
  canonicalJson,
  type FieldChange,
  type HandlerContext,
  KEY_LABEL,
  KeelsonError,
  type ObservedResource,
  type ObserveQuery,
  type ResolvedResource,
  type ResourceHandler,
  resourceKey,
  splitKey,
} from '../../sdk/index.ts';
import type { DockerNetwork, DockerSecret, DockerService, DockerTask, SwarmClient } from '../client/client.ts';
import { ACTIVATED_LABEL, isOwned, isProtected, listOwnedAndNamed, liveUserLabels, ownerLabels } from '../ownership.ts';
import { CONFIG_KIND } from './config.ts';
import { SECRET_KIND } from './secret.ts';
import { SERVICE_KIND } from './service-schema.ts';
import {
  fromDockerSpec,
  type LiveNames,
  normalizeService,
  type ResolvedRefs,
  type ServiceSpec,
  toDockerSpec,
} from './service-spec.ts';

export interface ServiceHandlerOptions {
  /** Allowance for one task to be pulled, started and running (default 60 s). Bounds `settle`. */
  readonly taskStartMs?: number;
  /** Poll interval while settling (default 500 ms). */
  readonly pollMs?: number;
  /** Ask the registry (through the engine) for an image's digest to pin it (default true). */
  readonly pinImages?: boolean;
}

/** The live objects a service spec names, read once per call. */
interface Lookups {
  readonly networks: readonly DockerNetwork[];
  readonly secrets: readonly DockerSecret[];
  readonly configs: readonly DockerSecret[];
}

/** Task states that have ended (the task will not run again). */
const ENDED = new Set(['complete', 'shutdown', 'failed', 'rejected', 'orphaned', 'remove']);

/**
 * `swarm.Service`. Ownership labels live on `ServiceSpec.Labels` only. Updates are sent whole
 * with the live `Version.Index`; `settle` waits for the rolling update Swarm runs (or, for a new
 * service, for its tasks to run), and turns a rollback or a pause into a failed apply that names
 * the failing task.
 */
export class ServiceHandler implements ResourceHandler {
  readonly #client: SwarmClient;
  readonly #taskStartMs: number;
  readonly #pollMs: number;
  readonly #pinImages: boolean;

  constructor(client: SwarmClient, options: ServiceHandlerOptions = {}) {
    this.#client = client;
    this.#taskStartMs = options.taskStartMs ?? 60_000;
    this.#pollMs = options.pollMs ?? 500;
    this.#pinImages = options.pinImages ?? true;
  }

  normalize(spec: Readonly<Record<string, unknown>>): Record<string, unknown> {
    return normalizeService(spec) as unknown as Record<string, unknown>;
  }

  async observe(ctx: HandlerContext, query: ObserveQuery): Promise<ObservedResource[]> {
    const names = new Set(query.names);
    const services = (
      await listOwnedAndNamed(
        (f) => this.#client.listServices(f),
        ctx.owner,
        query.names,
        (s) => s.ID,
      )
    ).filter((s) => isOwned(s.Spec.Labels, ctx.owner) || names.has(s.Spec.Name));
    if (services.length === 0) return [];
    const lookups = await this.#lookups(liveNeeds(services));
    const desired = new Map(query.desired.map((d) => [d.name, normalizeService(d.spec)]));
    return services.map((s) => this.#toObserved(ctx, s, lookups, desired.get(s.Spec.Name)));
  }

  /** Networks, secrets and configs, listed only when some spec uses them (one call each). */
  async #lookups(needs: { networks: boolean; secrets: boolean; configs: boolean }): Promise<Lookups> {
    const [networks, secrets, configs] = await Promise.all([
      needs.networks ? this.#client.listNetworks({ scope: ['swarm'] }) : [],
      needs.secrets ? this.#client.objects('secrets').list({}) : [],
      needs.configs ? this.#client.objects('configs').list({}) : [],
    ]);
    return { networks, secrets, configs };
  }

  #toObserved(ctx: HandlerContext, s: DockerService, lookups: Lookups, desired?: ServiceSpec): ObservedResource {
    const live = s.Spec;
    const image = String((live.TaskTemplate?.ContainerSpec as { Image?: string } | undefined)?.Image ?? '');
    const at = image.indexOf('@sha256:');
    const names: LiveNames = {
      network: (id) => {
        const n = lookups.networks.find((x) => x.Id === id);
        const wanted = desired?.networks
          .map((d) => d.name)
          .find((d) => typeof d === 'string' && resolveNetwork(lookups, d)?.Id === id);
        return (wanted as string | undefined) ?? n?.Name ?? id;
      },
      secret: (ref, target) =>
        liveSource(
          lookups.secrets,
          SECRET_KIND,
          ref.SecretID,
          ref.SecretName,
          desired?.secrets.find((d) => d.target === target)?.source,
        ),
      config: (ref, target) =>
        liveSource(
          lookups.configs,
          CONFIG_KIND,
          ref.ConfigID,
          ref.ConfigName,
          desired?.configs.find((d) => d.target === target)?.source,
        ),
      // A digest keelson pinned is not the user's: show it only when the desired image has one.
      image: (ref) => (at >= 0 && !(desired?.image ?? '').includes('@') ? ref.slice(0, at) : ref),
    };
    const spec = fromDockerSpec(live, liveUserLabels(live.Labels), names);
    const state = s.UpdateStatus?.State;
    const busy = state === 'updating' || state === 'rollback_started';
    return {
      key: resourceKey(SERVICE_KIND, live.Name),
      kind: SERVICE_KIND,
      name: live.Name,
      id: s.ID,
      owned: isOwned(live.Labels, ctx.owner),
      protect: isProtected(live.Labels),
      spec: spec as unknown as Record<string, unknown>,
      outputs: {
        id: s.ID,
        name: live.Name,
        version: s.Version.Index,
        updatedAt: s.UpdatedAt,
        ...(at >= 0 ? { imageDigest: image.slice(at + 1) } : {}),
        ...(state ? { updateState: state } : {}),
      },
      ready: !busy,
      ...(state ? { message: s.UpdateStatus?.Message ?? state } : {}),
    };
  }

  async #byName(name: string): Promise<DockerService | undefined> {
    return (await this.#client.listServices({ name: [name] })).find((s) => s.Spec.Name === name);
  }

  async #observeOne(ctx: HandlerContext, s: DockerService, desired: ServiceSpec): Promise<ObservedResource> {
    return this.#toObserved(ctx, s, await this.#lookups(liveNeeds([s])), desired);
  }

  async create(ctx: HandlerContext, desired: ResolvedResource): Promise<ObservedResource> {
    const want = normalizeService(desired.spec);
    const existing = await this.#byName(desired.name);
    if (existing) {
      if (isOwned(existing.Spec.Labels, ctx.owner)) return this.#observeOne(ctx, existing, want);
      throw unowned(desired.name, existing);
    }
    const spec = await this.#dockerSpec(ctx, desired, want, 0);
    const id = await this.#client.createService(spec);
    ctx.log.info({ resource: desired.key, id }, 'created service');
    const created = await this.#client.inspectService(id);
    if (!created)
      throw new KeelsonError(`service ${desired.name} was created but cannot be found`, {
        code: 'API_ERROR',
        class: 'transient',
      });
    return this.#observeOne(ctx, created, want);
  }

  async update(
    ctx: HandlerContext,
    desired: ResolvedResource,
    observed: ObservedResource,
    _changes: readonly FieldChange[],
  ): Promise<ObservedResource> {
    const want = normalizeService(desired.spec);
    for (let attempt = 1; ; attempt++) {
      const live = await this.#client.inspectService(observed.id);
      if (!live) {
        throw new KeelsonError(`cannot update service ${desired.name}: it no longer exists`, {
          code: 'NOT_FOUND',
          class: 'transient',
          resource: desired.key,
        });
      }
      if (!isOwned(live.Spec.Labels, ctx.owner) && !desired.adopt) throw unowned(desired.name, live);
      const forceUpdate = Number((live.Spec.TaskTemplate as { ForceUpdate?: number } | undefined)?.ForceUpdate ?? 0);
      const spec = await this.#dockerSpec(ctx, desired, want, forceUpdate);
      try {
        await this.#client.updateService(live.ID, live.Version.Index, spec);
      } catch (error) {
        // Someone else wrote in between: read the new version and send again, once.
        if (attempt < 2 && /out of sequence/i.test((error as Error).message)) continue;
        throw error;
      }
      ctx.log.info({ resource: desired.key, id: live.ID }, 'updated service');
      const after = await this.#client.inspectService(live.ID);
      return this.#observeOne(ctx, after ?? live, want);
    }
  }

  async delete(ctx: HandlerContext, observed: ObservedResource): Promise<void> {
    await this.#client.removeService(observed.id);
    ctx.log.info({ resource: observed.key }, 'removed service');
  }

  async #dockerSpec(ctx: HandlerContext, desired: ResolvedResource, want: ServiceSpec, forceUpdate: number) {
    const lookups = await this.#lookups({
      networks: want.networks.length > 0,
      secrets: want.secrets.length > 0,
      configs: want.configs.length > 0,
    });
    const refs: ResolvedRefs = {
      network: (name) => {
        const n = resolveNetwork(lookups, name);
        if (!n) throw missing(desired, 'network', name);
        return n.Id;
      },
      secret: (source) => {
        const s = resolveObject(lookups.secrets, SECRET_KIND, source);
        if (!s) throw missing(desired, 'secret', source);
        return { id: s.ID, name: s.Spec.Name };
      },
      config: (source) => {
        const c = resolveObject(lookups.configs, CONFIG_KIND, source);
        if (!c) throw missing(desired, 'config', source);
        return { id: c.ID, name: c.Spec.Name };
      },
    };
    const labels = { ...want.labels, ...ownerLabels(ctx.owner, desired.key, desired.protect) };
    return toDockerSpec(desired.name, want, await this.#pinned(want.image), labels, refs, forceUpdate);
  }

  /** `image@sha256:...` when the registry (through the engine) or the local image knows a digest. */
  async #pinned(image: string): Promise<string> {
    if (!this.#pinImages || image.includes('@')) return image;
    const digest =
      (await this.#client.distributionDigest(image)) ??
      (await this.#client.inspectImage(image).catch(() => undefined))?.RepoDigests?.[0]?.split('@')[1];
    return digest ? `${image}@${digest}` : image;
  }

  /**
   * Waits for the service to converge: a rolling update to complete, or (a new service, a scale
   * or labels-only change) its tasks to run. Bounded by the update config: batches of
   * `parallelism` tasks, each taking `delay + monitor + stop grace` plus the task start allowance.
   */
  async settle(ctx: HandlerContext, applied: ObservedResource): Promise<void> {
    const first = await this.#client.inspectService(applied.id);
    if (!first)
      throw new KeelsonError(`service ${applied.name} disappeared while settling`, {
        code: 'NOT_FOUND',
        class: 'transient',
        resource: applied.key,
      });
    const deadline = Date.now() + this.#bound(first);
    let stableSince = 0;
    for (;;) {
      if (ctx.signal.aborted)
        throw new KeelsonError(`settling service ${applied.name} was cancelled`, {
          code: 'TIMEOUT',
          class: 'transient',
          resource: applied.key,
        });
      const s = (await this.#client.inspectService(applied.id)) ?? first;
      const status = s.UpdateStatus ?? undefined;
      const state = status?.State;
      if (state === 'completed') return;
      if (state === 'paused' || state === 'rollback_paused' || state === 'rollback_completed') {
        const why = await this.#taskError(s, status?.StartedAt);
        const code = state === 'paused' ? 'UPDATE_PAUSED' : 'ROLLBACK';
        const what =
          state === 'paused'
            ? `the update of service ${applied.name} was paused by Swarm`
            : state === 'rollback_paused'
              ? `the update of service ${applied.name} failed and its rollback was paused`
              : `the update of service ${applied.name} failed and Swarm rolled it back`;
        throw new KeelsonError(`${what}: ${why ?? status?.Message ?? 'no task error was recorded'}`, {
          code,
          class: 'terminal',
          resource: applied.key,
        });
      }
      if (!state) {
        const done = await this.#tasksRunning(s);
        if (done) {
          // Seen twice in a row, so a rolling update that is only about to start is not mistaken for done.
          if (stableSince && Date.now() - stableSince >= this.#pollMs) return;
          stableSince ||= Date.now();
        } else {
          stableSince = 0;
        }
      }
      if (Date.now() > deadline) {
        const why = await this.#taskError(s, status?.StartedAt ?? s.UpdatedAt);
        const code = state === 'rollback_started' ? 'ROLLBACK' : 'TIMEOUT';
        throw new KeelsonError(
          `service ${applied.name} did not converge within ${Math.round(this.#bound(first) / 1000)} s (${state ?? 'tasks not running'})${why ? `: ${why}` : ''}`,
          { code, class: code === 'ROLLBACK' ? 'terminal' : 'transient', resource: applied.key },
        );
      }
      await new Promise((r) => setTimeout(r, this.#pollMs));
    }
  }

  /** The settle bound for a service, from its update config and replicas. */
  #bound(s: DockerService): number {
    const spec = s.Spec as Record<string, unknown>;
    const update = (spec.UpdateConfig ?? {}) as { Parallelism?: number; Delay?: number; Monitor?: number };
    const c = ((spec.TaskTemplate as Record<string, unknown> | undefined)?.ContainerSpec ?? {}) as {
      StopGracePeriod?: number;
    };
    const replicas = (spec.Mode as { Replicated?: { Replicas?: number } } | undefined)?.Replicated?.Replicas ?? 1;
    const parallelism = update.Parallelism || replicas || 1;
    const batches = Math.max(1, Math.ceil(replicas / parallelism));
    const perBatch =
      ((update.Delay ?? 0) + (update.Monitor ?? 5e9) + (c.StopGracePeriod ?? 10e9)) / 1e6 + this.#taskStartMs;
    // Twice: a failed update is followed by a rollback of the same shape.
    return 2 * batches * perBatch + this.#taskStartMs;
  }

  /** True when every task Swarm wants running runs the current spec, and there are as many as asked. */
  async #tasksRunning(s: DockerService): Promise<boolean> {
    const tasks = await this.#client.listTasks({ service: [s.ID] });
    const wanted = tasks.filter((t) => t.DesiredState === 'running');
    const current = canonicalJson((s.Spec.TaskTemplate as Record<string, unknown> | undefined)?.ContainerSpec);
    const running = wanted.filter(
      (t) => t.Status.State === 'running' && canonicalJson(t.Spec.ContainerSpec) === current,
    );
    const replicas = (s.Spec as { Mode?: { Replicated?: { Replicas?: number } } }).Mode?.Replicated?.Replicas;
    if (replicas !== undefined) return running.length >= replicas && wanted.length === running.length;
    return running.length === wanted.length;
  }

  /** The newest failed task's error since `since`, in words: "task web.1 exited with code 1". */
  async #taskError(s: DockerService, since: string | undefined): Promise<string | undefined> {
    const tasks = await this.#client.listTasks({ service: [s.ID] });
    const from = since ? Date.parse(since) : 0;
    const failed = tasks
      .filter(
        (t) =>
          (t.Status.State === 'failed' || t.Status.State === 'rejected') &&
          Date.parse(t.Status.Timestamp) >= from - 1000,
      )
      .sort((a, b) => Date.parse(b.Status.Timestamp) - Date.parse(a.Status.Timestamp));
    const t =
      failed[0] ??
      tasks
        .filter((x) => ENDED.has(x.Status.State) && x.Status.Err)
        .sort((a, b) => b.Status.Timestamp.localeCompare(a.Status.Timestamp))[0];
    return t ? describeTask(s, t) : undefined;
  }
}

export function describeTask(s: DockerService, t: DockerTask): string {
  const name = `${s.Spec.Name}.${t.Slot ?? t.NodeID ?? t.ID.slice(0, 12)}`;
  const code = t.Status.ContainerStatus?.ExitCode;
  if (code) return `task ${name} exited with code ${code}${t.Status.Err ? ` (${t.Status.Err})` : ''}`;
  return `task ${name} ${t.Status.State}: ${t.Status.Err ?? t.Status.Message ?? 'no error recorded'}`;
}

/** Which lookups the live specs of some services need. */
function liveNeeds(services: readonly DockerService[]): { networks: boolean; secrets: boolean; configs: boolean } {
  const has = (v: unknown) => Array.isArray(v) && v.length > 0;
  const needs = { networks: false, secrets: false, configs: false };
  for (const s of services) {
    const t = (s.Spec.TaskTemplate ?? {}) as Record<string, unknown>;
    const c = (t.ContainerSpec ?? {}) as Record<string, unknown>;
    needs.networks ||= has(t.Networks) || has((s.Spec as Record<string, unknown>).Networks);
    needs.secrets ||= has(c.Secrets);
    needs.configs ||= has(c.Configs);
  }
  return needs;
}

function resolveNetwork(lookups: Lookups, name: string): DockerNetwork | undefined {
  return (
    lookups.networks.find((n) => n.Name === name) ??
    lookups.networks.find((n) => n.Id === name || (name.length >= 12 && n.Id.startsWith(name)))
  );
}

/**
 * The secret or config a desired `source` names: a live name or id, or the name of a keelson
 * resource (its current version, by activation).
 */
function resolveObject(objects: readonly DockerSecret[], kind: string, source: string): DockerSecret | undefined {
  const exact = objects.find((o) => o.Spec.Name === source || o.ID === source);
  if (exact) return exact;
  const key = resourceKey(kind, source);
  return objects
    .filter((o) => o.Spec.Labels?.[KEY_LABEL] === key)
    .sort((a, b) => Number(b.Spec.Labels?.[ACTIVATED_LABEL] ?? 0) - Number(a.Spec.Labels?.[ACTIVATED_LABEL] ?? 0))[0];
}

/** The desired's spelling when it resolves to the very object the service uses; else the live name. */
function liveSource(objects: readonly DockerSecret[], kind: string, id: string, name: string, wanted: unknown): string {
  if (typeof wanted === 'string' && resolveObject(objects, kind, wanted)?.ID === id) return wanted;
  return name;
}

function missing(desired: ResolvedResource, what: string, name: string): KeelsonError {
  return new KeelsonError(`cannot deploy service ${desired.name}: ${what} ${name} does not exist`, {
    code: 'NOT_READY',
    class: 'waiting',
    retryAfterMs: 5_000,
    resource: desired.key,
  });
}

function unowned(name: string, existing: DockerService): KeelsonError {
  const owner = existing.Spec.Labels?.['keelson.io/owner'];
  const key = existing.Spec.Labels?.[KEY_LABEL];
  return new KeelsonError(
    `cannot create service ${name}: a service of that name already exists (id ${existing.ID}) and ${owner ? `belongs to keelson instance "${owner}"` : 'keelson does not own it'}${key ? ` (${splitKey(key).kind})` : ''}; remove or rename it, rename the resource, or set "adopt: true" to take it over`,
    { code: 'CONFLICT_UNOWNED', class: 'terminal', resource: resourceKey(SERVICE_KIND, name) },
  );
}
