import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiError } from './api-error.ts';
import { type FakeClock, realClock, type SimClock } from './clock.ts';
import type { SimContext, SimLog } from './context.ts';
import { type FaultRule, Faults, faultError } from './faults.ts';
import { OidcSigner } from './oidc.ts';
import { Operations, type OperationTiming } from './operations.ts';
import { PubSubBroker } from './pubsub-broker.ts';
import { findRoute, type SimReply } from './router.ts';
import { apiOfPath, buildRoutes, type Runtime } from './routes.ts';
import { GcpState } from './state.ts';

/** Options of {@link startGcpSimulator}. */
export interface GcpSimulatorOptions {
  /** Port on 127.0.0.1 (default 0: any free port). */
  readonly port?: number;
  /** A JSON file: state is loaded from it on start and saved to it (atomically) after each change. */
  readonly statePath?: string;
  /** Default `keelson-demo`. */
  readonly projectId?: string;
  /** Default `europe-west3`. */
  readonly region?: string;
  /** The simulator's time (default: real time). Tests pass a {@link FakeClock} and advance it. */
  readonly clock?: SimClock;
  /** Start deployed functions in the Functions Framework (default true). */
  readonly runFunctions?: boolean;
  readonly log?: SimLog;
  /** The bearer token clients must send (default a fixed simulator token). */
  readonly accessToken?: string;
  /** When long-running operations finish (default: on the second poll, or after 2 s of clock time). */
  readonly operations?: OperationTiming;
  /** Whether the `(default)` Firestore database exists from the start (default true). */
  readonly firestoreDefaultDatabase?: boolean;
  /** Queries that need a composite index fail unless a READY one exists, as on GCP (default true). */
  readonly requireFirestoreIndexes?: boolean;
  /**
   * Answer `403 PERMISSION_DENIED` (reason `SERVICE_DISABLED`) for an API whose service is not
   * enabled in Service Usage, as GCP does (default false: every API answers).
   */
  readonly requireEnabledApis?: boolean;
  /** Requests per minute per API before 429 RESOURCE_EXHAUSTED (default 6000; wall-clock minutes). */
  readonly requestsPerMinute?: number;
  /** Called with each answered API request and its bodies (for contract checks). */
  readonly onExchange?: (exchange: Exchange) => void;
}

/** One API request and the simulator's answer. */
export interface Exchange {
  readonly api: string;
  readonly method: string;
  readonly path: string;
  /** The route's template, e.g. `/v1/projects/{project}/topics/{topic}`. */
  readonly template: string;
  readonly requestBody: unknown;
  readonly status: number;
  readonly responseBody: unknown;
}

/** One request the simulator received. */
export interface LoggedRequest {
  readonly api: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
}

/** A running simulator. */
export interface GcpSimulator {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly projectId: string;
  /** The project number (Secret Manager and Service Usage answer with it in names, as GCP does). */
  readonly projectNumber: string;
  readonly region: string;
  /** What a client needs: `GCP_PROJECT_ID`, `GCP_REGION`, `GCP_API_ENDPOINT`, `GCP_ACCESS_TOKEN`, `GCP_OIDC_JWKS_URL`. */
  readonly env: Readonly<Record<string, string>>;
  readonly faults: Faults;
  readonly clock: SimClock;
  readonly state: GcpState;
  /** Every request, oldest first (the newest 200,000). */
  readonly requests: LoggedRequest[];
  /** Requests that changed something (not GET), answered with any status. */
  writes(): number;
  /** Advances a {@link FakeClock} (firing due Scheduler jobs, redeliveries, operations), then waits for deliveries. */
  advance(ms: number): Promise<void>;
  /** Fires every ENABLED Scheduler job whose time has come on the clock, and waits for their requests. */
  fireDueJobs(): Promise<void>;
  /** Deletes the documents whose TTL has passed now (the simulator also does so every clock hour); answers how many. */
  sweepTtl(): Promise<number>;
  /** Finishes every running long-running operation now. */
  settleOperations(): Promise<void>;
  /** Resolves when no push, event or Scheduler request is on the wire. */
  idle(): Promise<void>;
  /** Output lines of a deployed function's process (`projects/P/locations/L/functions/F` or just `F`). */
  functionLogs(name: string): string[];
  /** The process id of a running function's instance (a test may kill it; the simulator starts another). */
  functionPid(name: string): number | undefined;
  /** A verifiable ID token signed by the simulator (as Google would mint for `email`). */
  idToken(email: string, audience: string): Promise<string>;
  close(): Promise<void>;
}

const DEFAULT_TOKEN = 'gcp-sim-access-token';
/** The request log keeps the newest entries only (a long `keelson simulate` run must not grow without end). */
const MAX_LOGGED = 200_000;

