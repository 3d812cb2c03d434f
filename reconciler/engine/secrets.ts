import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DesiredResource } from '../../providers/sdk/index.ts';
import { isPlainObject, isSecretReference, SecretValue } from '../../providers/sdk/index.ts';

/** Where secret values come from. Values never come from Git. */
export interface SecretSource {
  /** The value for a `secretRef` name, or undefined when it is not provided. */
  get(name: string): SecretValue | undefined;
  /** Where a missing secret should be put, for the error message. */
  describe(name: string): string;
}

/** `KEELSON_SECRET_<NAME>` in the environment (upper-cased, non-alphanumerics as `_`), or a file `<dir>/<NAME>`. */
export function envSecretSource(env: Readonly<Record<string, string | undefined>>, dir?: string): SecretSource {
  const variable = (name: string): string => `KEELSON_SECRET_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
  return {
    get(name) {
      const fromEnv = env[variable(name)];
      if (fromEnv !== undefined) return new SecretValue(fromEnv, name);
      if (!dir) return undefined;
      try {
        return new SecretValue(readFileSync(join(dir, name), 'utf8').replace(/\r?\n$/, ''), name);
      } catch {
        return undefined;
      }
    },
    describe(name) {
      return dir
        ? `environment variable ${variable(name)} or file ${join(dir, name)}`
        : `environment variable ${variable(name)}`;
    },
  };
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
