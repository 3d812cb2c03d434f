import { alreadyExists, failedPrecondition, invalidArgument, notFound, raise } from './api-error.ts';
import { checkServiceAccount } from './api-iam.ts';
import type { SimContext } from './context.ts';
import { nextFire, parseCron, validTimeZone } from './cron.ts';
import { canonical } from './proto-types.ts';
import { applyMask, durationSeconds, maskPaths, page } from './resource-helpers.ts';
import { ok, type Route, route } from './router.ts';
import type { SchedulerRunner } from './scheduler-runner.ts';
import type { Json } from './state.ts';

const JOB_NAME = /^projects\/([^/]+)\/locations\/([^/]+)\/jobs\/([A-Za-z0-9_-]{1,500})$/;

/** Cloud Scheduler v1 jobs: create, get, list, patch (update mask), delete, pause, resume, run. */
export function schedulerRoutes(ctx: SimContext, runner: SchedulerRunner): Route[] {
  const d = ctx.state.data;
  const base = '/v1/projects/{project}/locations/{location}/jobs';
  const jobName = (p: Record<string, string>) => `projects/${p.project}/locations/${p.location}/jobs/${p.job}`;
  const job = (name: string) => d.jobs[name] ?? raise(notFound('Job', name));

  const validate = (j: Json): void => {
    if (typeof j.schedule !== 'string' || j.schedule === '') throw invalidArgument('job.schedule', 'is required');
    try {
      parseCron(j.schedule);
    } catch (e) {
      throw invalidArgument('job.schedule', (e as Error).message);
    }
    if (!validTimeZone(j.timeZone as string))
      throw invalidArgument('job.time_zone', `"${String(j.timeZone)}" is not an IANA time zone`);
    const targets = ['httpTarget', 'pubsubTarget', 'appEngineHttpTarget'].filter((t) => j[t] !== undefined);
    if (targets.length !== 1)
      throw invalidArgument(
        'job.target',
        'exactly one of http_target, pubsub_target, app_engine_http_target is required',
      );
    const deadline = durationSeconds(j.attemptDeadline, 180);
    if (j.httpTarget && (deadline < 15 || deadline > 1800))
      throw invalidArgument('job.attempt_deadline', 'must be between 15s and 30m for HTTP targets');
    const http = j.httpTarget as Json | undefined;
    if (http) {
      if (typeof http.uri !== 'string' || !/^https?:\/\//.test(http.uri))
        throw invalidArgument('job.http_target.uri', 'must be an http(s) URL');
      if (http.oidcToken && http.oauthToken)
        throw invalidArgument('job.http_target', 'oidc_token and oauth_token exclude each other');
      checkServiceAccount(
        ctx,
        (http.oidcToken as Json | undefined)?.serviceAccountEmail,
        'job.http_target.oidc_token.service_account_email',
      );
      checkServiceAccount(
        ctx,
        (http.oauthToken as Json | undefined)?.serviceAccountEmail,
        'job.http_target.oauth_token.service_account_email',
      );
    }
    const pubsub = j.pubsubTarget as Json | undefined;
    if (pubsub && !d.topics[pubsub.topicName as string]) throw notFound('Topic', String(pubsub.topicName));
  };

  const finish = (j: Json): Json => {
    if (j.state === 'ENABLED')
      j.scheduleTime = new Date(
        nextFire(parseCron(j.schedule as string), j.timeZone as string, ctx.clock.now()),
      ).toISOString();
    else delete j.scheduleTime;
    d.jobs[j.name as string] = j;
    ctx.state.changed();
    runner.arm(j.name as string);
    return j;
  };

  return [
    route('scheduler', 'POST', base, (req) => {
      const body = canonical('google.cloud.scheduler.v1.Job', req.body, 'job');
      const m = JOB_NAME.exec(String(body.name ?? ''));
      if (!m)
        throw invalidArgument(
          'job.name',
          'must be projects/PROJECT/locations/LOCATION/jobs/JOB (letters, digits, "-", "_")',
        );
      if (m[1] !== req.params.project || m[2] !== req.params.location)
        throw invalidArgument('job.name', 'must be under the parent');
      const name = body.name as string;
      if (d.jobs[name]) throw alreadyExists('Job', name);
      const j: Json = {
        ...body,
        timeZone: body.timeZone ?? 'Etc/UTC',
        attemptDeadline: body.attemptDeadline ?? '180s',
        retryConfig: {
          maxRetryDuration: '0s',
          minBackoffDuration: '5s',
          maxBackoffDuration: '3600s',
          maxDoublings: 5,
          ...((body.retryConfig ?? {}) as Json),
        },
        state: 'ENABLED',
        userUpdateTime: ctx.timestamp(),
      };
      if (j.httpTarget) j.httpTarget = { httpMethod: 'POST', ...(j.httpTarget as Json) };
      validate(j);
      return ok(finish(j));
    }),
    route('scheduler', 'GET', base, (req) => {
      const prefix = `projects/${req.params.project}/locations/${req.params.location}/jobs/`;
      const items = Object.keys(d.jobs)
        .filter((k) => k.startsWith(prefix))
        .sort()
        .map((k) => d.jobs[k]);
      return ok(page(items, req.query, 'jobs', 500, 500));
    }),
    route('scheduler', 'GET', `${base}/{job}`, (req) => ok(job(jobName(req.params)))),
    route('scheduler', 'PATCH', `${base}/{job}`, (req) => {
      const name = jobName(req.params);
      const current = job(name);
      const body = canonical('google.cloud.scheduler.v1.Job', req.body, 'job');
      const paths = maskPaths(req.query.get('updateMask'));
      const next = applyMask(current, body, paths ?? Object.keys(body).filter((k) => k !== 'name'), [
        'description',
        'schedule',
        'timeZone',
        'httpTarget',
        'pubsubTarget',
        'appEngineHttpTarget',
        'retryConfig',
        'attemptDeadline',
      ]);
      if (next.httpTarget) next.httpTarget = { httpMethod: 'POST', ...(next.httpTarget as Json) };
      next.userUpdateTime = ctx.timestamp();
      validate(next);
      return ok(finish(next));
    }),
    route('scheduler', 'DELETE', `${base}/{job}`, (req) => {
      const name = jobName(req.params);
      job(name);
      delete d.jobs[name];
      runner.arm(name);
      ctx.state.changed();
      return ok({});
    }),
    route('scheduler', 'POST', `${base}/{job}:pause`, (req) => {
      const j = job(jobName(req.params));
      if (j.state === 'DISABLED' || j.state === 'UPDATE_FAILED')
        throw failedPrecondition(`Job ${j.name as string} is ${j.state as string}.`);
      return ok(finish({ ...j, state: 'PAUSED', userUpdateTime: ctx.timestamp() }));
    }),
    route('scheduler', 'POST', `${base}/{job}:resume`, (req) => {
      const j = job(jobName(req.params));
      return ok(finish({ ...j, state: 'ENABLED', userUpdateTime: ctx.timestamp() }));
    }),
    route('scheduler', 'POST', `${base}/{job}:run`, (req) => {
      const j = job(jobName(req.params));
      runner.fire(j.name as string, true);
      return ok(j);
    }),
  ];
}
