import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, normalize, relative, resolve, sep } from 'node:path';
import { zipSync } from 'fflate';
import { type ArtifactBuilder, BuildError, KeelsonError } from '../../sdk/index.ts';

/** A Cloud Function's source as uploaded: a zip that is byte-identical for identical files. */
export interface FunctionArchive {
  readonly zip: Uint8Array;
  /** sha256 of the zip, first 40 hex characters (fits a GCP label value). */
  readonly hash: string;
  readonly files: number;
}

/** Every entry gets this modification time, so the archive depends on content only. */
const FIXED_MTIME = new Date('1980-01-01T00:00:00Z');
/** Never uploaded: installed by Cloud Build from package.json, or not part of the code. */
const SKIPPED = new Set(['node_modules', '.git', '.DS_Store']);
export const FUNCTIONS_DIR = 'functions';

interface CacheEntry {
  readonly stamp: string;
  readonly archive: FunctionArchive;
}
const cache = new Map<string, CacheEntry>();
/** Archives by hash, for the upload of what the plan compared. */
const byHash = new Map<string, FunctionArchive>();

/**
 * Checks a `source` folder: relative, under `functions/` of the checkout, never outside it.
 * Returns the absolute folder.
 */
export function functionSourceDir(root: string, source: string, resource: string): string {
  const bad = (why: string) =>
    new KeelsonError(
      `${resource}: spec.source ${JSON.stringify(source)} ${why}; write a folder under functions/, e.g. functions/backup`,
      {
        code: 'INVALID_SPEC',
        class: 'terminal',
        resource,
      },
    );
  if (isAbsolute(source) || /^[a-zA-Z]:/.test(source)) throw bad('is an absolute path');
  if (source.split(/[\\/]/).includes('..')) throw bad('leaves the checkout with ".."');
  const clean = normalize(source).replace(/\\/g, '/').replace(/\/+$/, '');
  if (!clean.startsWith(`${FUNCTIONS_DIR}/`)) throw bad('is not under functions/');
  const dir = resolve(root, clean);
  const rel = relative(resolve(root, FUNCTIONS_DIR), dir);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) throw bad('is not under functions/');
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    isDir = false;
  }
  if (!isDir) throw bad('does not exist in the checkout');
  return dir;
}

function walk(dir: string, base: string, out: { path: string; abs: string }[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (SKIPPED.has(entry.name)) continue;
    const abs = join(dir, entry.name);
    if (entry.isDirectory()) walk(abs, base, out);
    else if (entry.isFile()) out.push({ path: relative(base, abs).split(sep).join('/'), abs });
  }
}

/**
 * Archives `<root>/<source>` DETERMINISTICALLY (entries sorted by path, fixed times, no extra
 * fields) and hashes it. Cached by the files' paths, sizes and mtimes, because the planner asks for
 * the hash on every pass. This is the one function a load-time build step calls.
 */
export function buildFunctionArchive(root: string, source: string, resource: string): FunctionArchive {
  const dir = functionSourceDir(root, source, resource);
  const files: { path: string; abs: string }[] = [];
  walk(dir, dir, files);
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const stamp = files
    .map((f) => {
      const st = statSync(f.abs);
      return `${f.path}\0${st.size}\0${st.mtimeMs}`;
    })
    .join('\n');
  const cached = cache.get(dir);
  if (cached && cached.stamp === stamp) {
    byHash.set(cached.archive.hash, cached.archive);
    return cached.archive;
  }
  if (files.length === 0) {
    throw new KeelsonError(`${resource}: spec.source ${source} holds no files`, {
      code: 'INVALID_SPEC',
      class: 'terminal',
      resource,
    });
  }
  const entries: Record<string, [Uint8Array, { mtime: Date; level: 6 }]> = {};
  for (const f of files) entries[f.path] = [new Uint8Array(readFileSync(f.abs)), { mtime: FIXED_MTIME, level: 6 }];
  const zip = zipSync(entries);
  const hash = createHash('sha256').update(zip).digest('hex').slice(0, 40);
  const archive = { zip, hash, files: files.length };
  cache.set(dir, { stamp, archive });
  byHash.set(hash, archive);
  return archive;
}

/** The archive the load step built with this hash, if this process built it. */
export function archiveByHash(hash: unknown): FunctionArchive | undefined {
  return typeof hash === 'string' ? byHash.get(hash) : undefined;
}

/**
 * The load-time build of a `gcp.Function`: archives its folder and puts the archive's hash into
 * `sourceHash`, so the plan compares hashes and never reads the folder itself. A bad `source` (outside
 * `functions/`, missing, empty) skips that resource with the reason; the others go on.
 */
export const functionArchiveBuilder: ArtifactBuilder = {
  // The loader refuses a source outside the checkout (or missing) with file:line before building.
  sourceField: 'source',
  build(spec, ctx) {
    const source = spec.source;
    if (typeof source !== 'string') throw new BuildError(`${ctx.resource} has no source folder`);
    let archive: FunctionArchive;
    try {
      archive = buildFunctionArchive(ctx.root, source, ctx.resource);
    } catch (error) {
      throw new BuildError((error as Error).message);
    }
    return { hash: archive.hash, fields: { sourceHash: archive.hash } };
  },
};
