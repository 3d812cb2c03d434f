import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiFault } from './api-fault.ts';
import { FaultInjector } from './faults.ts';
import { type RateLimitOptions, SimulatedRateLimit } from './rate-limit.ts';
import { findRoute, type Route } from './router.ts';
import { catalogRoutes } from './routes-catalog.ts';
import { firewallRoutes } from './routes-firewalls.ts';
import { networkRoutes } from './routes-networks.ts';
import { serverRoutes } from './routes-servers.ts';
import { smallRoutes } from './routes-small.ts';
import { volumeRoutes } from './routes-volumes.ts';
import { SimulatorState } from './state.ts';

/** Options of the Hetzner Cloud API simulator. */
export interface HetznerSimulatorOptions {
  /** How long actions run before they end (ms, default 20). */
  readonly actionDurationMs?: number;
  /** Per-project rate budget (default 3600 requests, refilled at 1/s). */
  readonly rateLimit?: RateLimitOptions;
  /** When set, requests must carry `Authorization: Bearer <token>` (default: any token is accepted). */
  readonly token?: string;
  /** Port to listen on (default 0: any free port). Always loopback. */
  readonly port?: number;
  /** Called with every answered request and its bodies (for the contract check against the vendor's spec). */
  readonly onExchange?: (exchange: Exchange) => void;
}

/** One request and the simulator's answer, with parsed bodies. */
export interface Exchange {
  readonly method: string;
  readonly path: string;
  readonly requestBody: unknown;
  readonly status: number;
  readonly responseBody: unknown;
}

/** One request the simulator received. */
export interface LoggedRequest {
  readonly method: string;
  /** Path without query, e.g. `/v1/servers`. */
  readonly path: string;
  readonly query: string;
  readonly status: number;
}

export interface HetznerSimulator {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** `http://127.0.0.1:PORT/v1`: what `HCLOUD_ENDPOINT` and Ansible's `api_endpoint` take. */
  readonly endpoint: string;
  readonly state: SimulatorState;
  readonly faults: FaultInjector;
  readonly rateLimit: SimulatedRateLimit;
  /** Every request, oldest first (429s and injected faults included). */
  readonly requests: LoggedRequest[];
  /** Requests that were not GET (POST, PUT, DELETE). */
  writes(): number;
  close(): Promise<void>;
}

const routes: readonly Route[] = [
  ...catalogRoutes,
  ...serverRoutes,
  ...networkRoutes,
  ...firewallRoutes,
  ...smallRoutes,
  ...volumeRoutes,
];

/** Starts a stateful Hetzner Cloud API on loopback. */
export async function startHetznerSimulator(options: HetznerSimulatorOptions = {}): Promise<HetznerSimulator> {
  const faults = new FaultInjector();
  const state = new SimulatorState(options.actionDurationMs ?? 20, faults);
  const rateLimit = new SimulatedRateLimit(options.rateLimit);
  const requests: LoggedRequest[] = [];

  const server = createServer((req, res) => {
    void handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, new ApiFault(500, 'server_error', String(e)).toBody());
    });
  });

  const pending = new WeakMap<ServerResponse, { method: string; path: string; requestBody: unknown }>();
  function send(res: ServerResponse, status: number, body: unknown): void {
    const current = pending.get(res);
    if (current && options.onExchange) options.onExchange({ ...current, status, responseBody: body });
    const headers: Record<string, string> = { ...rateLimit.headers() };
    if (body === undefined) {
      res.writeHead(status, headers);
      res.end();
      return;
    }
    const text = JSON.stringify(body);
    headers['Content-Type'] = 'application/json';
    res.writeHead(status, headers);
    res.end(text);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = (req.method ?? 'GET').toUpperCase();
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    pending.set(res, { method, path: url.pathname, requestBody: text === '' ? undefined : safeParse(text) });
    const log = (status: number) => requests.push({ method, path: url.pathname, query: url.search, status });

    const fault = faults.takeRequestFault(method, url.pathname);
    if (fault?.type === 'drop') {
      log(0);
      req.socket.destroy();
      return;
    }
    if (fault?.type === 'delay') await new Promise((r) => setTimeout(r, fault.ms));
    if (fault?.type === 'status') {
      log(fault.status);
      send(
        res,
        fault.status,
        new ApiFault(fault.status, 'unavailable', 'injected fault: service unavailable').toBody(),
      );
      return;
    }
    if (options.token !== undefined && req.headers.authorization !== `Bearer ${options.token}`) {
      log(401);
      send(res, 401, new ApiFault(401, 'unauthorized', 'unable to authenticate').toBody());
      return;
    }
    if (!rateLimit.take()) {
      log(429);
      send(res, 429, new ApiFault(429, 'rate_limit_exceeded', 'limit of requests per hour reached').toBody());
      return;
    }
    if (!url.pathname.startsWith('/v1/')) {
      log(404);
      send(res, 404, new ApiFault(404, 'not_found', `no such endpoint ${url.pathname}`).toBody());
      return;
    }
    const found = findRoute(routes, method, url.pathname.slice(3));
    if (!found) {
      log(404);
      send(res, 404, new ApiFault(404, 'not_found', `no such endpoint ${method} ${url.pathname}`).toBody());
      return;
    }
    let body: Record<string, unknown> = {};
    if (chunks.length > 0) {
      try {
        const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed))
          body = parsed as Record<string, unknown>;
      } catch {
        log(400);
        send(res, 400, new ApiFault(400, 'json_error', 'request body is not valid JSON').toBody());
        return;
      }
    }
    try {
      const result = found.route.handle({ params: found.params, query: url.searchParams, body }, state);
      if (fault?.type === 'drop-after') {
        // The vendor did the work; its answer never arrives.
        log(0);
        req.socket.destroy();
        return;
      }
      log(result.status);
      send(res, result.status, result.body);
    } catch (e) {
      const fault = e instanceof ApiFault ? e : new ApiFault(500, 'server_error', (e as Error).message);
      log(fault.status);
      send(res, fault.status, fault.toBody());
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    endpoint: `${url}/v1`,
    state,
    faults,
    rateLimit,
    requests,
    writes: () => requests.filter((r) => r.method !== 'GET').length,
    close: async () => {
      state.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
