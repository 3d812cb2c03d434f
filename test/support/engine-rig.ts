import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Logger, Provider } from '../../providers/sdk/index.ts';
import { loadDesiredState } from '../../reconciler/desired/load.ts';
import { type PassInput, type PassResult, runPass } from '../../reconciler/engine/pass.ts';
import { envSecretSource } from '../../reconciler/engine/secrets.ts';
import { builtinModules } from '../../reconciler/providers/builtin.ts';
import { ProviderRegistry } from '../../reconciler/providers/registry.ts';
import { FileStateStore } from '../../reconciler/state/file-store.ts';
import type { StateStore } from '../../reconciler/state/types.ts';

/** The repository root: Worker sources and `desired-state/` resolve against it. */
export const REPO_ROOT = resolve(import.meta.dirname, '../..');

/** A logger that keeps every line as JSON, so tests can check that no secret reached a log. */
export class RecordingLogger implements Logger {
  readonly lines: string[] = [];
  debug(obj: object, msg?: string): void {
    this.lines.push(JSON.stringify({ level: 'debug', ...obj, msg }));
  }
  info(obj: object, msg?: string): void {
    this.lines.push(JSON.stringify({ level: 'info', ...obj, msg }));
  }
  warn(obj: object, msg?: string): void {
    this.lines.push(JSON.stringify({ level: 'warn', ...obj, msg }));
  }
  error(obj: object, msg?: string): void {
    this.lines.push(JSON.stringify({ level: 'error', ...obj, msg }));
  }
}

/** Options of an `EngineRig`. */
export interface EngineRigOptions {
  /** Environment the built-in providers are created from: the simulators' endpoints and tokens. Default none. */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Providers the test built itself (a fake clock, a short backoff): each replaces the built-in
   * provider of its name. Default none.
   */
  readonly providers?: readonly Provider[];
  /** Retry policy of a pass. Default 4 attempts from 50 ms, at most 500 ms apart. */
  readonly retry?: PassInput['retry'];
  /** Deletions a pass may make. Default 50. */
  readonly deletionBudget?: number;
  /**
   * The checkout the tree is loaded from (sources of Workers and functions, charts). Default the
   * repository; a test that changes a source passes a copy.
   */
  readonly root?: string;
}

/**
 * Runs keelson passes (the real loader, engine and built-in providers) over a desired-state folder
 * in a temporary directory, against vendor simulators given by `env` or providers given by the test.
 * The one engine rig of the tests and benchmarks.
 */
export class EngineRig {
  readonly dir = mkdtempSync(join(tmpdir(), 'keelson-rig-'));
  readonly desired = join(this.dir, 'desired');
  /** The state store (a test may put another in front of the same file). */
  store: StateStore = new FileStateStore(join(this.dir, 'state.json'));
  readonly log = new RecordingLogger();
  readonly registry: ProviderRegistry;
  /** Secret values by `secretRef` name, given to passes as `KEELSON_SECRET_*`. */
  secrets: Record<string, string> = {};
  readonly #options: EngineRigOptions;
  #revision = 0;

  constructor(options: EngineRigOptions = {}) {
    this.#options = options;
    const built = ProviderRegistry.create(builtinModules, {
      env: { KEELSON_REPO_ROOT: options.root ?? REPO_ROOT, ...options.env },
      log: this.log,
    });
    const own = options.providers ?? [];
    const providers = [...built.providers().filter((p) => !own.some((o) => o.name === p.name)), ...own];
    const unavailable: Record<string, string> = {};
    for (const m of builtinModules) {
      const why = built.unavailable(m.name);
      if (why !== undefined && !own.some((o) => o.name === m.name)) unavailable[m.name] = why;
    }
    this.registry = new ProviderRegistry(builtinModules, providers, unavailable);
    mkdirSync(this.desired, { recursive: true });
  }

  /** Copies folders of the repository's `desired-state/` in (`hetzner` lands in `desired/hetzner/`). */
  copyDesired(...folders: string[]): this {
    for (const folder of folders) {
      cpSync(join(REPO_ROOT, 'desired-state', folder), join(this.desired, folder), { recursive: true });
    }
    return this;
  }

  /** A placeholder value for every `secretRef` in the desired state that has none yet. */
  fillSecrets(): this {
    const walk = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? walk(join(dir, e.name)) : /\.ya?ml$/.test(e.name) ? [join(dir, e.name)] : [],
      );
    for (const file of walk(this.desired)) {
      for (const m of readFileSync(file, 'utf8').matchAll(/secretRef:\s*([\w.-]+)/g)) {
        const name = m[1] as string;
        this.secrets[name] ??= `placeholder-${name}`;
      }
    }
    return this;
  }

  write(file: string, text: string): this {
    mkdirSync(dirname(join(this.desired, file)), { recursive: true });
    writeFileSync(join(this.desired, file), text);
    return this;
  }

  read(file: string): string {
    return readFileSync(join(this.desired, file), 'utf8');
  }

  remove(file: string): this {
    rmSync(join(this.desired, file));
    return this;
  }

  async pass(mode: PassInput['mode'] = 'apply'): Promise<PassResult> {
    const loaded = loadDesiredState(this.desired, this.registry, { root: this.#options.root ?? REPO_ROOT });
    const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
    if (errors.length > 0) throw new Error(`desired state is invalid: ${errors.map((d) => d.message).join('; ')}`);
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.secrets)) {
      env[`KEELSON_SECRET_${k.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`] = v;
    }
    return runPass({
      resources: loaded.resources,
      revision: `r${++this.#revision}`,
      registry: this.registry,
      store: this.store,
      owner: 'keelson-test',
      mode,
      deletionBudget: this.#options.deletionBudget ?? 50,
      secrets: envSecretSource(env),
      log: this.log,
      retry: this.#options.retry ?? { attempts: 4, baseDelayMs: 50, maxDelayMs: 500 },
    });
  }

  /** Removes the temporary directory. */
  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
