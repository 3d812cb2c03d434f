import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from '../../providers/cloudflare/testing.ts';
import type { Logger } from '../../providers/sdk/index.ts';
import { loadDesiredState } from '../../reconciler/desired/load.ts';
import { type PassInput, type PassResult, runPass } from '../../reconciler/engine/pass.ts';
import { envSecretSource } from '../../reconciler/engine/secrets.ts';
import { builtinModules } from '../../reconciler/providers/builtin.ts';
import { ProviderRegistry } from '../../reconciler/providers/registry.ts';
import { FileStateStore } from '../../reconciler/state/file-store.ts';
import type { StateStore } from '../../reconciler/state/types.ts';

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

/**
 * Runs keelson passes (the real engine and the built-in providers) over a desired-state folder in
 * a temporary directory, against vendor simulators given by `env`.
 */
export class EngineRig {
  readonly dir = mkdtempSync(join(tmpdir(), 'keelson-cf-'));
  readonly desired = join(this.dir, 'desired');
  readonly store: StateStore = new FileStateStore(join(this.dir, 'state.json'));
  readonly log = new RecordingLogger();
  readonly registry: ProviderRegistry;
  secrets: Record<string, string> = {};
  #revision = 0;

  constructor(env: Record<string, string>) {
    this.registry = ProviderRegistry.create(builtinModules, {
      env: { KEELSON_REPO_ROOT: REPO_ROOT, ...env },
      log: this.log,
    });
  }

  /** Copies folders of the repository's `desired-state/` in. */
  copyDesired(...folders: string[]): this {
    for (const folder of folders)
      cpSync(join(REPO_ROOT, 'desired-state', folder), join(this.desired, folder), { recursive: true });
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

  async pass(mode: PassInput['mode'] = 'apply'): Promise<PassResult> {
    const loaded = loadDesiredState(this.desired, this.registry, { root: REPO_ROOT });
    const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
    if (errors.length > 0) throw new Error(`desired state is invalid: ${errors.map((d) => d.message).join('; ')}`);
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.secrets))
      env[`KEELSON_SECRET_${k.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`] = v;
    return runPass({
      resources: loaded.resources,
      revision: `r${++this.#revision}`,
      registry: this.registry,
      store: this.store,
      owner: 'keelson-test',
      mode,
      deletionBudget: 50,
      secrets: envSecretSource(env),
      log: this.log,
      retry: { attempts: 4, baseDelayMs: 50, maxDelayMs: 500 },
    });
  }
}
