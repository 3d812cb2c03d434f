// Rigs for the backup flow's tests: an S3 server on loopback standing in for R2, a receiver for the
// scripts' reports and the alerts, and helpers to run the scripts with Debian's restic.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

/** `@20minutes/s3rver` ships no types: the part of it these tests use. */
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  httpServer?: { closeAllConnections(): void };
}
const S3rver = createRequire(import.meta.url)('@20minutes/s3rver') as new (
  options: Record<string, unknown>,
) => S3rverInstance;

export const SERVER_SCRIPTS = join(import.meta.dirname, '..', 'functions', 'backup', 'server');

/** s3rver's only account. */
export const S3_KEY = { id: 'S3RVER', secret: 'S3RVER' };

export interface S3Rig {
  readonly url: string;
  /** restic's S3 repository URL for a path in the `backups` bucket. */
  repository(path: string): string;
  close(): Promise<void>;
}

/** `@20minutes/s3rver` over http on loopback, one `backups` bucket (see ../shared/rigs/cloud-runtimes.md). */
export async function startS3(dir: string, port = 0): Promise<S3Rig> {
  const server = new S3rver({
    address: '127.0.0.1',
    port,
    silent: true,
    directory: dir,
    // restic signs `/bucket/` with a trailing slash, which this s3rver's check rejects; the key is still checked.
    allowMismatchedSignatures: true,
    configureBuckets: [{ name: 'backups' }],
  });
  const address = (await server.run()) as AddressInfo;
  const url = `http://127.0.0.1:${address.port}`;
  return {
    url,
    repository: (path) => `s3:${url}/backups/${path}`,
    close: async () => {
      server.httpServer?.closeAllConnections();
      await server.close();
    },
  };
}

export interface Received {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** A loopback HTTP server that answers 200 (or `status`) and keeps every request. */
export async function startReceiver(status = 200): Promise<{
  url: string;
  received: Received[];
  setStatus(s: number): void;
  close(): Promise<void>;
}> {
  const received: Received[] = [];
  let current = status;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(current, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    setStatus: (s) => {
      current = s;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a command with exactly `env` (plus PATH, HOME and TZ=UTC), never throwing on a non-zero exit;
 * throws when the program is not installed, saying how to get it.
 */
export function run(file: string, args: readonly string[], env: Record<string, string>): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', TZ: 'UTC', ...env },
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        if (error && (error as NodeJS.ErrnoException).code === 'ENOENT') {
          reject(new Error(`${file} is not installed: run scripts/setup.sh as root (it installs restic, jq, curl)`));
          return;
        }
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The restic environment for a repository on the S3 rig (a cache per test directory keeps runs apart). */
export function resticEnv(repository: string, cacheDir: string): Record<string, string> {
  return {
    RESTIC_REPOSITORY: repository,
    RESTIC_PASSWORD: 'test-repository-password',
    AWS_ACCESS_KEY_ID: S3_KEY.id,
    AWS_SECRET_ACCESS_KEY: S3_KEY.secret,
    RESTIC_CACHE_DIR: cacheDir,
  };
}

export async function restic(env: Record<string, string>, ...args: string[]): Promise<RunResult> {
  const result = await run('restic', args, env);
  if (result.code !== 0) throw new Error(`restic ${args.join(' ')} failed (${result.code}): ${result.stderr}`);
  return result;
}

export interface SnapshotInfo {
  readonly id: string;
  readonly short_id: string;
  readonly time: string;
  readonly tags?: string[];
  readonly paths: string[];
}

export async function snapshots(env: Record<string, string>): Promise<SnapshotInfo[]> {
  const out = await restic(env, 'snapshots', '--json');
  return (JSON.parse(out.stdout) as SnapshotInfo[]).sort((a, b) => a.time.localeCompare(b.time));
}

/** A deterministic tree of volumes: `files` files spread over `volumes` directories, some nested. */
export function makeTree(root: string, options: { volumes: number; files: number; bytes: number; seed: number }): void {
  let x = options.seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  for (let i = 0; i < options.files; i++) {
    const dir = join(root, `volume-${i % options.volumes}`, `d${Math.floor(i / 50)}`);
    mkdirSync(dir, { recursive: true });
    const size = Math.max(1, Math.floor(options.bytes / options.files));
    const buf = Buffer.alloc(size);
    for (let b = 0; b < size; b++) buf[b] = next() & 0xff;
    writeFileSync(join(dir, `file-${i}.bin`), buf);
  }
}

/** Every file under `root` with its bytes, for byte-for-byte comparisons (paths relative, sorted). */
export function treeContents(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const full = join(dir, name);
      const st = statSync(full);
      if (st.isDirectory()) walk(full);
      else out.set(relative(root, full), readFileSync(full).toString('base64'));
    }
  };
  walk(root);
  return out;
}

export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
