import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { buildSync } from 'esbuild';
import { KeelsonError } from '../../sdk/index.ts';

/** One ES-module Worker bundle with its source map. */
export interface WorkerBundle {
  /** The module, ending in a `sourceMappingURL` comment pointing at `index.js.map`. */
  readonly code: string;
  readonly sourceMap: string;
  /** sha256 (hex, first 32 chars) of code and map: what decides whether an upload is needed. */
  readonly hash: string;
}

interface CacheEntry {
  readonly inputs: ReadonlyMap<string, number>;
  readonly bundle: WorkerBundle;
}

const cache = new Map<string, CacheEntry>();

/**
 * Bundles `<root>/<source>/<main>` with esbuild into one ES module plus source map. Deterministic
 * for the same files; reused while no input file's mtime changes, because the planner asks for the
 * hash on every pass.
 */
export function bundleWorker(root: string, source: string, main: string, resource: string): WorkerBundle {
  const dir = isAbsolute(source) ? source : resolve(root, source);
  const entry = join(dir, main);
  const cached = cache.get(entry);
  if (cached && unchanged(cached.inputs)) return cached.bundle;
  let result: ReturnType<typeof buildSync>;
  try {
    result = buildSync({
      entryPoints: [entry],
      absWorkingDir: dir,
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      mainFields: ['browser', 'module', 'main'],
      conditions: ['workerd', 'worker', 'browser'],
      target: 'es2022',
      sourcemap: 'external',
      write: false,
      outfile: join(dir, 'dist', 'index.js'),
      metafile: true,
      logLevel: 'silent',
    });
  } catch (error) {
    const detail = (error as { errors?: { text: string }[] }).errors?.map((e) => e.text).join('; ') ?? String(error);
    throw new KeelsonError(`cannot bundle Worker ${resource} from ${source}/${main}: ${detail}`, {
      code: 'INVALID_SPEC',
      class: 'terminal',
      resource,
      cause: error,
    });
  }
  const js = result.outputFiles?.find((f) => f.path.endsWith('.js'));
  const map = result.outputFiles?.find((f) => f.path.endsWith('.js.map'));
  if (!js || !map) {
    throw new KeelsonError(`cannot bundle Worker ${resource}: esbuild produced no output`, {
      code: 'INVALID_SPEC',
      class: 'terminal',
      resource,
    });
  }
  const code = js.text;
  const sourceMap = map.text;
  const hash = createHash('sha256').update(code).update('\0').update(sourceMap).digest('hex').slice(0, 32);
  const inputs = new Map<string, number>();
  for (const input of Object.keys(result.metafile?.inputs ?? {})) {
    const path = resolve(dir, input);
    inputs.set(path, mtimeOf(path));
  }
  const bundle = { code, sourceMap, hash };
  cache.set(entry, { inputs, bundle });
  return bundle;
}

function mtimeOf(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -1;
  }
}

function unchanged(inputs: ReadonlyMap<string, number>): boolean {
  for (const [path, mtime] of inputs) if (mtimeOf(path) !== mtime) return false;
  return true;
}
