import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { KeelsonMetrics } from './metrics.ts';

/** Where a provider's API lives: an origin (`https://api.hetzner.cloud`) or a unix socket (the Docker Engine). */
export interface ProviderRoute {
  readonly provider: string;
  readonly origin?: string;
  readonly socketPath?: string;
}

/**
 * The API addresses of the built-in providers, from the same variables the providers read.
 * Requests elsewhere (git, alert channels) are not counted as provider requests.
 */
export function providerRoutes(env: Readonly<Record<string, string | undefined>>): ProviderRoute[] {
  const origin = (url: string | undefined, fallback: string) => {
    try {
      return new URL(url ?? fallback).origin;
    } catch {
      return new URL(fallback).origin;
    }
  };
  const routes: ProviderRoute[] = [
    { provider: 'hetzner', origin: origin(env.HCLOUD_ENDPOINT, 'https://api.hetzner.cloud') },
    { provider: 'cloudflare', origin: origin(env.CLOUDFLARE_API_BASE_URL, 'https://api.cloudflare.com') },
  ];
  const docker = env.DOCKER_HOST;
  if (!docker || docker.startsWith('unix://'))
    routes.push({ provider: 'swarm', socketPath: docker ? docker.slice(7) : '/var/run/docker.sock' });
  else routes.push({ provider: 'swarm', origin: origin(docker.replace(/^tcp:/, 'http:'), 'http://localhost:2375') });
  return routes;
}

interface UndiciRequest {
  readonly origin?: string;
}
interface HttpRequest {
  readonly host?: string;
  readonly socketPath?: string;
}

/**
 * Counts provider API requests by status code and times them, without touching the providers:
 * Node publishes every `fetch` (undici) and `http` client request on diagnostics channels, and
 * the request's origin or socket tells which provider made it. Returns the function that stops it.
 */
export function instrumentProviderRequests(metrics: KeelsonMetrics, routes: readonly ProviderRoute[]): () => void {
  const started = new WeakMap<object, { provider: string; at: number }>();
  const byOrigin = new Map(routes.filter((r) => r.origin).map((r) => [r.origin as string, r.provider]));
  const bySocket = new Map(routes.filter((r) => r.socketPath).map((r) => [r.socketPath as string, r.provider]));
  const record = (request: object, status: number) => {
    const s = started.get(request);
    if (!s) return;
    started.delete(request);
    metrics.apiRequests.inc({ provider: s.provider, status: String(status) });
    metrics.requestDuration.observe({ provider: s.provider }, (performance.now() - s.at) / 1000);
  };
  const handlers: [string, (message: unknown) => void][] = [
    [
      'undici:request:create',
      (m) => {
        const { request } = m as { request: UndiciRequest };
        const provider = request.origin ? byOrigin.get(request.origin) : undefined;
        if (provider) started.set(request, { provider, at: performance.now() });
      },
    ],
    [
      'undici:request:headers',
      (m) =>
        record((m as { request: object }).request, (m as { response: { statusCode: number } }).response.statusCode),
    ],
    ['undici:request:error', (m) => record((m as { request: object }).request, 0)],
    [
      'http.client.request.start',
      (m) => {
        const { request } = m as { request: HttpRequest };
        const provider = request.socketPath ? bySocket.get(request.socketPath) : undefined;
        if (provider) started.set(request, { provider, at: performance.now() });
      },
    ],
    [
      'http.client.response.finish',
      (m) =>
        record(
          (m as { request: object }).request,
          (m as { response: { statusCode?: number } }).response.statusCode ?? 0,
        ),
    ],
    ['http.client.request.error', (m) => record((m as { request: object }).request, 0)],
  ];
  for (const [name, fn] of handlers) subscribe(name, fn);
  return () => {
    for (const [name, fn] of handlers) unsubscribe(name, fn);
  };
}
