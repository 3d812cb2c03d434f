import { Miniflare, type WorkerOptions } from 'miniflare';
import type { SimState } from './state.ts';

/** The part of miniflare's Fetcher used here (its own types need the Workers type package). */
interface WorkerFetcher {
  fetch(url: string, init?: unknown): Promise<Response>;
  scheduled(options: { cron: string; scheduledTime: Date }): Promise<{ outcome: string }>;
}

/** True when a Workers route pattern (`host/path*`, `*.host/*`) matches a URL. */
export function routeMatches(pattern: string, url: URL): boolean {
  const target = `${url.host}${url.pathname}`;
  const stripped = pattern.replace(/^https?:\/\//, '');
  const source = stripped
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`).test(target);
}

/**
 * Runs the uploaded Worker scripts in the real Workers runtime (workerd, through miniflare), with
 * their plain-text and secret bindings, R2 buckets (miniflare's local R2) and service bindings.
 * Reloaded lazily when scripts or routes changed since the last request.
 */
export class WorkerRuntime {
  readonly #state: SimState;
  #mf: Miniflare | undefined;
  #loadedVersion = -1;
  #loading: Promise<Miniflare> | undefined;

  constructor(state: SimState) {
    this.#state = state;
  }

  async #ready(): Promise<Miniflare> {
    if (this.#mf && this.#loadedVersion === this.#state.workersVersion) return this.#mf;
    if (this.#loading) return this.#loading;
    this.#loading = this.#load().finally(() => {
      this.#loading = undefined;
    });
    return this.#loading;
  }

  async #load(): Promise<Miniflare> {
    const version = this.#state.workersVersion;
    const workers: WorkerOptions[] = [...this.#state.scripts.values()].map((script) => {
      const bindings: Record<string, string> = {};
      const r2Buckets: Record<string, string> = {};
      const serviceBindings: Record<string, string> = {};
      for (const b of script.bindings) {
        if (b.type === 'plain_text' || b.type === 'secret_text') bindings[b.name] = b.text ?? '';
        else if (b.type === 'r2_bucket') r2Buckets[b.name] = b.bucket_name ?? '';
        else if (b.type === 'service') serviceBindings[b.name] = b.service ?? '';
      }
      const modules = script.modules
        .filter((m) => !m.name.endsWith('.map'))
        .map((m) => ({ type: 'ESModule' as const, path: `/${script.id}/${m.name}`, contents: m.content }));
      // The main module goes first: miniflare takes the first module as the entry point.
      modules.sort(
        (a, b) => Number(b.path.endsWith(`/${script.main_module}`)) - Number(a.path.endsWith(`/${script.main_module}`)),
      );
      return {
        name: script.id,
        // Module paths are taken relative to modulesRoot; workerd refuses names that climb out of it.
        modulesRoot: '/',
        modules,
        compatibilityDate: script.compatibility_date,
        compatibilityFlags: script.compatibility_flags,
        bindings,
        r2Buckets,
        serviceBindings,
      };
    });
    if (workers.length === 0) throw new Error('no Worker script has been uploaded to the simulator');
    if (this.#mf) await this.#mf.setOptions({ workers });
    else this.#mf = new Miniflare({ workers });
    await this.#mf.ready;
    this.#loadedVersion = version;
    return this.#mf;
  }

  /** Sends a request to the Worker whose route (or enabled `workers.dev` name) matches `url`; 404 when none does. */
  async fetchRoute(url: string, init?: RequestInit): Promise<Response> {
    const parsed = new URL(url);
    const route = [...this.#state.routes.values()]
      .filter((r) => routeMatches(r.pattern, parsed))
      // The most specific (longest) pattern wins, as at Cloudflare.
      .sort((a, b) => b.pattern.length - a.pattern.length)[0];
    // `<script>.<account subdomain>.workers.dev` reaches a script whose workers.dev subdomain is enabled.
    const dev = parsed.hostname.endsWith(`.${this.#state.workersSubdomain}.workers.dev`)
      ? this.#state.scripts.get(parsed.hostname.split('.')[0] ?? '')
      : undefined;
    const target = dev?.subdomain?.enabled ? dev.id : route?.script;
    if (target === undefined || !this.#state.scripts.has(target)) {
      return new Response(`no Worker route matches ${parsed.host}${parsed.pathname}`, { status: 404 });
    }
    const mf = await this.#ready();
    const worker = (await mf.getWorker(target)) as unknown as WorkerFetcher;
    const response = await worker.fetch(url, init);
    // Copy into a Node Response so callers can use it after the runtime reloads.
    const body = await response.arrayBuffer();
    return new Response(body.byteLength === 0 ? null : body, {
      status: response.status,
      headers: Object.fromEntries(response.headers.entries()),
    });
  }

  /** Runs a script's `scheduled` handler once, as a cron trigger would. */
  async triggerCron(script: string, cron: string): Promise<{ outcome: string }> {
    const mf = await this.#ready();
    const worker = (await mf.getWorker(script)) as unknown as WorkerFetcher;
    const result = await worker.scheduled({ cron, scheduledTime: new Date() });
    return { outcome: result.outcome };
  }

  async close(): Promise<void> {
    const mf = this.#mf;
    this.#mf = undefined;
    if (mf) await mf.dispose();
  }
}
