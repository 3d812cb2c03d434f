import type { IncomingHttpHeaders } from 'node:http';

/** A parsed request as a route handler sees it. */
export interface SimRequest {
  readonly method: string;
  /** The raw (percent-encoded) path. */
  readonly path: string;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** The JSON body as an object (`{}` when there was none). */
  readonly body: Record<string, unknown>;
  readonly raw: Buffer;
  readonly headers: IncomingHttpHeaders;
}

/** What a handler answers: JSON, or raw bytes. */
export type SimReply =
  | { readonly status: number; readonly json: unknown; readonly headers?: Record<string, string> }
  | {
      readonly status: number;
      readonly bytes: Buffer;
      readonly contentType: string;
      readonly headers?: Record<string, string>;
    };

export type Handler = (req: SimRequest) => SimReply | Promise<SimReply>;

export interface Route {
  readonly method: string;
  readonly template: string;
  readonly pattern: RegExp;
  readonly keys: readonly string[];
  /** Name of the API for the request log and the quota buckets (`pubsub`, `functions`, …). */
  readonly api: string;
  readonly handle: Handler;
}

/**
 * A route for a Google path template: `{x}` is one segment (no `/` or `:`), `{x=**}` is any rest,
 * and a trailing `:verb` is a custom method, as in the APIs' HTTP rules.
 */
export function route(api: string, method: string, template: string, handle: Handler): Route {
  const keys: string[] = [];
  const source = template
    .split(/(\{[^}]+\})/)
    .map((part) => {
      const m = /^\{(\w+)(=\*\*)?\}$/.exec(part);
      if (!m) return part.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
      keys.push(m[1]!);
      return m[2] ? '(.*)' : '([^/:]+)';
    })
    .join('');
  return { method, template, pattern: new RegExp(`^${source}$`), keys, api, handle };
}

export function findRoute(
  routes: readonly Route[],
  method: string,
  path: string,
): { route: Route; params: Record<string, string> } | undefined {
  for (const r of routes) {
    if (r.method !== method && r.method !== '*') continue;
    const m = r.pattern.exec(path);
    if (!m) continue;
    const params: Record<string, string> = {};
    r.keys.forEach((k, i) => {
      params[k] = safeDecode(m[i + 1] ?? '');
    });
    return { route: r, params };
  }
  return undefined;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function ok(json: unknown): SimReply {
  return { status: 200, json };
}
