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
import { describeProgress, type TaskProgress, taskProgress } from './task-progress.ts';

export interface ServiceHandlerOptions {
  /** Allowance for one task to be pulled, started and running (default 60 s). Bounds `settle`. */
  readonly taskStartMs?: number;
  /**
   * Longest interval between two looks while settling (default 250 ms; one look lists every
   * service being settled). Looks start 25 ms apart and back off, doubling, to this while nothing
   * moves; a change in any service's progress makes them quick again.
   */
  readonly pollMs?: number;
  /** Ask the registry (through the engine) for an image's digest to pin it (default true). */
  readonly pinImages?: boolean;
  /**
   * How long a service's new tasks must keep running before it counts as converged (default
   * 1,000 ms; 0: running is enough). The window is what catches a task that starts and exits at
   * once, which `docker stack deploy` followed by a wait for "running" takes for a success.
   */
  readonly stableMs?: number;
  /**
   * The Swarm service this keelson runs in (`KEELSON_SELF_SERVICE`, the chart sets it to
   * `{{.Service.Name}}`). Its updates are sent but not waited for: the task that would wait is
   * the one the update replaces (default none).
   */
  readonly selfService?: string;
}

/** The live objects a service spec names, read once per call. */
interface Lookups {
  readonly networks: readonly DockerNetwork[];
  readonly secrets: readonly DockerSecret[];
  readonly configs: readonly DockerSecret[];
}

/** How long an image's digest is reused: about one pass, so a pushed tag is picked up on the next. */
const DIGEST_TTL_MS = 30_000;

/** A service `settle` is waiting for. */
interface Settling {
  readonly ctx: HandlerContext;
  readonly applied: ObservedResource;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  /** The last progress line logged. */
  said: string;
  /** The verdict of the previous look. */
  seen?: TaskProgress['state'];
  bound?: number;
  deadline?: number;
  /** When the tasks were first seen all running (reset when they stop being so). */
  convergedSince?: number;
  /** When (our clock) the tasks will have run long enough, if they keep running: the next look is then. */
  wakeAt?: number;
}

/** How long the tasks of a service must keep running before it counts as converged, by default. */
const STABLE_MS = 1_000;

/** The first interval between two looks while settling, and after each change of progress. */
const QUICK_POLL_MS = 25;

