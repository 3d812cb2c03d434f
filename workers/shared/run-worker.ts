import { resolve } from 'node:path';
import { Miniflare } from 'miniflare';
import { bundleWorker } from '../../providers/cloudflare/kinds/worker-bundle.ts';

/** A Worker from `workers/<name>` running in workerd (miniflare), for that Worker's own tests. */
export interface RunningWorker {
  /** The Worker's own HTTP address on loopback, for callers outside the test (RocketChat's webhook). */
  readonly url: string;
  fetch(url: string, init?: RequestInit): Promise<Response>;
  scheduled(cron: string): Promise<string>;
  close(): Promise<void>;
}

interface Fetcher {
  fetch(url: string, init?: unknown): Promise<Response>;
  scheduled(options: { cron: string; scheduledTime: Date }): Promise<{ outcome: string }>;
}

/** Bundles the Worker exactly as keelson deploys it and starts it with the given bindings. */
export async function runWorker(name: string, bindings: Record<string, string>): Promise<RunningWorker> {
  const root = resolve(import.meta.dirname, '../..');
  const bundle = bundleWorker(root, `workers/${name}`, 'src/index.ts', name);
  const mf = new Miniflare({
    // Module paths are taken relative to modulesRoot; workerd refuses names that climb out of it.
    modulesRoot: '/',
    modules: [{ type: 'ESModule', path: '/index.js', contents: bundle.code }],
    compatibilityDate: '2024-09-23',
    bindings,
    host: '127.0.0.1',
    port: 0,
  });
  const url = (await mf.ready).toString().replace(/\/$/, '');
  const worker = (await mf.getWorker()) as unknown as Fetcher;
  return {
    url,
    async fetch(target, init) {
      const response = await worker.fetch(target, init);
      const body = await response.arrayBuffer();
      return new Response(body.byteLength === 0 ? null : body, {
        status: response.status,
        headers: Object.fromEntries(response.headers.entries()),
      });
    },
    async scheduled(cron) {
      return (await worker.scheduled({ cron, scheduledTime: new Date() })).outcome;
    },
    close: () => mf.dispose(),
  };
}
