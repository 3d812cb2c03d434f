import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, normalize, sep } from 'node:path';
import { unzipSync } from 'fflate';
import { ApiError, failedPrecondition } from './api-error.ts';
import { readSecret } from './api-secret-manager.ts';
import type { SimContext } from './context.ts';
import { packageDir } from './module-path.ts';
import type { Json } from './state.ts';

/** How to start one revision of a function. */
interface ProcessSpec {
  readonly dir: string;
  readonly entry: string;
  readonly signature: 'http' | 'cloudevent';
  readonly env: Record<string, string>;
  readonly revision: string;
}

interface Running extends ProcessSpec {
  readonly child: ChildProcess;
  readonly port: number;
}

/** What an invocation answers. */
export interface InvokeResult {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

/**
 * Runs deployed functions in Google's Functions Framework on loopback, one process per function,
 * from the uploaded archive, with the function's environment and its Secret Manager secrets. A
 * redeploy starts the new revision before it stops the old one.
 */
export class FunctionHost {
  readonly #ctx: SimContext;
  readonly #enabled: boolean;
  readonly #root: string;
  readonly #running = new Map<string, Running>();
  readonly #logs = new Map<string, string[]>();
  readonly #frameworkMain: string;
  readonly #nodeModules: string;

  constructor(ctx: SimContext, enabled: boolean) {
    this.#ctx = ctx;
    this.#enabled = enabled;
    this.#root = mkdtempSync(join(tmpdir(), 'keelson-gcp-sim-'));
    const framework = packageDir('@google-cloud/functions-framework');
    this.#frameworkMain = join(framework, 'build', 'src', 'main.js');
    this.#nodeModules = dirname(dirname(framework));
  }

  get enabled(): boolean {
    return this.#enabled;
  }

  /** Whether the function's process is up. */
  running(name: string): boolean {
    return this.#running.has(name);
  }

  /** The process id of the function's current instance. */
  pid(name: string): number | undefined {
    return this.#running.get(name)?.child.pid;
  }

  logs(name: string): string[] {
    return this.#logs.get(name) ?? [];
  }