/** How long a reading of the engine's clock is used before it is read again. */
const CLOCK_TTL_MS = 300_000;

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
  readonly #stableMs: number;
  readonly #selfService: string | undefined;
  /** Services being settled, by id, and the loop that watches them. */
  readonly #settling = new Map<string, Settling>();
  #watching: Promise<void> | undefined;
  /** The engine's clock minus ours (ms, erring low), and when it was read. */
  #clock: { offset: number; at: number } | undefined;
  /** Image -> its pinned reference (a promise, so concurrent creates ask once). */
  readonly #digests = new Map<string, { pinned: Promise<string>; until: number }>();

  constructor(client: SwarmClient, options: ServiceHandlerOptions = {}) {
    this.#client = client;
    this.#taskStartMs = options.taskStartMs ?? 60_000;
    this.#pollMs = options.pollMs ?? 250;
    this.#pinImages = options.pinImages ?? true;
    this.#stableMs = options.stableMs ?? STABLE_MS;
    this.#selfService = options.selfService || undefined;
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
    const undone = await this.#rolledBackTasks(services);
    return services.map((s) => this.#toObserved(ctx, s, lookups, desired.get(s.Spec.Name), undone.get(s.ID)));
  }

  /**
   * The tasks of services whose last update Swarm rolled back (one list call, only when there are
   * such services). After a rollback the service's spec is the old one again and `PreviousSpec` is
   * gone: the failed tasks are the only record of the spec that was undone.
   */
  async #rolledBackTasks(services: readonly DockerService[]): Promise<Map<string, DockerTask[]>> {
    const ids = services.filter((s) => s.UpdateStatus?.State === 'rollback_completed').map((s) => s.ID);
    const byService = new Map<string, DockerTask[]>();
    if (ids.length === 0) return byService;
    for (const t of await this.#client.listTasks({ service: ids })) {
      byService.set(t.ServiceID, [...(byService.get(t.ServiceID) ?? []), t]);
    }
    return byService;
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

  #toObserved(
    ctx: HandlerContext,
    s: DockerService,
    lookups: Lookups,
    desired?: ServiceSpec,
    tasks?: readonly DockerTask[],
  ): ObservedResource {
    const live = s.Spec;
    const image = imageOf(live.TaskTemplate);
    const at = image.indexOf('@sha256:');
    const spec = fromDockerSpec(live, liveUserLabels(live.Labels), this.#liveNames(lookups, desired, image));
    const state = s.UpdateStatus?.State;
    const busy = state === 'updating' || state === 'rollback_started';
    const rolledBack = tasks && this.#undoneSpec(s, spec, tasks, lookups, desired);
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
      ...(rolledBack ? { rolledBack } : {}),
    };
  }

  /**
   * The spec Swarm rolled back, read from the newest task that failed since the update started
   * and ran a template other than the live one (the service with that template), and why.
   */
  #undoneSpec(
    s: DockerService,
    live: ServiceSpec,
    tasks: readonly DockerTask[],
    lookups: Lookups,
    desired: ServiceSpec | undefined,
  ): ObservedResource['rolledBack'] {
    const since = Date.parse(s.UpdateStatus?.StartedAt ?? '') || 0;
    const failed = tasks
      .filter(
        (t) =>
          (t.Status.State === 'failed' || t.Status.State === 'rejected') && Date.parse(t.CreatedAt) >= since - 1000,
      )
      .sort((a, b) => b.CreatedAt.localeCompare(a.CreatedAt));
    const liveJson = canonicalJson(live);
    for (const t of failed) {
      const template = t.Spec as DockerService['Spec']['TaskTemplate'];
      const names = this.#liveNames(lookups, desired, imageOf(template));
      const spec = fromDockerSpec({ ...s.Spec, TaskTemplate: template }, liveUserLabels(s.Spec.Labels), names);
      if (canonicalJson(spec) === liveJson) continue;
      return {
        spec: spec as unknown as Record<string, unknown>,
        message: `Swarm rolled the update back: ${describeTask(s, t)}`,
      };
    }
    return undefined;
  }

  /** How live ids read as desired names (the desired's spelling where it names the same object). */
  #liveNames(lookups: Lookups, desired: ServiceSpec | undefined, image: string): LiveNames {
    const at = image.indexOf('@sha256:');
    return {
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
  }

  async #byName(name: string): Promise<DockerService | undefined> {
    return (await this.#client.listServices({ name: [name] })).find((s) => s.Spec.Name === name);
  }

  async #observeOne(ctx: HandlerContext, s: DockerService, desired: ServiceSpec): Promise<ObservedResource> {
    return this.#toObserved(ctx, s, await this.#lookups(liveNeeds([s])), desired);
  }

  async create(ctx: HandlerContext, desired: ResolvedResource): Promise<ObservedResource> {
    const want = normalizeService(desired.spec);
    const { spec, lookups } = await this.#dockerSpec(ctx, desired, want, 0);
    let id: string;
    try {
      id = await this.#client.createService(spec);
    } catch (error) {
      // Idempotent without a read before every create: a name conflict means it exists already.
      if ((error as KeelsonError).status !== 409) throw error;
      const existing = await this.#byName(desired.name);
      if (!existing) throw error;
      if (isOwned(existing.Spec.Labels, ctx.owner)) return this.#observeOne(ctx, existing, want);
      throw unowned(desired.name, existing);
    }
    ctx.log.info({ resource: desired.key, id }, 'created service');
    const created = await this.#client.inspectService(id);
    if (!created)
      throw new KeelsonError(`service ${desired.name} was created but cannot be found`, {
        code: 'API_ERROR',
        class: 'transient',
      });
    // The objects it names were just listed to build the spec: no second round of lists.
    return this.#toObserved(ctx, created, lookups, want);
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
      const { spec, lookups } = await this.#dockerSpec(ctx, desired, want, forceUpdate);
      try {
        await this.#client.updateService(live.ID, live.Version.Index, spec);
      } catch (error) {
        // Someone else wrote in between: read the new version and send again, once.
        if (attempt < 2 && /out of sequence/i.test((error as Error).message)) continue;
        throw error;
      }
      ctx.log.info({ resource: desired.key, id: live.ID }, 'updated service');
      const after = await this.#client.inspectService(live.ID);
      return this.#toObserved(ctx, after ?? live, lookups, want);
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
    const spec = toDockerSpec(desired.name, want, await this.#pinned(want.image), labels, refs, forceUpdate);
    return { spec, lookups };
  }

  /** `image@sha256:...` when the registry (through the engine) or the local image knows a digest. */
  async #pinned(image: string): Promise<string> {
    if (!this.#pinImages || image.includes('@')) return image;
    // The services of a wave mostly share images: ask once per image, and again after a while.
    const cached = this.#digests.get(image);
    if (cached && cached.until > Date.now()) return cached.pinned;
    const pinned = this.#resolvePinned(image);
    this.#digests.set(image, { pinned, until: Date.now() + DIGEST_TTL_MS });
    return pinned;
  }

  async #resolvePinned(image: string): Promise<string> {
    const digest =
      (await this.#client.distributionDigest(image)) ??
      (await this.#client.inspectImage(image).catch(() => undefined))?.RepoDigests?.[0]?.split('@')[1];
    return digest ? `${image}@${digest}` : image;
  }

  /**
   * Waits for the service to converge: a rolling update to complete, or (a new service, a scale
   * or labels-only change) its tasks to run. Fails at once, with the task's error, when Swarm
   * rolls the update back or pauses it, or gives up on a task (its restart policy is spent).
   * Logs progress (tasks running / wanted) whenever it changes. Every service being settled is
   * watched by one loop: two list calls per poll, however many services a wave creates.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: handlers that always wait keep resolving void
  settle(ctx: HandlerContext, applied: ObservedResource): Promise<void | 'unconfirmed'> {
    if (applied.name === this.#selfService) {
      ctx.log.info(
        { resource: applied.key },
        `not waiting for service ${applied.name}: it runs this keelson, whose task the update replaces; the next pass (maybe another replica's) sees how it ends`,
      );
      return Promise.resolve('unconfirmed');
    }
    return new Promise<void>((resolve, reject) => {
      this.#settling.set(applied.id, { ctx, applied, resolve, reject, said: '' });
      this.#watching ??= this.#watch().finally(() => {
        this.#watching = undefined;
      });
    });
  }

  /**
   * Looks at every service being settled until none is left: quickly at first and after any
   * change of progress, backing off to `pollMs` while nothing moves.
   */
  async #watch(): Promise<void> {
    let interval = QUICK_POLL_MS;
    const clock = this.#readClock();
    while (this.#settling.size > 0) {
      const ids = [...this.#settling.keys()];
      let services: DockerService[] = [];
      let tasks: DockerTask[] = [];
      try {
        services = await this.#client.listServices({ id: ids });
        // Tasks only of services that exist: one missing service makes the engine refuse the list.
        const present = ids.filter((id) => services.some((s) => s.ID === id));
        if (present.length) tasks = await this.#client.listTasks({ service: present });
      } catch (error) {
        // Removed between the two lists: look again next time (the services list will say so).
        if ((error as KeelsonError).status === 404) {
          await new Promise((r) => setTimeout(r, this.#pollMs));
          continue;
        }
        for (const id of ids) this.#finish(id, error);
        continue;
      }
      // The engine's clock judges how long tasks have run; the first look needs it.
      await clock;
      let moved = false;
      for (const id of ids) {
        const w = this.#settling.get(id);
        if (!w) continue;
        const said = w.said;
        try {
          const s = services.find((x) => x.ID === id);
          if (
            this.#check(
              w,
              s,
              tasks.filter((t) => t.ServiceID === id),
            )
          )
            this.#finish(id);
        } catch (error) {
          this.#finish(id, error);
        }
        moved ||= w.said !== said;
      }
      interval = moved ? QUICK_POLL_MS : Math.min(this.#pollMs, interval * 2);
      if (this.#settling.size === 0) break;
      // Look again when a service's tasks will have run long enough, if that comes sooner.
      const wakes = [...this.#settling.values()].flatMap((w) => (w.wakeAt === undefined ? [] : [w.wakeAt]));
      const wait = Math.min(interval, Math.max(QUICK_POLL_MS, Math.min(...wakes) - Date.now()));
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  /**
   * Reads the engine's clock (`SystemTime` of `GET /info`), at most every few minutes: the
   * offset assumes it was read at the end of the call, so the engine's "now" derived from it is
   * never later than the real one. Unknown (a failed read) leaves only our own clock to judge by.
   */
  async #readClock(): Promise<void> {
    if (this.#clock && Date.now() - this.#clock.at < CLOCK_TTL_MS) return;
    try {
      const info = (await this.#client.docker.info()) as { SystemTime?: string };
      const engine = Date.parse(info.SystemTime ?? '');
      if (!Number.isNaN(engine)) this.#clock = { offset: engine - Date.now(), at: Date.now() };
    } catch {
      // Judged by our clock alone.
    }
  }

  #finish(id: string, error?: unknown): void {
    const w = this.#settling.get(id);
    if (!w) return;
    this.#settling.delete(id);
    if (error === undefined) w.resolve();
    else w.reject(error);
  }

  /** One look at a service being settled: true when it has converged; throws when it cannot. */
  #check(w: Settling, s: DockerService | undefined, tasks: readonly DockerTask[]): boolean {
    const { ctx, applied } = w;
    if (!s)
      throw new KeelsonError(`service ${applied.name} disappeared while settling`, {
        code: 'NOT_FOUND',
        class: 'transient',
        resource: applied.key,
      });
    if (ctx.signal.aborted)
      throw new KeelsonError(`settling service ${applied.name} was cancelled`, {
        code: 'TIMEOUT',
        class: 'transient',
        resource: applied.key,
      });
    w.bound ??= settleBound(s.Spec, this.#taskStartMs);
    w.deadline ??= Date.now() + w.bound;
    const status = s.UpdateStatus ?? undefined;
    const state = status?.State;
    if (state === 'completed') return true;
    if (state === 'paused' || state === 'rollback_paused' || state === 'rollback_completed') {
      const why = taskError(s, tasks, status?.StartedAt);
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
    const progress = taskProgress(s, tasks);
    const line = `${state ? `${state}, ` : ''}${describeProgress(progress)}`;
    if (line !== w.said) {
      ctx.log.info(
        { resource: applied.key, running: progress.running, wanted: progress.wanted, state: state ?? 'creating' },
        `waiting for service ${applied.name}: ${line}`,
      );
      w.said = line;
    }
    // Each verdict must be seen twice in a row, so a rolling update that is only about to start
    // (or a restart being scheduled) is not taken for the end; and the tasks must keep running
    // for a moment, so a task that exits at once is not taken for a running one. How long they
    // ran is read from the tasks themselves (when they started running, by the engine's clock)
    // when they have the service's whole task template (no rolling update is coming for them);
    // otherwise, or without the engine's clock, it is counted from when they were first seen,
    // and the verdict must be seen twice.
    const seen = w.seen;
    w.seen = progress.state;
    if (!state && progress.state === 'converged') {
      const now = Date.now();
      w.convergedSince ??= now;
      const engineNow = this.#clock ? now + this.#clock.offset : undefined;
      const ranLongEnough =
        progress.exact &&
        engineNow !== undefined &&
        (progress.since === undefined || engineNow - progress.since >= this.#stableMs);
      // Tasks with the whole template that ran long enough need no second look: no rolling update is coming.
      if (ranLongEnough || (seen === 'converged' && now - w.convergedSince >= this.#stableMs)) return true;
      const byEngine =
        progress.exact && engineNow !== undefined && progress.since !== undefined
          ? now + this.#stableMs - (engineNow - progress.since)
          : Number.POSITIVE_INFINITY;
      w.wakeAt = Math.min(byEngine, w.convergedSince + this.#stableMs);
    } else {
      w.convergedSince = undefined;
      w.wakeAt = undefined;
    }
    if (progress.state === 'gave-up' && seen === 'gave-up' && state !== 'updating') {
      throw new KeelsonError(
        `service ${applied.name} cannot start: Swarm gave up restarting it (restart policy spent), ${describeTask(s, progress.task)}`,
        { code: 'TASK_FAILED', class: 'terminal', resource: applied.key },
      );
    }
    if (Date.now() > w.deadline) {
      const why = taskError(s, tasks, status?.StartedAt ?? s.UpdatedAt);
      const code = state === 'rollback_started' ? 'ROLLBACK' : 'TIMEOUT';
      throw new KeelsonError(
        `service ${applied.name} did not converge within ${Math.round(w.bound / 1000)} s (${state ?? describeProgress(progress)})${why ? `: ${why}` : ''}`,
        { code, class: code === 'ROLLBACK' ? 'terminal' : 'transient', resource: applied.key },
      );
    }
    return false;
  }
}

/** The image a task template names (`image:tag@sha256:...` when pinned). */
function imageOf(template: unknown): string {
  const c = (template as { ContainerSpec?: { Image?: unknown } } | undefined)?.ContainerSpec;
  return typeof c?.Image === 'string' ? c.Image : '';
}

/** The newest failed task's error since `since`, in words: "task web.1 exited with code 1". */
function taskError(s: DockerService, tasks: readonly DockerTask[], since: string | undefined): string | undefined {
  const from = since ? Date.parse(since) : 0;
  const failed = tasks
    .filter(
      (t) =>
        (t.Status.State === 'failed' || t.Status.State === 'rejected') && Date.parse(t.Status.Timestamp) >= from - 1000,
    )
    .sort((a, b) => Date.parse(b.Status.Timestamp) - Date.parse(a.Status.Timestamp));
  const t =
    failed[0] ??
    tasks
      .filter((x) => ENDED.has(x.Status.State) && x.Status.Err)
      .sort((a, b) => b.Status.Timestamp.localeCompare(a.Status.Timestamp))[0];
  return t ? describeTask(s, t) : undefined;
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

/**
 * How long a rollout may take: per batch of `parallelism` tasks, the update delay, the monitor
 * period, the old task's stop grace period and the new task's first health check (a task only
 * counts as running once healthy, which takes an interval), plus the task start allowance;
 * doubled for a possible rollback of the same shape.
 */
export function settleBound(spec: Readonly<Record<string, unknown>>, taskStartMs: number): number {
  const update = (spec.UpdateConfig ?? {}) as { Parallelism?: number; Delay?: number; Monitor?: number };
  const c = ((spec.TaskTemplate as Record<string, unknown> | undefined)?.ContainerSpec ?? {}) as {
    StopGracePeriod?: number;
    Healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; StartPeriod?: number };
  };
  const replicas = (spec.Mode as { Replicated?: { Replicas?: number } } | undefined)?.Replicated?.Replicas ?? 1;
  const parallelism = update.Parallelism || replicas || 1;
  const batches = Math.max(1, Math.ceil(replicas / parallelism));
  const h = c.Healthcheck;
  // Docker's defaults when a health check is set without them: 30 s interval and timeout.
  const health = h?.Test && h.Test[0] !== 'NONE' ? (h.Interval || 30e9) + (h.Timeout || 30e9) : 0;
  const perBatch =
    ((update.Delay ?? 0) + (update.Monitor ?? 5e9) + (c.StopGracePeriod ?? 10e9) + health) / 1e6 + taskStartMs;
  return 2 * batches * perBatch + taskStartMs;
}
