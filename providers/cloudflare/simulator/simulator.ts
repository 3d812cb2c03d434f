import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { registerDnsApi } from './dns-api.ts';
import { fail, type SimResponse } from './envelope.ts';
import { registerR2Api } from './r2-api.ts';
import { Router } from './router.ts';
import { type SerializedCloudflareState, SimState } from './state.ts';

export type { SerializedCloudflareState } from './state.ts';

import { WorkerRuntime } from './worker-runtime.ts';
import { registerWorkersApi } from './workers-api.ts';
import { registerWranglerApi } from './wrangler-api.ts';

/** Options of `startCloudflareSimulator`. */
export interface CloudflareSimulatorOptions {
  /** The only token accepted. Default `sim-token`. */
  readonly token?: string;
  /** The account e-mail for Global API Key auth (`X-Auth-Email`). Default `sim@example.com`. */
  readonly email?: string;
  /** The Global API Key (`X-Auth-Key`). Default `sim-global-api-key`. */
  readonly globalKey?: string;
  /** Loopback port. Default: any free one. */
  readonly port?: number;
  /** Called after every answered write (POST, PUT, PATCH, DELETE) that succeeded: what `--state` uses. */
  readonly onChange?: () => void;
  /** The account id. Default a fixed 32-hex id. */
  readonly accountId?: string;
  /** Zones that exist from the start. Default `['example.com']`. */
  readonly zones?: readonly string[];
  /** Requests per window per token before 429s. Default 1200 (Cloudflare's). */
  readonly rateLimit?: number;
  /** Rate-limit window, ms. Default 300,000. */
  readonly rateWindowMs?: number;
  /** Keep request and response bodies in the log (for contract checks). Default false. */
  readonly recordBodies?: boolean;
}

/** One request the simulator answered. */
export interface RequestLogEntry {
  readonly method: string;
  /** Path below `/client/v4`. */
  readonly path: string;
  readonly query: string;
  readonly status: number;
  readonly requestBody?: unknown;
  readonly responseBody?: unknown;
  readonly contentType?: string;
}

/** A fault to inject: the next `times` requests matching `method` and `path` get this answer. */
export interface Fault {
  readonly method?: string;
  /** Substring or regular expression matched against the path below `/client/v4`. */
  readonly path: string | RegExp;
  readonly status: number;
  /** Cloudflare error code. Default 10000 (or 971 for a 429). */
  readonly code?: number;
  readonly message?: string;
  /** Sent as `retry-after` (seconds) when set. */
  readonly retryAfterSeconds?: number;
  /** How many requests it hits. Default 1. */
  times?: number;
}

/** A lost answer: the next `times` matching requests are handled (the work is done), then the connection is closed unanswered. */
export interface LostResponse {
  readonly method?: string;
  /** Substring or regular expression matched against the path below `/client/v4`. */
  readonly path: string | RegExp;
  /** How many requests it hits. Default 1. */
  times?: number;
}

/** A held request: the next matching one is never answered (a process killed while it waits). */
export interface HeldRequest {
  readonly method?: string;
  /** Substring or regular expression matched against the path below `/client/v4`. */
  readonly path: string | RegExp;
  /** Do the work first, then hold the answer (a kill after the vendor acted). Default false: not done. */
  readonly afterWork?: boolean;
}

const API_PREFIX = '/client/v4';
const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * A stateful Cloudflare API v4 on loopback: zones, DNS records, R2 buckets (+ lifecycle), Workers
 * scripts (+ settings, schedules) and routes, with the vendor's envelope, pagination, error codes and
 * rate limit; uploaded Workers run in workerd and answer `fetchRoute`.
 */
export class CloudflareSimulator {
  readonly state: SimState;
  readonly token: string;
  readonly email: string;
  readonly globalKey: string;
  /** `http://127.0.0.1:<port>/client/v4`: the base URL to give the SDK. */
  url = '';
  readonly requests: RequestLogEntry[] = [];
  readonly #server: Server;
  readonly #router = new Router();
  readonly #faults: Fault[] = [];
  readonly #lost: LostResponse[] = [];
  readonly #held: { readonly match: HeldRequest; readonly arrived: () => void }[] = [];
  readonly #runtime: WorkerRuntime;
  readonly #recordBodies: boolean;
  #rateLimit: number;
  #rateWindowMs: number;
  readonly #sent = new Map<string, number[]>();
  readonly #port: number;
  readonly #onChange: (() => void) | undefined;