  async deploy(fn: Json): Promise<void> {
    const name = fn.name as string;
    const build = fn.buildConfig as Json;
    const source = ((build.source as Json).storageSource ?? {}) as Json;
    const zip = this.#ctx.state.data.uploads[source.object as string];
    if (zip === undefined)
      throw failedPrecondition(`Build failed: source object ${String(source.object)} does not exist.`);
    const env = this.#environment(fn);
    if (!this.#enabled) return;
    const revision = String((fn.serviceConfig as Json).revision ?? 'r');
    const dir = join(this.#root, `${name.split('/').at(-1)}-${revision}-${this.#ctx.state.next()}`);
    extract(Buffer.from(zip, 'base64'), dir);
    if (!existsSync(join(dir, 'package.json')))
      throw failedPrecondition('Build failed: the source archive has no package.json at its root.');
    if (!existsSync(join(dir, 'node_modules'))) symlinkSync(this.#nodeModules, join(dir, 'node_modules'), 'dir');
    const signature = fn.eventTrigger ? 'cloudevent' : 'http';
    const spec: ProcessSpec = { dir, entry: String(build.entryPoint), signature, env, revision };
    let started: Running;
    try {
      started = await this.#start(name, spec);
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw new ApiError(
        'FAILED_PRECONDITION',
        `Could not create or update Cloud Run service ${name.split('/').at(-1)}: the function did not start. ${(e as Error).message}`,
      );
    }
    const previous = this.#running.get(name);
    this.#running.set(name, started);
    this.#ctx.log.info({ function: name, signature, revision, port: started.port }, 'gcp simulator: function started');
    if (previous) await stopProcess(previous);
  }

  /** Spawns the Functions Framework for `spec` and waits until it listens. */
  async #start(name: string, spec: ProcessSpec): Promise<Running> {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [
        this.#frameworkMain,
        `--target=${spec.entry}`,
        `--signature-type=${spec.signature}`,
        `--port=${port}`,
        `--source=${spec.dir}`,
      ],
      {
        cwd: spec.dir,
        env: { ...spec.env, PORT: String(port), FUNCTION_SIGNATURE_TYPE: spec.signature },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const lines = this.#logs.get(name) ?? [];
    this.#logs.set(name, lines);
    const collect = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line === '') continue;
        lines.push(line);
        this.#ctx.log.info({ function: name, output: line }, 'gcp simulator: function output');
      }
      if (lines.length > 2000) lines.splice(0, lines.length - 2000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    try {
      await waitReady(child, port, lines);
    } catch (e) {
      child.kill('SIGKILL');
      throw e;
    }
    const running: Running = { ...spec, child, port };
    // Cloud Run replaces an instance that dies; so does the simulator (a few times, then it gives up).
    child.once('exit', (code, signal) => {
      if (this.#running.get(name) !== running) return;
      lines.push(`[simulator] the function process exited (${signal ?? `code ${code}`}); starting it again`);
      void this.#restart(name, running, 1);
    });
    return running;
  }

  async #restart(name: string, dead: Running, attempt: number): Promise<void> {
    await new Promise((r) => setTimeout(r, 100 * 2 ** (attempt - 1)));
    if (this.#running.get(name) !== dead) return;
    try {
      const next = await this.#start(name, dead);
      if (this.#running.get(name) !== dead) {
        await stopProcess({ ...next, dir: '' });
        return;
      }
      this.#running.set(name, next);
      this.#ctx.log.warn({ function: name, port: next.port }, 'gcp simulator: function process restarted');
    } catch (e) {
      if (attempt >= 5) {
        if (this.#running.get(name) === dead) this.#running.delete(name);
        this.#ctx.log.warn(
          { function: name, error: (e as Error).message },
          'gcp simulator: function process does not start again; giving up',
        );
        return;
      }
      await this.#restart(name, dead, attempt + 1);
    }
  }

  async stop(name: string): Promise<void> {
    const r = this.#running.get(name);
    this.#running.delete(name);
    if (r) await stopProcess(r);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.#running.keys()].map((n) => this.stop(n)));
    rmSync(this.#root, { recursive: true, force: true });
  }

  /** Sends a request to the function's process (path below the function's URL). */
  async invoke(
    name: string,
    request: { method: string; path: string; headers: Record<string, string>; body?: Buffer; timeoutMs: number },
  ): Promise<InvokeResult> {
    const r = this.#running.get(name);
    if (!r) return { status: 503, headers: {}, body: Buffer.from('function is not running') };
    const hasBody = request.method !== 'GET' && request.method !== 'HEAD';
    const res = await fetch(`http://127.0.0.1:${r.port}${request.path}`, {
      method: request.method,
      headers: request.headers,
      body: hasBody ? request.body : undefined,
      signal: AbortSignal.timeout(request.timeoutMs),
    });
    const headers: Record<string, string> = {};
    res.headers.forEach((v, k) => {
      headers[k] = v;
    });
    return { status: res.status, headers, body: Buffer.from(await res.arrayBuffer()) };
  }

  /** The process environment: the function's variables and secrets, and where the simulator is. */
  #environment(fn: Json): Record<string, string> {
    const sc = (fn.serviceConfig ?? {}) as Json;
    const name = fn.name as string;
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      NODE_ENV: 'production',
      METADATA_SERVER_DETECTION: 'none',
      GCP_PROJECT_ID: this.#ctx.projectId,
      GCP_REGION: this.#ctx.region,
      GCP_API_ENDPOINT: this.#ctx.url,
      GCP_ACCESS_TOKEN: this.#ctx.accessToken,
      GCP_OIDC_JWKS_URL: `${this.#ctx.url}/oauth2/v3/certs`,
      GOOGLE_CLOUD_PROJECT: this.#ctx.projectId,
      K_SERVICE: name.split('/').at(-1)!,
      K_REVISION: String(sc.revision ?? ''),
      K_CONFIGURATION: name.split('/').at(-1)!,
      FUNCTION_TARGET: String((fn.buildConfig as Json).entryPoint),
      LOG_EXECUTION_ID: 'true',
      ...((sc.environmentVariables ?? {}) as Record<string, string>),
    };
    for (const s of (sc.secretEnvironmentVariables ?? []) as Json[]) {
      const secret = String(s.secret).split('/').at(-1)!;
      try {
        env[s.key as string] = readSecret(this.#ctx, secret, String(s.version ?? 'latest'));
      } catch (e) {
        throw failedPrecondition(
          `Could not deploy ${name}: secret environment variable ${String(s.key)}: ${(e as Error).message}`,
        );
      }
    }
    return env;
  }
}

function extract(zip: Buffer, dir: string): void {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(new Uint8Array(zip));
  } catch (e) {
    throw failedPrecondition(`Build failed: the source archive is not a zip file (${(e as Error).message}).`);
  }
  mkdirSync(dir, { recursive: true });
  for (const [path, data] of Object.entries(files)) {
    const target = normalize(join(dir, path));
    if (!target.startsWith(dir + sep))
      throw failedPrecondition(`Build failed: archive entry ${path} leaves the source folder.`);
    if (path.endsWith('/')) {
      mkdirSync(target, { recursive: true });
      continue;
    }
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, data);
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Waits until the process accepts connections (no request, so the user's code is not invoked). */
async function waitReady(child: ChildProcess, port: number, lines: string[]): Promise<void> {
  const deadline = Date.now() + 60_000;
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = `It exited with ${signal ?? `code ${code}`}.`;
  });
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${exited} Output: ${lines.slice(-15).join(' | ')}`);
    const up = await new Promise<boolean>((resolve) => {
      const sock = connect(port, '127.0.0.1');
      sock.once('connect', () => {
        sock.destroy();
        resolve(true);
      });
      sock.once('error', () => resolve(false));
    });
    if (up && !exited) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`It did not listen on port ${port} within 60 s. Output: ${lines.slice(-15).join(' | ')}`);
}

async function stopProcess(r: Running): Promise<void> {
  if (r.child.exitCode === null && r.child.signalCode === null) {
    const exited = new Promise<void>((resolve) => r.child.once('exit', () => resolve()));
    r.child.kill('SIGTERM');
    const timer = setTimeout(() => r.child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }
  if (r.dir !== '') rmSync(r.dir, { recursive: true, force: true });
}
