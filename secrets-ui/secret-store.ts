import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { googleClientOptions } from '../reconciler/engine/secret-manager-source.ts';

const require = createRequire(import.meta.url);

/** What the UI knows about a secret's current version (never its value). */
export interface VersionInfo {
  readonly version: string;
  /** ISO time the version was written. */
  readonly createdAt: string;
}

/** The store keelson reads secret values from. Write-only from the UI's side: it never reads a value. */
export interface SecretStore {
  readonly kind: 'secret-manager' | 'directory';
  /** Writes a new version and answers its number; the value is not kept anywhere else. */
  addVersion(name: string, value: string): Promise<VersionInfo>;
  /** The newest version, or undefined when the secret has none yet. */
  latest(name: string): Promise<VersionInfo | undefined>;
}

/** Google Secret Manager through the official client in REST mode (the secret is created on first use). */
export class SecretManagerStore implements SecretStore {
  readonly kind = 'secret-manager';
  readonly #project: string;
  readonly #client: import('@google-cloud/secret-manager').SecretManagerServiceClient;

  constructor(project: string, env: Readonly<Record<string, string | undefined>>) {
    this.#project = project;
    const { SecretManagerServiceClient } =
      require('@google-cloud/secret-manager') as typeof import('@google-cloud/secret-manager');
    this.#client = new SecretManagerServiceClient(
      googleClientOptions(env) as ConstructorParameters<typeof SecretManagerServiceClient>[0],
    );
  }

  async addVersion(name: string, value: string): Promise<VersionInfo> {
    const parent = `projects/${this.#project}/secrets/${name}`;
    const add = () => this.#client.addSecretVersion({ parent, payload: { data: Buffer.from(value, 'utf8') } });
    let answer: Awaited<ReturnType<typeof add>>[0];
    try {
      [answer] = await add();
    } catch (error) {
      if ((error as { code?: number }).code !== 5) throw scrub(error);
      await this.#client
        .createSecret({
          parent: `projects/${this.#project}`,
          secretId: name,
          secret: { replication: { automatic: {} }, labels: { 'managed-by': 'keelson-secrets-ui' } },
        })
        .catch((e) => {
          if ((e as { code?: number }).code !== 6) throw scrub(e);
        });
      [answer] = await add().catch((e) => {
        throw scrub(e);
      });
    }
    return versionInfo(answer);
  }

  async latest(name: string): Promise<VersionInfo | undefined> {
    try {
      const [v] = await this.#client.getSecretVersion({
        name: `projects/${this.#project}/secrets/${name}/versions/latest`,
      });
      return versionInfo(v);
    } catch (error) {
      if ((error as { code?: number }).code === 5) return undefined;
      throw scrub(error);
    }
  }
}

function versionInfo(v: {
  name?: string | null;
  createTime?: { seconds?: unknown; nanos?: number | null } | null;
}): VersionInfo {
  const seconds = Number(v.createTime?.seconds ?? 0);
  return {
    version:
      String(v.name ?? '')
        .split('/')
        .pop() ?? '',
    createdAt: new Date(seconds * 1000 + Math.floor((v.createTime?.nanos ?? 0) / 1e6)).toISOString(),
  };
}

/** The client's error carries the request; keep only its message (the payload must not travel on). */
function scrub(error: unknown): Error {
  return new Error(
    `Secret Manager: ${(error as { details?: string; message?: string }).details ?? (error as Error).message}`,
  );
}

/**
 * The demo's store: keelson's secrets directory (`<dir>/<name>`, written atomically) plus a small
 * version record beside it in `<dir>/.versions/` (numbers and times only).
 */
export class DirectoryStore implements SecretStore {
  readonly kind = 'directory';
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
  }

  async addVersion(name: string, value: string): Promise<VersionInfo> {
    const previous = await this.latest(name);
    const info = { version: String(Number(previous?.version ?? 0) + 1), createdAt: new Date().toISOString() };
    mkdirSync(join(this.#dir, '.versions'), { recursive: true, mode: 0o700 });
    const tmp = join(this.#dir, `.${name}.tmp`);
    writeFileSync(tmp, value, { mode: 0o600 });
    renameSync(tmp, join(this.#dir, name));
    writeFileSync(join(this.#dir, '.versions', `${name}.json`), JSON.stringify(info));
    return info;
  }

  async latest(name: string): Promise<VersionInfo | undefined> {
    try {
      return JSON.parse(readFileSync(join(this.#dir, '.versions', `${name}.json`), 'utf8')) as VersionInfo;
    } catch {
      return undefined;
    }
  }
}
