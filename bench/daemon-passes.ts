/**
 * Daemon overhead without any vendor: no-op passes per second (fetch of an unchanged directory,
 * observe, plan, drift bookkeeping, state file write), resident memory after 10 and after 1,000
 * passes, and CPU used while idle between passes. Prints figures; asserts nothing.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {
  KindSchema,
  ObservedResource,
  Provider,
  ProviderModule,
  ResourceHandler,
} from '../providers/sdk/index.ts';
import { Daemon } from '../reconciler/app/daemon.ts';
import { loadConfig } from '../reconciler/config/load-config.ts';
import { createLogger } from '../reconciler/observability/logger.ts';

const RESOURCES = 50;

/** A provider whose world already matches the desired state: every pass is a no-op. */
function convergedModule(): ProviderModule {
  const schema: KindSchema = {
    kind: 'bench.Thing',
    description: 'bench',
    spec: { size: { type: 'integer', default: 1 } },
  };
  const handler: ResourceHandler = {
    async observe(_ctx, query) {
      return query.names.map(
        (name): ObservedResource => ({
          key: `bench.Thing/${name}`,
          kind: 'bench.Thing',
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
      throw new Error('not expected in a no-op benchmark');
    },
    async update() {
      throw new Error('not expected in a no-op benchmark');
    },
    async delete() {},
  };
  const provider: Provider = { name: 'bench', kinds: [{ schema, handler }], concurrency: 4 };
  return { name: 'bench', schemas: [schema], create: () => provider };
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

export async function run(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'keelson-bench-passes-'));
  const dir = join(root, 'desired');
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'things.yaml'),
    Array.from({ length: RESOURCES }, (_, i) => `kind: bench.Thing\nname: t${i}\nspec:\n  size: 1\n`).join('---\n'),
  );
  const loaded = loadConfig({
    env: {
      KEELSON_SOURCE_DIRECTORY: dir,
      KEELSON_STATE_PATH: join(root, 'state.json'),
      KEELSON_HTTP_HOST: '127.0.0.1',
      KEELSON_HTTP_PORT: '0',
      KEELSON_POLL_INTERVAL_SECONDS: '3600',
      KEELSON_LOG_LEVEL: 'silent',
    },
    cwd: root,
  });
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  const daemon = new Daemon(loaded.config, createLogger('silent'), { modules: [convergedModule()], env: {} });
  const step = daemon.step;
  const signal = new AbortController().signal;
  const gc = (globalThis as { gc?: () => void }).gc;
  const rss = () => {
    gc?.();
    return process.memoryUsage().rss;
  };
  // The first passes create the applied records; they are not no-ops.
  for (let i = 0; i < 10; i++) await step.run(signal, 'manual');
  const after10 = rss();
  const t0 = performance.now();
  const n = 1000;
  for (let i = 0; i < n; i++) await step.run(signal, 'manual');
  const seconds = (performance.now() - t0) / 1000;
  const after1000 = rss();
  const heap1000 = process.memoryUsage().heapUsed;
  for (let i = 0; i < n; i++) await step.run(signal, 'manual');
  const after2000 = rss();
  const heap2000 = process.memoryUsage().heapUsed;
  console.log(
    `no-op passes (${RESOURCES} resources, file state store): ${(n / seconds).toFixed(0)} passes/s (${((seconds * 1000) / n).toFixed(2)} ms each)`,
  );
  console.log(
    `resident memory: ${mb(after10)} after 10 passes, ${mb(after1000)} after 1,010 (${after1000 >= after10 ? '+' : ''}${mb(after1000 - after10)})${gc ? '' : ' (run with node --expose-gc for steadier figures)'}`,
  );
  console.log(
    `V8 heap in use: ${mb(heap1000)} after 1,010 passes, ${mb(heap2000)} after 2,010; resident ${mb(after2000)} after 2,010`,
  );
  console.log(
    `passes recorded: ${daemon.status.data.passes}, last result ok: ${daemon.status.data.lastErrors.length === 0}`,
  );

  // Idle: the HTTP server and the loop are running, the next pass is an hour away.
  await daemon.start();
  await new Promise((r) => setTimeout(r, 500));
  const cpu0 = process.cpuUsage();
  const idleMs = 5000;
  await new Promise((r) => setTimeout(r, idleMs));
  const cpu = process.cpuUsage(cpu0);
  console.log(
    `CPU while idle: ${((cpu.user + cpu.system) / 1000).toFixed(1)} ms over ${idleMs / 1000} s (${(((cpu.user + cpu.system) / 1000 / idleMs) * 100).toFixed(2)} %)`,
  );
  await daemon.stop();
}

if (import.meta.main) await run();
