import type { SimResponse } from './envelope.ts';

/** A parsed request as the simulator's endpoint functions see it. */
export interface SimRequest {
  readonly method: string;
  /** Path below the API base, e.g. `/zones/abc/dns_records`. */
  readonly path: string;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** Parsed JSON body, if the request had one. */
  readonly json: unknown;
  /** Parsed multipart body, if the request had one. */
  readonly form: FormData | undefined;
}

export type Endpoint = (request: SimRequest) => SimResponse | Promise<SimResponse>;

interface Route {
  readonly method: string;
  readonly pattern: RegExp;
  readonly names: readonly string[];
  readonly endpoint: Endpoint;
}

/** Method + path-template routing (`/zones/:zone/dns_records/:id`). */
export class Router {
  readonly #routes: Route[] = [];

  on(method: string, template: string, endpoint: Endpoint): this {
    const names: string[] = [];
    const source = template.replace(/:([a-zA-Z_]+)/g, (_m, name: string) => {
      names.push(name);
      return '([^/]+)';
    });
    this.#routes.push({ method, pattern: new RegExp(`^${source}/?$`), names, endpoint });
    return this;
  }

  match(method: string, path: string): { endpoint: Endpoint; params: Record<string, string> } | 'method' | undefined {
    let pathMatched = false;
    for (const route of this.#routes) {
      const m = route.pattern.exec(path);
      if (!m) continue;
      pathMatched = true;
      if (route.method !== method) continue;
      const params: Record<string, string> = {};
      route.names.forEach((name, i) => {
        params[name] = decodeURIComponent(m[i + 1] as string);
      });
      return { endpoint: route.endpoint, params };
    }
    return pathMatched ? 'method' : undefined;
  }
}
