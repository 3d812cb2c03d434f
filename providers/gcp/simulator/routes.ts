import type { IncomingMessage } from 'node:http';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { ApiError } from './api-error.ts';
import { firestoreAdminRoutes, newDatabase } from './api-firestore-admin.ts';
import { firestoreDocumentRoutes } from './api-firestore-documents.ts';
import { functionsRoutes, functionUrl } from './api-functions.ts';
import { holdsRole, iamRoutes, seedProjectPolicy } from './api-iam.ts';
import { pubsubRoutes } from './api-pubsub.ts';
import { runRoutes } from './api-run.ts';
import { schedulerRoutes } from './api-scheduler.ts';
import { secretManagerRoutes } from './api-secret-manager.ts';
import { serviceUsageRoutes } from './api-service-usage.ts';
import type { SimContext } from './context.ts';
import { FirestoreEvents } from './eventarc.ts';
import { FunctionHost } from './function-host.ts';
import { GOOGLE_ISSUER, type OidcSigner } from './oidc.ts';
import type { Operations } from './operations.ts';
import type { PubSubBroker, PushSender } from './pubsub-broker.ts';
import { ok, type Route, type SimReply } from './router.ts';
import { SchedulerRunner } from './scheduler-runner.ts';
import type { Json } from './state.ts';

/** The parts of the simulator that run things: functions, event delivery, Scheduler firing. */
export interface Runtime {
  readonly send: PushSender;
  handleOther(method: string, path: string, url: URL, req: IncomingMessage, raw: Buffer): Promise<SimReply | undefined>;
  start(): Promise<void>;
  stop(): Promise<void>;
  idle(): Promise<void>;
  busy(): number;
  fireDueJobs(): Promise<void>;
  sweepTtl(): number;
  logs(name: string): string[];
  pid(name: string): number | undefined;
}

export interface Parts {
  readonly operations: Operations;
  readonly broker: PubSubBroker;
  readonly signer: OidcSigner;
  readonly runFunctions: boolean;
  readonly firestoreDefaultDatabase: boolean;
  readonly requireFirestoreIndexes: boolean;
}

/** The API name of a path (for the request log, quotas and faults). */
export function apiOfPath(path: string): string {
  if (/\/documents(\/|:|$)/.test(path)) return 'firestore';
  if (/\/(topics|subscriptions)(\/|:|$)/.test(path)) return 'pubsub';
  if (/\/jobs(\/|:|$)/.test(path) && path.startsWith('/v1/')) return 'scheduler';
  if (/\/functions(\/|:|$)/.test(path) || /\/runtimes$/.test(path)) return 'functions';
  if (/\/services(\/|:|$)/.test(path) && path.startsWith('/v2/')) return 'run';
  if (/\/secrets(\/|:|$)/.test(path)) return 'secretmanager';
  if (/\/databases(\/|:|$)/.test(path)) return 'firestore';
  if (/\/services(\/|:|$)/.test(path) || path.startsWith('/v1/operations')) return 'serviceusage';
  if (/\/operations(\/|$)/.test(path)) return path.startsWith('/v2/') ? 'functions' : 'serviceusage';
  if (path.startsWith('/v3/') || /^\/v1\/projects\/[^/]+:/.test(path)) return 'cloudresourcemanager';
  if (/\/serviceAccounts(\/|:|$)/.test(path)) return 'iam';
  return 'other';
}

/** How often (clock time) expired documents are deleted by their TTL policies. */
const TTL_SWEEP_MS = 3_600_000;

const INVOKER_ROLES = ['roles/cloudfunctions.invoker', 'roles/run.invoker', 'roles/owner', 'roles/editor'];
const HOP_HEADERS = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive']);

