import { closeSync, constants, fstatSync, openSync, readFileSync, realpathSync } from 'node:fs';
import { join, sep } from 'node:path';
import type { DesiredResource } from '../../providers/sdk/index.ts';
import { isPlainObject, isSecretReference, SecretValue, secretNameProblem } from '../../providers/sdk/index.ts';

/** Where secret values come from. Values never come from Git. */
export interface SecretSource {
  /** The value for a `secretRef` name, or undefined when it is not provided. */
  get(name: string): SecretValue | undefined;
  /** Where a missing secret should be put, for the error message. */
  describe(name: string): string;
  /** A source that reads remotely (Secret Manager) fetches the names a pass needs before it plans. */
  prepare?(names: ReadonlySet<string>, signal?: AbortSignal): Promise<void>;
  /** The pass that used the prepared values has completed (its versions become the reported ones). */
  completed?(): void;
  /** Version of each secret used by the last completed pass (never values), for `/status/secrets`. */
  versions?(): Readonly<Record<string, string>>;
}

/**
 * `KEELSON_SECRET_<NAME>` in the environment (upper-cased, non-alphanumerics as `_`), or a file
 * `<dir>/<NAME>`. Names come from Git, so they are hostile until checked: a name outside
 * `SECRET_NAME_PATTERN` gives nothing, and the file is read only when its real path (links
 * resolved) is inside the real secrets directory and it is a regular file (no FIFO, no device).
 *
 * A file may come with a version: `<dir>/.versions/<NAME>.json` (`{"version": "3", ...}`, what the
 * Secrets UI's directory store writes after the value). It is read before the value, so a version
 * reported never belongs to a newer value than the one used, and the versions used by the last
 * completed pass are reported (`versions()`, for `/status/secrets`).
 */
export function envSecretSource(env: Readonly<Record<string, string | undefined>>, dir?: string): SecretSource {
  const variable = (name: string): string => `KEELSON_SECRET_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
  let pending: Record<string, string> = {};
  let reported: Readonly<Record<string, string>> = {};
  return {
    get(name) {
      if (secretNameProblem(name)) return undefined;
      const fromEnv = env[variable(name)];
      if (fromEnv !== undefined) return new SecretValue(fromEnv, name);
      if (!dir) return undefined;
      const version = fileVersion(dir, name);
      const text = readInside(dir, name);
      if (text === undefined) return undefined;
      if (version !== undefined) pending[name] = version;
      return new SecretValue(text.replace(/\r?\n$/, ''), name);
    },
    completed() {
      reported = pending;
      pending = {};
    },
    versions() {
      return reported;
    },
    describe(name) {
      return dir
        ? `environment variable ${variable(name)} or file ${join(dir, name)}`
        : `environment variable ${variable(name)}`;
    },
  };
}

/** The `version` of `<dir>/.versions/<name>.json`, if that file is there and says one. */
function fileVersion(dir: string, name: string): string | undefined {
  const text = readInside(dir, join('.versions', `${name}.json`));
  if (text === undefined) return undefined;
  try {
    const version = (JSON.parse(text) as { version?: unknown }).version;
    return typeof version === 'string' && /^[\w.-]{1,64}$/.test(version) ? version : undefined;
  } catch {
    return undefined;
  }
}

/** The text of `<dir>/<name>` if it is a regular file whose real path is inside `dir`'s real path. */
function readInside(dir: string, name: string): string | undefined {
  let fd: number | undefined;
  try {
    const root = realpathSync(dir);
    const real = realpathSync(join(root, name));
    if (!real.startsWith(root + sep)) return undefined;
    fd = openSync(real, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    if (!fstatSync(fd).isFile()) return undefined;
    return readFileSync(fd, 'utf8');
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Every secret name referenced by the desired state. */
export function secretNames(resources: readonly DesiredResource[]): Set<string> {
  const names = new Set<string>();
  const walk = (v: unknown): void => {
    if (isSecretReference(v)) names.add(v.secretRef);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (isPlainObject(v)) Object.values(v).forEach(walk);
  };
  for (const r of resources) walk(r.spec);
  return names;
}

/** Reads every referenced secret once per pass (I/O stays out of the pure planner). */
export function readSecrets(
  resources: readonly DesiredResource[],
  source: SecretSource,
): {
  values: Map<string, SecretValue>;
  missing: Map<string, string>;
} {
  const values = new Map<string, SecretValue>();
  const missing = new Map<string, string>();
  for (const name of secretNames(resources)) {
    const value = source.get(name);
    if (value) values.set(name, value);
    else missing.set(name, source.describe(name));
  }
  return { values, missing };
}
