/**
 * The HTTP surface under a flood: 1,000 concurrent clients ask for `/metrics` (and `/status`)
 * over and over while a probe asks `/healthz` and the daemon keeps running passes. Prints the
 * probe's latency (p50, p99, max), the flood's throughput, and how long passes took during the
 * flood against before it. Loopback only; bounded in requests; asserts nothing.
 */

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {
  KindSchema,
  ObservedResource,
  ProviderKind,
  ProviderModule,
  ResourceHandler,
} from '../providers/sdk/index.ts';
import { Daemon } from '../reconciler/app/daemon.ts';
import { loadConfig } from '../reconciler/config/load-config.ts';
import { createLogger } from '../reconciler/observability/logger.ts';

const KINDS = 40;
const PER_KIND = 10;
const CLIENTS = 1000;
const REQUESTS_PER_CLIENT = 4;

/** Providers whose world already matches: passes are no-ops, but every kind has metric series. */
function convergedModule(): ProviderModule {
  const schemas: KindSchema[] = [];
  const kinds: ProviderKind[] = [];
  for (let k = 0; k < KINDS; k++) {
    const kind = `bench.Thing${k}`;
    const schema: KindSchema = { kind, description: 'bench', spec: { size: { type: 'integer', default: 1 } } };
    const handler: ResourceHandler = {
      async observe(_ctx, query) {
        return query.names.map(
          (name): ObservedResource => ({
            key: `${kind}/${name}`,
            kind,
            name,
            id: name,
            owned: true,
            spec: { size: 1 },
            outputs: {},
            ready: true,
          }),
        );
      },
      async create() {
        throw new Error('converged: nothing to create');
      },
      async update() {
        throw new Error('converged: nothing to update');
      },
      async delete() {},
    };
    schemas.push(schema);
    kinds.push({ schema, handler });
  }
  return {
    name: 'bench',
    schemas,
    create: () => ({ name: 'bench', concurrency: 4, kinds }),
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'keelson-bench-http-'));
  const desired = join(dir, 'desired');
  mkdirSync(desired);
  const docs: string[] = [];
  for (let k = 0; k < KINDS; k++)
    for (let i = 0; i < PER_KIND; i++) docs.push(`kind: bench.Thing${k}\nname: t${i}\nspec:\n  size: 1\n`);
  writeFileSync(join(desired, 'things.yaml'), docs.join('---\n'));
  const loaded = loadConfig({
    env: {
      KEELSON_SOURCE_DIRECTORY: desired,
      KEELSON_STATE_PATH: join(dir, 'state.json'),
      KEELSON_HTTP_HOST: '127.0.0.1',
      KEELSON_HTTP_PORT: '0',
      KEELSON_POLL_INTERVAL_SECONDS: '3600',
      KEELSON_LOG_LEVEL: 'silent',
    },
    cwd: dir,
  });
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  const daemon = new Daemon(loaded.config, createLogger('silent'), { modules: [convergedModule()], env: {} });
  const base = (await daemon.start()).replace('0.0.0.0', '127.0.0.1');
  const waitPasses = async (n: number) => {
    while (daemon.status.data.passes < n) await new Promise((r) => setTimeout(r, 5));
  };
  await waitPasses(1);

  // Pass duration without load.
  const quiet: number[] = [];
  for (let i = 0; i < 5; i++) {
    const before = daemon.status.data.passes;
    const t = performance.now();
    daemon.trigger('webhook');
    await waitPasses(before + 1);
    quiet.push(performance.now() - t);
  }

  const get = async (path: string) => {
    const res = await fetch(`${base}${path}`);
    await res.arrayBuffer();
    return res.status;
  };
  let done = false;
  const t0 = performance.now();
  const child = spawn(
    process.execPath,
    [join(import.meta.dirname, 'support-flood.ts'), base, String(CLIENTS), String(REQUESTS_PER_CLIENT)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  const flood = new Promise<void>((resolve) => child.on('exit', () => resolve())).then(() => {
    done = true;
  });
  const probe: number[] = [];
  const busyPasses: number[] = [];
  const probing = (async () => {
    while (!done) {
      const t = performance.now();
      await get('/healthz');
      probe.push(performance.now() - t);
    }
  })();
  const passing = (async () => {
    while (!done) {
      const before = daemon.status.data.passes;
      const t = performance.now();
      daemon.trigger('webhook');
      await waitPasses(before + 1);
      busyPasses.push(performance.now() - t);
    }
  })();
  await Promise.all([flood, probing, passing]);
  const floodMs = performance.now() - t0;
  await daemon.stop();

  probe.sort((a, b) => a - b);
  quiet.sort((a, b) => a - b);
  busyPasses.sort((a, b) => a - b);
  const ms = (v: number) => `${v.toFixed(1)} ms`;
  console.log(
    `flood (another process): ${CLIENTS} concurrent clients, ${CLIENTS * REQUESTS_PER_CLIENT} requests (/metrics, 1 in 10 /status) in ${ms(floodMs)}; answers ${out.trim()}`,
  );
  console.log(
    `/healthz during the flood: ${probe.length} probes, p50 ${ms(percentile(probe, 0.5))}, p99 ${ms(percentile(probe, 0.99))}, max ${ms(probe.at(-1) ?? Number.NaN)}`,
  );
  console.log(
    `pass (${KINDS * PER_KIND} resources, no-op): quiet p50 ${ms(percentile(quiet, 0.5))}; during the flood ${busyPasses.length} passes, p50 ${ms(percentile(busyPasses, 0.5))}, max ${ms(busyPasses.at(-1) ?? Number.NaN)}`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