export function buildRoutes(ctx: SimContext, parts: Parts): { routes: Route[]; runtime: Runtime } {
  const d = ctx.state.data;
  const host = new FunctionHost(ctx, parts.runFunctions);
  const events = new FirestoreEvents(ctx, host);
  const scheduler = new SchedulerRunner(ctx, parts.signer, parts.broker);
  const jwks = createLocalJWKSet(parts.signer.jwks());
  seedProjectPolicy(ctx);
  if (parts.firestoreDefaultDatabase && Object.keys(d.databases).length === 0) {
    const name = `projects/${ctx.projectId}/databases/(default)`;
    d.databases[name] = newDatabase(ctx, name, {});
  }

  const documents = firestoreDocumentRoutes(ctx, {
    requireIndexes: parts.requireFirestoreIndexes,
    onChange: (c) => events.publish(c),
  });
  let ttlTimer: { cancel(): void } | undefined;
  const armTtl = () => {
    ttlTimer = ctx.clock.setTimer(TTL_SWEEP_MS, () => {
      documents.sweepTtl();
      armTtl();
    });
  };
  const routes: Route[] = [
    ...parts.operations.routes(),
    ...documents.routes,
    ...pubsubRoutes(ctx, parts.broker),
    ...secretManagerRoutes(ctx),
    ...serviceUsageRoutes(ctx, parts.operations),
    ...firestoreAdminRoutes(ctx, parts.operations),
    ...schedulerRoutes(ctx, scheduler),
    ...functionsRoutes(ctx, parts.operations, host),
    ...runRoutes(ctx, parts.operations),
    ...iamRoutes(ctx),
  ];

  /** Cloud Run's front door for a function URL: an ID token from an invoker, unless allUsers may invoke. */
  const authorize = async (
    fnName: string,
    authorization: string | undefined,
    requestUrl: string,
  ): Promise<SimReply | undefined> => {
    // A 2nd-gen function runs as the Run service of its name: a policy on either lets a caller in.
    const service = fnName.replace('/functions/', '/services/');
    const mayInvoke = (member: string) =>
      holdsRole(ctx, fnName, member, INVOKER_ROLES) || holdsRole(ctx, service, member, INVOKER_ROLES);
    if (mayInvoke('allUsers')) return undefined;
    const deny = (status: number, why: string): SimReply => ({
      status,
      bytes: Buffer.from(
        `<html><head><title>${status} ${status === 401 ? 'Unauthorized' : 'Forbidden'}</title></head><body><h1>Error: ${status === 401 ? 'Unauthorized' : 'Forbidden'}</h1><h2>${why}</h2></body></html>`,
      ),
      contentType: 'text/html; charset=UTF-8',
      headers: status === 401 ? { 'www-authenticate': 'Bearer error="invalid_token"' } : {},
    });
    const m = /^Bearer (.+)$/.exec(authorization ?? '');
    if (!m) return deny(401, 'Your client does not have permission to the requested URL: no ID token.');
    let email: string;
    try {
      const { payload } = await jwtVerify(m[1]!, jwks, { issuer: GOOGLE_ISSUER });
      const aud = ([] as string[]).concat(payload.aud ?? []);
      if (
        !aud.some(
          (a) =>
            requestUrl === a || requestUrl.startsWith(a.endsWith('/') ? a : `${a}/`) || requestUrl.startsWith(`${a}?`),
        )
      )
        return deny(401, `The ID token's audience ${aud.join(',')} does not match ${requestUrl}.`);
      email = String(payload.email ?? '');
    } catch (e) {
      return deny(401, `The ID token does not verify: ${(e as Error).message}`);
    }
    const member = email.endsWith('.gserviceaccount.com') ? `serviceAccount:${email}` : `user:${email}`;
    if (!mayInvoke(member))
      return deny(
        403,
        `${member} may not invoke ${fnName} (it needs roles/run.invoker or roles/cloudfunctions.invoker).`,
      );
    return undefined;
  };

  const proxy = async (
    method: string,
    path: string,
    url: URL,
    req: IncomingMessage,
    raw: Buffer,
  ): Promise<SimReply> => {
    const m = /^\/cloudfunctions\/([^/]+)\/([^/]+)\/([^/]+)(\/.*)?$/.exec(path)!;
    const fnName = `projects/${m[1]}/locations/${m[2]}/functions/${m[3]}`;
    const fn = d.functions[fnName];
    if (!fn || (fn.state === 'DEPLOYING' && !host.running(fnName)))
      return {
        status: 404,
        bytes: Buffer.from('<html><body><h1>Error: Page not found</h1></body></html>'),
        contentType: 'text/html',
      };
    const requestUrl = `${functionUrl(ctx, fnName)}${m[4] ?? ''}${url.search}`;
    const denied = await authorize(fnName, req.headers.authorization, requestUrl);
    if (denied) return denied;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (!HOP_HEADERS.has(k) && typeof v === 'string') headers[k] = v;
    const r = await host
      .invoke(fnName, {
        method,
        path: `${m[4] ?? '/'}${url.search}`,
        headers,
        body: raw,
        timeoutMs: Number((fn.serviceConfig as Json).timeoutSeconds ?? 60) * 1000,
      })
      .catch((e: unknown) => ({
        status: 504,
        headers: {} as Record<string, string>,
        body: Buffer.from(`upstream request timeout: ${(e as Error).message}`),
      }));
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(r.headers))
      if (!HOP_HEADERS.has(k) && k !== 'content-type' && k !== 'content-encoding') out[k] = v;
    return {
      status: r.status,
      bytes: r.body,
      contentType: r.headers['content-type'] ?? 'application/octet-stream',
      headers: out,
    };
  };

  const runtime: Runtime = {
    send: async (r) => {
      if (r.functionName) {
        const fn = d.functions[r.functionName];
        if (fn?.state !== 'ACTIVE') return 503;
        const result = await host
          .invoke(r.functionName, {
            method: 'POST',
            path: '/',
            headers: r.headers,
            body: r.body,
            timeoutMs: r.timeoutMs,
          })
          .catch(() => ({ status: 0 }));
        if (result.status < 200 || result.status >= 300) {
          const noRetry = (fn.eventTrigger as Json | undefined)?.retryPolicy === 'RETRY_POLICY_DO_NOT_RETRY';
          ctx.log.warn(
            { function: r.functionName, status: result.status, redelivered: !noRetry },
            'gcp simulator: a function refused a Pub/Sub event',
          );
          if (noRetry) return 204;
        }
        return result.status;
      }
      try {
        const res = await fetch(r.url, {
          method: 'POST',
          headers: r.headers,
          body: r.body,
          signal: AbortSignal.timeout(r.timeoutMs),
        });
        await res.arrayBuffer();
        return res.status;
      } catch {
        return 0;
      }
    },
    handleOther: async (method, path, url, req, raw) => {
      if (method === 'GET' && path === '/oauth2/v3/certs') return ok(parts.signer.jwks());
      if (method === 'GET' && path === '/.well-known/openid-configuration')
        return ok({
          issuer: GOOGLE_ISSUER,
          jwks_uri: `${ctx.url}/oauth2/v3/certs`,
          id_token_signing_alg_values_supported: ['RS256'],
        });
      if (path.startsWith('/upload/storage/')) {
        if (method !== 'PUT')
          return { status: 405, json: new ApiError('INVALID_ARGUMENT', 'upload with PUT').toBody() };
        const type = req.headers['content-type'] ?? '';
        if (type !== 'application/zip')
          return {
            status: 403,
            bytes: Buffer.from(
              '<Error><Code>SignatureDoesNotMatch</Code><Message>The signed upload URL requires Content-Type: application/zip.</Message></Error>',
            ),
            contentType: 'application/xml',
          };
        if (!url.searchParams.get('Signature'))
          return {
            status: 403,
            bytes: Buffer.from('<Error><Code>AccessDenied</Code></Error>'),
            contentType: 'application/xml',
          };
        const object = path.split('/').at(-1)!;
        d.uploads[object] = raw.toString('base64');
        ctx.state.changed();
        return { status: 200, bytes: Buffer.alloc(0), contentType: 'text/plain' };
      }
      if (path.startsWith('/cloudfunctions/')) return proxy(method, path, url, req, raw);
      if (path.startsWith('/run/'))
        return {
          status: 503,
          bytes: Buffer.from('The simulator does not run Cloud Run container images.'),
          contentType: 'text/plain',
        };
      return undefined;
    },
    async start() {
      // Restarted on another port: URLs that pointed at the simulator (function and Run URLs, and the
      // Scheduler jobs and push subscriptions that call them) follow, as GCP's URLs never change.
      const before = d.baseUrl;
      if (before && before !== ctx.url) {
        const move = (v: unknown) =>
          typeof v === 'string' && v.startsWith(`${before}/`) ? ctx.url + v.slice(before.length) : v;
        for (const fn of Object.values(d.functions)) {
          fn.url = move(fn.url);
          (fn.serviceConfig as Json).uri = move((fn.serviceConfig as Json).uri);
        }
        for (const svc of Object.values(d.runServices)) {
          svc.uri = move(svc.uri);
          svc.urls = ((svc.urls ?? []) as string[]).map(move);
        }
        for (const job of Object.values(d.jobs)) {
          const http = job.httpTarget as Json | undefined;
          if (!http) continue;
          http.uri = move(http.uri);
          const oidc = http.oidcToken as Json | undefined;
          if (oidc?.audience) oidc.audience = move(oidc.audience);
        }
        for (const sub of Object.values(d.subscriptions)) {
          const push = sub.pushConfig as Json | undefined;
          if (!push?.pushEndpoint) continue;
          push.pushEndpoint = move(push.pushEndpoint);
          const oidc = push.oidcToken as Json | undefined;
          if (oidc?.audience) oidc.audience = move(oidc.audience);
        }
      }
      for (const fn of Object.values(d.functions)) {
        fn.url = functionUrl(ctx, fn.name as string);
        (fn.serviceConfig as Json).uri = fn.url;
      }
      for (const [sub, fnName] of Object.entries(d.eventarc)) {
        const s = d.subscriptions[sub];
        if (s) (s.pushConfig as Json).pushEndpoint = functionUrl(ctx, fnName);
      }
      d.baseUrl = ctx.url;
      ctx.state.changed();
      scheduler.resume();
      armTtl();
      await Promise.all(
        Object.values(d.functions)
          .filter((f) => f.state === 'ACTIVE')
          .map((f) =>
            host
              .deploy(f)
              .catch((e: unknown) =>
                ctx.log.warn(
                  { function: f.name, error: (e as Error).message },
                  'gcp simulator: cannot restart function',
                ),
              ),
          ),
      );
    },
    async stop() {
      ttlTimer?.cancel();
      scheduler.close();
      events.close();
      await host.stopAll();
    },
    async idle() {
      await scheduler.idle();
      await events.idle();
    },
    busy: () => scheduler.busy() + events.busy(),
    async fireDueJobs() {
      scheduler.fireDue();
      await scheduler.idle();
    },
    sweepTtl: () => documents.sweepTtl(),
    logs: (name) => host.logs(fullFunctionName(ctx, name)),
    pid: (name) => host.pid(fullFunctionName(ctx, name)),
  };
  return { routes, runtime };
}

function fullFunctionName(ctx: SimContext, name: string): string {
  return name.includes('/') ? name : `projects/${ctx.projectId}/locations/${ctx.region}/functions/${name}`;
}
