import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { BuildOptions, BuildResult, Message } from 'esbuild';
import { type ArtifactBuilder, BuildError } from '../../sdk/index.ts';

/** One ES-module Worker bundle with its source map. */
export interface WorkerBundle {
  /** The module, ending in a `sourceMappingURL` comment pointing at `index.js.map`. */
  readonly code: string;
  readonly sourceMap: string;
  /** sha256 (hex, first 32 chars) of code and map: what decides whether an upload is needed. */
  readonly hash: string;
}

interface CacheEntry {
  /** Every input file of the bundle and the sha256 of its content. */
  readonly inputs: ReadonlyMap<string, string>;
  readonly bundle: WorkerBundle;
}

/** Last bundle per entry file, reused while every input's content is the same. */
const byEntry = new Map<string, CacheEntry>();
/** Bundles by hash, for the upload of what the plan compared. */
const byHash = new Map<string, WorkerBundle>();

/** esbuild is loaded on the first build, so that validating a tree without Workers never loads it. */
let esbuild: { buildSync(options: BuildOptions & { write: false; metafile: true }): BuildResult } | undefined;
function loadEsbuild(): NonNullable<typeof esbuild> {
  esbuild ??= createRequire(import.meta.url)('esbuild') as NonNullable<typeof esbuild>;
  return esbuild;
}

/**
 * Bundles `<root>/<source>/<main>` with esbuild into one ES module plus source map. Deterministic
 * for the same files; cached by content (an unchanged tree costs reading and hashing its inputs).
 * Throws a `BuildError` with the file and line esbuild names when the source does not build.
 */
export function bundleWorker(root: string, source: string, main: string, resource: string): WorkerBundle {
  const dir = isAbsolute(source) ? source : resolve(root, source);
  const entry = join(dir, main);
  const cached = byEntry.get(entry) ?? fromDisk(entry);
  if (cached && unchanged(cached.inputs)) {
    byEntry.set(entry, cached);
    byHash.set(cached.bundle.hash, cached.bundle);
    return cached.bundle;
  }
  let result: BuildResult<{ write: false; metafile: true }>;
  try {
    result = loadEsbuild().buildSync({
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
    }) as BuildResult<{ write: false; metafile: true }>;
  } catch (error) {
    const errors = (error as { errors?: Message[] }).errors ?? [];
    const first = errors[0]?.location;
    const detail = errors.map((e) => e.text).join('; ') || String(error);
    throw new BuildError(`cannot bundle Worker ${resource} from ${source}/${main}: ${detail}`, {
      ...(first ? { file: relative(root, resolve(dir, first.file)), line: first.line, column: first.column + 1 } : {}),
    });
  }
  const js = result.outputFiles?.find((f) => f.path.endsWith('.js'));
  const map = result.outputFiles?.find((f) => f.path.endsWith('.js.map'));
  if (!js || !map) throw new BuildError(`cannot bundle Worker ${resource}: esbuild produced no output`);
  const code = js.text;
  const sourceMap = map.text;
  const hash = createHash('sha256').update(code).update('\0').update(sourceMap).digest('hex').slice(0, 32);
  const inputs = new Map<string, string>();
  for (const input of Object.keys(result.metafile?.inputs ?? {})) {
    const path = resolve(dir, input);
    inputs.set(path, contentHash(path));
  }
  const bundle = { code, sourceMap, hash };
  byEntry.set(entry, { inputs, bundle });
  byHash.set(hash, bundle);
  toDisk(entry, { inputs, bundle });
  return bundle;
}

/**
 * The cache on disk (`$KEELSON_BUILD_CACHE`, default `<tmpdir>/keelson-build-cache`), so that a
 * `keelson validate` or `plan` of an unchanged Worker costs hashing its inputs, not an esbuild run.
 * One JSON file per entry module; a file that cannot be read or written is only a cache miss.
 */
function cacheFile(entry: string): string {
  const dir = process.env.KEELSON_BUILD_CACHE || join(tmpdir(), 'keelson-build-cache');
  return join(dir, `${createHash('sha256').update(entry).digest('hex').slice(0, 32)}.json`);
}

function fromDisk(entry: string): CacheEntry | undefined {
  try {
    const data = JSON.parse(readFileSync(cacheFile(entry), 'utf8')) as {
      inputs: Record<string, string>;
      bundle: WorkerBundle;
    };
    return { inputs: new Map(Object.entries(data.inputs)), bundle: data.bundle };
  } catch {
    return undefined;
  }
}

function toDisk(entry: string, cached: CacheEntry): void {
  const file = cacheFile(entry);
  try {
    mkdirSync(join(file, '..'), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ inputs: Object.fromEntries(cached.inputs), bundle: cached.bundle }));
    renameSync(tmp, file);
  } catch {
    // A cache that cannot be written is a slower next start, nothing more.
  }
}

/** The bundle the load step built with this hash, if this process built it. */
export function bundleByHash(hash: unknown): WorkerBundle | undefined {
  return typeof hash === 'string' ? byHash.get(hash) : undefined;
}

/**
 * The load-time build of a `cloudflare.WorkerScript`: bundles its folder and puts the bundle's hash
 * into `bundleHash`, so the plan compares hashes and never runs esbuild itself.
 */
export const workerBundleBuilder: ArtifactBuilder = {
  sourceField: 'source',
  build(spec, ctx) {
    const source = spec.source;
    if (typeof source !== 'string') throw new BuildError(`${ctx.resource} has no source folder`);
    const main = typeof spec.main === 'string' ? spec.main : 'src/index.ts';
    const bundle = bundleWorker(ctx.root, source, main, ctx.resource);
    return { hash: bundle.hash, fields: { bundleHash: bundle.hash } };
  },
};

function contentHash(path: string): string {
  try {
    return createHash('sha256').update(readFileSync(path)).digest('hex');
  } catch {
    return '';
  }
}

function unchanged(inputs: ReadonlyMap<string, string>): boolean {
  for (const [path, hash] of inputs) if (contentHash(path) !== hash) return false;
  return true;
}