  constructor(options: CloudflareSimulatorOptions = {}) {
    this.token = options.token ?? 'sim-token';
    this.email = options.email ?? 'sim@example.com';
    this.globalKey = options.globalKey ?? 'sim-global-api-key';
    this.#port = options.port ?? 0;
    this.#onChange = options.onChange;
    this.state = new SimState(options.accountId ?? '023e105f4ecef8ad9ca31a8372d0c353');
    for (const zone of options.zones ?? ['example.com']) this.state.addZone(zone);
    this.#rateLimit = options.rateLimit ?? 1200;
    this.#rateWindowMs = options.rateWindowMs ?? 300_000;
    this.#recordBodies = options.recordBodies ?? false;
    registerDnsApi(this.#router, this.state);
    registerR2Api(this.#router, this.state);
    registerWorkersApi(this.#router, this.state);
    registerWranglerApi(this.#router, this.state);
    this.#runtime = new WorkerRuntime(this.state);
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify(fail(500, 10000, `simulator error: ${(error as Error).message}`).body));
      });
    });
  }

  get accountId(): string {
    return this.state.accountId;
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#port, '127.0.0.1', () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    const { port } = this.#server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}${API_PREFIX}`;
    return this;
  }

  /** Environment for keelson's Cloudflare provider pointed at this simulator. */
  env(): Record<string, string> {
    return {
      CLOUDFLARE_API_TOKEN: this.token,
      CLOUDFLARE_ACCOUNT_ID: this.accountId,
      CLOUDFLARE_API_BASE_URL: this.url,
    };
  }

  serialize(): SerializedCloudflareState {
    return this.state.serialize();
  }

  restore(data: SerializedCloudflareState): void {
    this.state.restore(data);
  }

  addZone(name: string): string {
    return this.state.addZone(name).id;
  }

  /** Write calls (POST, PUT, PATCH, DELETE) answered so far, failed ones included. */
  writes(): number {
    return this.requests.filter((r) => WRITE_METHODS.has(r.method)).length;
  }

  injectFault(fault: Fault): void {
    this.#faults.push({ ...fault, times: fault.times ?? 1 });
  }

  /** Loses the answer of the next matching request after doing its work (`LostResponse`). */
  loseResponse(lost: LostResponse): void {
    this.#lost.push({ ...lost, times: lost.times ?? 1 });
  }

  /**
   * Holds the next matching request: it is never answered (and not done, unless `afterWork`), so
   * the client waits on it until it dies. Resolves when the request arrived (and, with `afterWork`,
   * was done): a test kills the client then, at a known point.
   */
  hold(match: HeldRequest): Promise<void> {
    return new Promise((arrived) => this.#held.push({ match, arrived }));
  }

  /** Changes the rate limit (e.g. a small budget to cause a 429 storm); clears what was spent. */
  setRateLimit(limit: number, windowMs: number): void {
    this.#rateLimit = limit;
    this.#rateWindowMs = windowMs;
    this.#sent.clear();
  }

  /** Puts an object key into a bucket (what a backup upload would do). */
  putObject(bucket: string, key: string, size = 1): void {
    const b = this.state.buckets.get(bucket);
    if (!b) throw new Error(`no bucket ${bucket} in the simulator`);
    b.objects.set(key, size);
  }

  /** Calls the deployed Worker whose route matches `url`, in workerd. */
  fetchRoute(url: string, init?: RequestInit): Promise<Response> {
    return this.#runtime.fetchRoute(url, init);
  }

  /** Runs a Worker's scheduled handler as its cron trigger would. */
  triggerCron(script: string, cron: string): Promise<{ outcome: string }> {
    return this.#runtime.triggerCron(script, cron);
  }

  async close(): Promise<void> {
    await this.#runtime.close();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    const path = url.pathname.startsWith(API_PREFIX) ? url.pathname.slice(API_PREFIX.length) : url.pathname;
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const contentType = String(req.headers['content-type'] ?? '');
    let json: unknown;
    let form: FormData | undefined;
    // The API parses a body that is not multipart as JSON whatever its content type says: wrangler
    // sends JSON as `text/plain;charset=UTF-8`.
    if (raw.length > 0 && !contentType.includes('multipart/form-data')) {
      try {
        json = JSON.parse(raw.toString('utf8'));
      } catch {
        json = undefined;
      }
    } else if (raw.length > 0 && contentType.includes('multipart/form-data')) {
      form = await new Request('http://sim/', {
        method: 'POST',
        headers: { 'content-type': contentType },
        body: raw,
      }).formData();
    }
    const held = this.#held.findIndex((h) => hits({ ...h.match, times: 1 }, method, path));
    const hold = held >= 0 ? this.#held.splice(held, 1)[0] : undefined;
    if (hold && !hold.match.afterWork) {
      hold.arrived();
      return;
    }
    const answer = await this.#answer(req, method, path, url.searchParams, json, form);
    if (hold) {
      if (WRITE_METHODS.has(method) && answer.status < 400) this.#onChange?.();
      hold.arrived();
      return;
    }
    const lost = answer.status < 400 ? this.#lost.find((l) => hits(l, method, path)) : undefined;
    this.requests.push({
      method,
      path,
      query: url.search,
      // 0: the answer was lost (the work was done).
      status: lost ? 0 : answer.status,
      ...(this.#recordBodies ? { requestBody: json, responseBody: answer.body, contentType } : {}),
    });
    if (WRITE_METHODS.has(method) && answer.status < 400) this.#onChange?.();
    if (lost) {
      // The work is done; the answer never arrives.
      lost.times = (lost.times ?? 1) - 1;
      req.socket.destroy();
      return;
    }
    const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
    res.writeHead(answer.status, {
      'content-type': typeof answer.body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
      ...(answer.headers ?? {}),
    });
    res.end(text);
  }

  async #answer(
    req: IncomingMessage,
    method: string,
    path: string,
    query: URLSearchParams,
    json: unknown,
    form: FormData | undefined,
  ): Promise<SimResponse> {
    const denied = this.#authenticate(req, path);
    if (denied) return denied;
    const limited = this.#spend(this.token);
    if (limited) return limited;
    const fault = this.#faults.find((f) => hits(f, method, path));
    if (fault) {
      fault.times = (fault.times ?? 1) - 1;
      const headers: Record<string, string> =
        fault.retryAfterSeconds === undefined ? {} : { 'retry-after': String(fault.retryAfterSeconds) };
      return fail(
        fault.status,
        fault.code ?? (fault.status === 429 ? 971 : 10000),
        fault.message ?? 'Injected fault',
        headers,
      );
    }
    if (method === 'GET' && path === '/user/tokens/verify') {
      return {
        status: 200,
        body: {
          success: true,
          errors: [],
          messages: [{ code: 10000, message: 'This API Token is valid and active' }],
          result: { id: 'sim-token-id', status: 'active' },
        },
      };
    }
    const match = this.#router.match(method, path);
    if (match === undefined) {
      // As the API answers a path it does not route: 7003 naming the path, then 7000.
      return {
        status: 404,
        body: {
          success: false,
          errors: [
            { code: 7003, message: `Could not route to ${path}, perhaps your object identifier is invalid?` },
            { code: 7000, message: 'No route for that URI' },
          ],
          messages: [],
          result: null,
        },
      };
    }
    if (match === 'method') return fail(405, 10405, `Method ${method} not allowed for ${path}`);
    return match.endpoint({ method, path, params: match.params, query, json, form });
  }

  /**
   * Cloudflare takes an API token (`Authorization: Bearer`) or the account's Global API Key
   * (`X-Auth-Email` + `X-Auth-Key`); each refused with the vendor's codes.
   */
  #authenticate(req: IncomingMessage, path: string): SimResponse | undefined {
    const authorization = req.headers.authorization;
    const email = req.headers['x-auth-email'];
    const key = req.headers['x-auth-key'];
    if (authorization !== undefined) {
      if (!/^Bearer \S+$/.test(authorization)) {
        return fail(400, 6003, 'Invalid request headers', undefined, [
          { code: 6111, message: 'Invalid format for Authorization header' },
        ]);
      }
      if (authorization === `Bearer ${this.token}`) return undefined;
      return path === '/user/tokens/verify'
        ? fail(401, 1000, 'Invalid API Token')
        : fail(403, 10000, 'Authentication error');
    }
    if (key !== undefined || email !== undefined) {
      if (email === undefined) return fail(400, 9106, 'Missing X-Auth-Email header');
      if (key === undefined) return fail(400, 9107, 'Missing X-Auth-Key header');
      if (email === this.email && key === this.globalKey) return undefined;
      return fail(403, 9103, 'Unknown X-Auth-Key or X-Auth-Email');
    }
    return fail(400, 10000, 'Authentication error');
  }

  /** Sliding-window budget per token; past it, 429 with `retry-after` until the oldest request leaves. */
  #spend(token: string): SimResponse | undefined {
    const at = Date.now();
    const sent = (this.#sent.get(token) ?? []).filter((t) => t > at - this.#rateWindowMs);
    this.#sent.set(token, sent);
    if (sent.length >= this.#rateLimit) {
      const waitMs = (sent[0] as number) + this.#rateWindowMs - at;
      return fail(429, 971, 'Please wait and consider throttling your request speed', {
        'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))),
      });
    }
    sent.push(at);
    return undefined;
  }
}

/** Starts a simulator on a free loopback port. Close it with `close()`. */
export async function startCloudflareSimulator(options: CloudflareSimulatorOptions = {}): Promise<CloudflareSimulator> {
  return new CloudflareSimulator(options).listen();
}

function hits(rule: { method?: string; path: string | RegExp; times?: number }, method: string, path: string): boolean {
  return (
    (rule.times ?? 0) > 0 &&
    (rule.method === undefined || rule.method === method) &&
    (typeof rule.path === 'string' ? path.includes(rule.path) : rule.path.test(path))
  );
}