/** The Service Usage name of each simulated API (Service Usage itself is always on). */
const serviceOfApi: Record<string, string> = {
  pubsub: 'pubsub.googleapis.com',
  scheduler: 'cloudscheduler.googleapis.com',
  functions: 'cloudfunctions.googleapis.com',
  run: 'run.googleapis.com',
  secretmanager: 'secretmanager.googleapis.com',
  firestore: 'firestore.googleapis.com',
  iam: 'iam.googleapis.com',
  cloudresourcemanager: 'cloudresourcemanager.googleapis.com',
};

/** Starts the Google Cloud simulator on loopback: one port, routed by path. */
export async function startGcpSimulator(options: GcpSimulatorOptions = {}): Promise<GcpSimulator> {
  const projectId = options.projectId ?? 'keelson-demo';
  const region = options.region ?? 'europe-west3';
  const clock = options.clock ?? realClock;
  const log = options.log ?? { info: () => {}, warn: () => {} };
  const state = new GcpState(options.statePath);
  const accessToken = options.accessToken ?? DEFAULT_TOKEN;
  const projectNumber = String(
    100_000_000_000 + (createHash('sha256').update(projectId).digest().readUInt32BE(0) % 800_000_000_000),
  );
  const ctx: SimContext = {
    state,
    clock,
    projectId,
    projectNumber,
    region,
    log,
    url: '',
    accessToken,
    timestamp: () => new Date(clock.now()).toISOString(),
  };
  const signer = await OidcSigner.load(state);
  const operations = new Operations(ctx, options.operations);
  const faults = new Faults();
  const requests: LoggedRequest[] = [];
  const quota = new Map<string, { windowStart: number; count: number }>();
  const perMinute = options.requestsPerMinute ?? 6000;

  let runtime: Runtime;
  const broker = new PubSubBroker(ctx, signer, (r) => runtime.send(r));
  const built = buildRoutes(ctx, {
    operations,
    broker,
    signer,
    runFunctions: options.runFunctions ?? true,
    firestoreDefaultDatabase: options.firestoreDefaultDatabase ?? true,
    requireFirestoreIndexes: options.requireFirestoreIndexes ?? true,
  });
  runtime = built.runtime;
  const routes = built.routes;

  const server = createServer((req, res) => {
    void handle(req, res).catch((e: unknown) => {
      log.warn({ error: String(e) }, 'gcp simulator: request failed');
      if (!res.headersSent) reply(res, { status: 500, json: new ApiError('INTERNAL', String(e)).toBody() });
    });
  });

  function reply(res: ServerResponse, r: SimReply): void {
    if ('json' in r) {
      res.writeHead(r.status, { 'content-type': 'application/json; charset=UTF-8', ...r.headers });
      res.end(JSON.stringify(r.json));
    } else {
      res.writeHead(r.status, { 'content-type': r.contentType, ...r.headers });
      res.end(r.bytes);
    }
  }

  /** A request rate is wall-clock even under a fake clock (a test that never moves time must not run dry). */
  function takeQuota(api: string): boolean {
    const now = Date.now();
    const q = quota.get(api);
    if (!q || now - q.windowStart >= 60_000) {
      quota.set(api, { windowStart: now, count: 1 });
      return true;
    }
    q.count += 1;
    return q.count <= perMinute;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = (req.method ?? 'GET').toUpperCase();
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const path = url.pathname;

    // Paths that are not Google APIs: the token keys, function URLs, upload URLs.
    const passthrough = await runtime.handleOther(method, path, url, req, raw);
    if (passthrough) {
      reply(res, passthrough);
      return;
    }

    const found = findRoute(routes, method, path);
    const api = found?.route.api ?? apiOfPath(path);
    let requestBody: unknown;
    const finish = (r: SimReply, dropped = false) => {
      requests.push({ api, method, path, status: dropped ? 0 : r.status });
      if (requests.length > MAX_LOGGED) requests.splice(0, requests.length - MAX_LOGGED);
      if (options.onExchange && found && 'json' in r && !dropped)
        options.onExchange({
          api,
          method,
          path,
          template: found.route.template,
          requestBody,
          status: r.status,
          // What went over the wire (JSON drops undefined members).
          responseBody: JSON.parse(JSON.stringify(r.json)) as unknown,
        });
      if (dropped) {
        res.socket?.destroy();
        return;
      }
      reply(res, r);
    };
    const fail = (e: ApiError) => finish({ status: e.httpStatus, json: e.toBody(), headers: { ...e.headers } });

    const auth = req.headers.authorization ?? '';
    if (!acceptToken(auth, accessToken)) {
      const missing = auth === '';
      fail(
        new ApiError(
          'UNAUTHENTICATED',
          missing
            ? 'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.'
            : 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.',
          [
            {
              '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
              reason: missing ? 'CREDENTIALS_MISSING' : 'ACCESS_TOKEN_TYPE_UNSUPPORTED',
              domain: 'googleapis.com',
            },
          ],
          { 'www-authenticate': 'Bearer realm="https://accounts.google.com/"' },
        ),
      );
      return;
    }
    const fault = faults.take(method, path, api);
    if (fault?.type === 'status') {
      fail(faultError(fault));
      return;
    }
    const service = serviceOfApi[apiOfPath(path)];
    if (
      options.requireEnabledApis &&
      service &&
      found?.route.api !== 'operations' &&
      state.data.services[service] !== 'ENABLED'
    ) {
      fail(
        new ApiError(
          'PERMISSION_DENIED',
          `${service} has not been used in project ${projectNumber} before or it is disabled. Enable it by visiting https://console.developers.google.com/apis/api/${service}/overview?project=${projectNumber} then retry.`,
          [
            {
              '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
              reason: 'SERVICE_DISABLED',
              domain: 'googleapis.com',
              metadata: { service, consumer: `projects/${projectNumber}` },
            },
          ],
        ),
      );
      return;
    }
    if (!takeQuota(api)) {
      fail(
        new ApiError(
          'RESOURCE_EXHAUSTED',
          `Quota exceeded for quota metric 'Requests' of service '${api}.googleapis.com'`,
          [
            {
              '@type': 'type.googleapis.com/google.rpc.RetryInfo',
              retryDelay: `${Math.ceil((60_000 - (Date.now() - (quota.get(api)?.windowStart ?? 0))) / 1000)}s`,
            },
          ],
        ),
      );
      return;
    }
    if (!found) {
      fail(new ApiError('NOT_FOUND', `The simulator has no method ${method} ${path}`));
      return;
    }
    let body: Record<string, unknown> = {};
    if (raw.length > 0 && (req.headers['content-type'] ?? 'application/json').includes('json')) {
      try {
        const parsed: unknown = JSON.parse(raw.toString('utf8'));
        if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed))
          body = parsed as Record<string, unknown>;
      } catch {
        fail(new ApiError('INVALID_ARGUMENT', 'Invalid JSON payload received. The request body is not valid JSON.'));
        return;
      }
    }
    requestBody = raw.length > 0 ? body : undefined;
    try {
      const r = await found.route.handle({
        method,
        path,
        params: found.params,
        query: url.searchParams,
        body,
        raw,
        headers: req.headers,
      });
      if (method !== 'GET') state.changed();
      finish(r, fault?.type === 'drop-response');
    } catch (e) {
      if (e instanceof ApiError) fail(e);
      else {
        log.warn({ error: String(e), method, path }, 'gcp simulator: handler error');
        fail(new ApiError('INTERNAL', (e as Error).message));
      }
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  ctx.url = `http://127.0.0.1:${port}`;
  operations.resume();
  broker.resume();
  await runtime.start();

  const idle = async () => {
    for (let i = 0; i < 100; i++) {
      await broker.idle();
      await runtime.idle();
      await new Promise<void>((r) => setImmediate(r));
      if (runtime.busy() === 0) {
        await broker.idle();
        if (runtime.busy() === 0) return;
      }
    }
  };

  const fake = clock as Partial<FakeClock>;
  const removeSettler = typeof fake.addSettler === 'function' ? fake.addSettler(idle) : undefined;

  return {
    url: ctx.url,
    projectId,
    projectNumber,
    region,
    env: {
      GCP_PROJECT_ID: projectId,
      GCP_REGION: region,
      GCP_API_ENDPOINT: ctx.url,
      GCP_ACCESS_TOKEN: accessToken,
      GCP_OIDC_JWKS_URL: `${ctx.url}/oauth2/v3/certs`,
    },
    faults,
    clock,
    state,
    requests,
    writes: () => requests.filter((r) => r.method !== 'GET').length,
    async advance(ms: number) {
      const fake = clock as Partial<FakeClock>;
      if (typeof fake.advance !== 'function') throw new TypeError('advance() needs a FakeClock (pass options.clock)');
      await idle();
      await fake.advance(ms);
      await idle();
    },
    async fireDueJobs() {
      await runtime.fireDueJobs();
      await idle();
    },
    settleOperations: () => operations.settle(),
    async sweepTtl() {
      const n = runtime.sweepTtl();
      await idle();
      return n;
    },
    idle,
    functionLogs: (name: string) => runtime.logs(name),
    functionPid: (name: string) => runtime.pid(name),
    idToken: (email, audience) => signer.idToken(email, audience),
    async close() {
      removeSettler?.();
      operations.stop();
      broker.close();
      await runtime.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      state.flush();
    },
  };
}

/** The simulator's own token, or a self-signed service-account JWT (what a key-file client sends). */
function acceptToken(header: string, accessToken: string): boolean {
  const m = /^Bearer (.+)$/.exec(header);
  if (!m) return false;
  const token = m[1]!;
  if (token === accessToken) return true;
  const parts = token.split('.');
  if (parts.length !== 3) return false;
  try {
    const payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as { iss?: string };
    return typeof payload.iss === 'string' && payload.iss.endsWith('.iam.gserviceaccount.com');
  } catch {
    return false;
  }
}

export type { FaultRule };
