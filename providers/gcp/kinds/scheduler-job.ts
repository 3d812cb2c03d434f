import {
  defineKind,
  deleteIgnoringMissing,
  type FieldChange,
  type HandlerContext,
  type ObservedResource,
  type ObserveQuery,
  type ResolvedResource,
  type ResourceHandler,
  specOf,
} from '../../sdk/index.ts';
import { isAlreadyExists, isNotFound } from '../client/errors.ts';
import {
  compact,
  durationOf,
  durations,
  fieldChanged,
  type GcpRuntime,
  inventoryBase,
  numberOf,
  requireKnown,
  shortName,
  signalOf,
  toDuration,
} from './common.ts';
import { regionField } from './schema-parts.ts';

export const SCHEDULER_JOB_KIND = 'gcp.SchedulerJob';

const METHODS = ['POST', 'GET', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;
const durationPattern = '^\\d+(\\.\\d+)?s$';

export const schedulerJobSchema = defineKind({
  kind: SCHEDULER_JOB_KIND,
  description:
    'A Cloud Scheduler job (named like the resource) calling an HTTP target, optionally with an OIDC token. Jobs carry no labels: ownership is kept in the inventory.',
  spec: {
    region: regionField,
    schedule: { type: 'string', required: true, description: 'unix-cron, e.g. `0 3 * * *`.' },
    timeZone: { type: 'string', default: 'Etc/UTC', description: 'tz database name, e.g. `Europe/Berlin`.' },
    description: { type: 'string', default: '' },
    paused: { type: 'boolean', default: false },
    httpTarget: {
      type: 'object',
      required: true,
      properties: {
        uri: { type: 'string', required: true, referenceable: true },
        httpMethod: { type: 'string', enum: METHODS, default: 'POST' },
        headers: { type: 'map', values: { type: 'string' }, default: {} },
        oidcToken: {
          type: 'object',
          properties: {
            serviceAccountEmail: { type: 'string', required: true, referenceable: true },
            audience: { type: 'string', referenceable: true },
          },
        },
      },
    },
    retryConfig: {
      type: 'object',
      properties: {
        retryCount: { type: 'integer', minimum: 0, maximum: 5 },
        maxRetryDuration: { type: 'string', pattern: durationPattern },
        minBackoffDuration: { type: 'string', pattern: durationPattern },
        maxBackoffDuration: { type: 'string', pattern: durationPattern },
        maxDoublings: { type: 'integer', minimum: 0 },
      },
    },
    attemptDeadline: { type: 'string', pattern: durationPattern, default: '180s' },
  },
  outputs: { name: { type: 'string', computed: true } },
});

interface Job {
  name?: string;
  description?: string;
  schedule?: string;
  timeZone?: string;
  state?: string | number;
  attemptDeadline?: unknown;
  httpTarget?: {
    uri?: string;
    httpMethod?: string | number;
    headers?: Record<string, string>;
    oidcToken?: { serviceAccountEmail?: string; audience?: string } | null;
  } | null;
  retryConfig?: {
    retryCount?: number;
    maxRetryDuration?: unknown;
    minBackoffDuration?: unknown;
    maxBackoffDuration?: unknown;
    maxDoublings?: number;
  } | null;
}

/** Headers Scheduler adds by itself; never drift. */
const AUTOMATIC_HEADERS = new Set(['user-agent', 'content-type']);

function methodName(m: string | number | undefined): string {
  if (typeof m === 'number') return METHODS[m - 1] ?? 'POST';
  return m && m !== 'HTTP_METHOD_UNSPECIFIED' ? m : 'POST';
}

/** Scheduler jobs: one paged list per region in use. */
export class SchedulerJobHandler implements ResourceHandler {
  readonly #rt: GcpRuntime;

  constructor(rt: GcpRuntime) {
    this.#rt = rt;
  }

  #region(spec: Readonly<Record<string, unknown>>): string {
    return typeof spec.region === 'string' ? spec.region : this.#rt.api.region;
  }

  #path(region: string, name: string): string {
    return `${this.#rt.api.location(region)}/jobs/${name}`;
  }

  #observed(ctx: HandlerContext, job: Job, region: string): ObservedResource {
    const name = shortName(job.name);
    const t = job.httpTarget ?? {};
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(t.headers ?? {})) if (!AUTOMATIC_HEADERS.has(k.toLowerCase())) headers[k] = v;
    const r = job.retryConfig;
    return {
      ...inventoryBase(SCHEDULER_JOB_KIND, name, job.name ?? name, ctx, this.#rt),
      spec: compact({
        region,
        schedule: job.schedule,
        timeZone: job.timeZone || 'Etc/UTC',
        description: job.description ?? '',
        paused: job.state === 'PAUSED' || job.state === 2,
        httpTarget: compact({
          uri: t.uri,
          httpMethod: methodName(t.httpMethod),
          headers,
          oidcToken: t.oidcToken?.serviceAccountEmail
            ? compact({
                serviceAccountEmail: t.oidcToken.serviceAccountEmail,
                audience: t.oidcToken.audience || undefined,
              })
            : undefined,
        }),
        retryConfig: r
          ? compact({
              retryCount: r.retryCount === undefined ? undefined : numberOf(r.retryCount),
              maxRetryDuration: durationOf(r.maxRetryDuration),
              minBackoffDuration: durationOf(r.minBackoffDuration),
              maxBackoffDuration: durationOf(r.maxBackoffDuration),
              maxDoublings: r.maxDoublings === undefined ? undefined : numberOf(r.maxDoublings),
            })
          : undefined,
        attemptDeadline: durationOf(job.attemptDeadline) ?? '180s',
      }),
      outputs: { name: job.name },
    };
  }

  async observe(ctx: HandlerContext, query: ObserveQuery): Promise<ObservedResource[]> {
    const api = this.#rt.api;
    const recorded = ctx.inventory.list(SCHEDULER_JOB_KIND);
    const regions = new Set([
      ...query.desired.map((d) => this.#region(d.spec)),
      ...recorded.map((e) => e.id.split('/')[3] ?? api.region),
    ]);
    if (regions.size === 0) return [];
    const names = new Set(query.names);
    const ids = new Set(recorded.map((e) => e.id));
    const out: ObservedResource[] = [];
    for (const region of [...regions].sort()) {
      const jobs = await api.list<Job>(
        `list Scheduler jobs in ${region}`,
        api.clients.scheduler(),
        'listJobs',
        { parent: api.location(region), pageSize: 500 },
        signalOf(ctx),
      );
      for (const job of jobs) {
        if (names.has(shortName(job.name)) || ids.has(job.name ?? '')) out.push(this.#observed(ctx, job, region));
      }
    }
    return out;
  }

  #job(desired: ResolvedResource): Record<string, unknown> {
    const s = specOf(schedulerJobSchema, desired);
    const t = s.httpTarget;
    return compact({
      name: this.#path(this.#region(desired.spec), desired.name),
      description: s.description,
      schedule: s.schedule,
      timeZone: s.timeZone,
      attemptDeadline: toDuration(s.attemptDeadline),
      httpTarget: compact({ uri: t.uri, httpMethod: t.httpMethod, headers: t.headers, oidcToken: t.oidcToken }),
      retryConfig: s.retryConfig
        ? durations({ ...s.retryConfig }, ['maxRetryDuration', 'minBackoffDuration', 'maxBackoffDuration'])
        : undefined,
    });
  }

  async #setPaused(ctx: HandlerContext, desired: ResolvedResource, paused: boolean): Promise<Job> {
    const api = this.#rt.api;
    const name = this.#path(this.#region(desired.spec), desired.name);
    const [job] = await api.call<[Job]>(
      `${paused ? 'pause' : 'resume'} Scheduler job ${desired.name}`,
      desired.key,
      (gax) =>
        paused ? api.clients.scheduler().pauseJob({ name }, gax) : api.clients.scheduler().resumeJob({ name }, gax),
      signalOf(ctx),
    );
    return job;
  }

  async create(ctx: HandlerContext, desired: ResolvedResource): Promise<ObservedResource> {
    requireKnown(desired);
    const api = this.#rt.api;
    const region = this.#region(desired.spec);
    let job: Job;
    try {
      [job] = await api.call<[Job]>(
        `create Scheduler job ${desired.name}`,
        desired.key,
        (gax) => api.clients.scheduler().createJob({ parent: api.location(region), job: this.#job(desired) }, gax),
        { idempotent: false, ...signalOf(ctx) },
      );
    } catch (error) {
      // Planned only when observe did not find it: it is the one an earlier attempt created.
      if (!isAlreadyExists(error)) throw error;
      [job] = await api.call<[Job]>(
        `update Scheduler job ${desired.name}`,
        desired.key,
        (gax) => api.clients.scheduler().updateJob({ job: this.#job(desired) }, gax),
        signalOf(ctx),
      );
    }
    await ctx.inventory.set({
      key: desired.key,
      kind: SCHEDULER_JOB_KIND,
      id: job.name ?? this.#path(region, desired.name),
    });
    if (desired.spec.paused === true) job = await this.#setPaused(ctx, desired, true);
    return this.#observed(ctx, job, region);
  }

  async update(
    ctx: HandlerContext,
    desired: ResolvedResource,
    observed: ObservedResource,
    changes: readonly FieldChange[],
  ): Promise<ObservedResource> {
    requireKnown(desired);
    const api = this.#rt.api;
    const region = this.#region(desired.spec);
    if (!observed.owned) await ctx.inventory.set({ key: desired.key, kind: SCHEDULER_JOB_KIND, id: observed.id });
    let job: Job | undefined;
    if (changes.some((c) => !c.path.startsWith('paused'))) {
      [job] = await api.call<[Job]>(
        `update Scheduler job ${desired.name}`,
        desired.key,
        (gax) => api.clients.scheduler().updateJob({ job: this.#job(desired) }, gax),
        signalOf(ctx),
      );
    }
    if (fieldChanged(changes, 'paused')) job = await this.#setPaused(ctx, desired, desired.spec.paused === true);
    return job ? this.#observed(ctx, job, region) : observed;
  }

  async delete(ctx: HandlerContext, observed: ObservedResource): Promise<void> {
    const api = this.#rt.api;
    await deleteIgnoringMissing(
      () =>
        api.call(
          `delete Scheduler job ${observed.name}`,
          observed.key,
          (gax) => api.clients.scheduler().deleteJob({ name: observed.id }, gax),
          signalOf(ctx),
        ),
      isNotFound,
    );
    await ctx.inventory.remove(observed.key);
  }
}
