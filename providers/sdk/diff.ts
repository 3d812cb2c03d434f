import type { Field } from './schema.ts';
import { isSecretDigest, SecretValue } from './secret-value.ts';

/** A value that is only known after an earlier wave has been applied (an output of a new resource). */
export class UnknownValue {
  readonly reason: string;
  constructor(reason: string) {
    this.reason = reason;
  }
  toJSON(): string {
    return '(known after apply)';
  }
}

/** One field that differs between desired and live state. */
export interface FieldChange {
  /** Dotted path inside `spec`, with `[i]` for list items, e.g. `deploy.replicas`, `env.LOG_LEVEL`. */
  readonly path: string;
  /** Live value (undefined when absent). Sensitive values are redacted by renderers, not here. */
  readonly before: unknown;
  /** Desired value (undefined when the desired state removes it). */
  readonly after: unknown;
  readonly sensitive: boolean;
  /** The change cannot be made in place. */
  readonly forcesReplacement: boolean;
  /** The desired value depends on an output not known before apply. */
  readonly unknown: boolean;
}

type Spec = Readonly<Record<string, unknown>>;

/**
 * Fields the user did not write and that have a default get it, recursively, so that a desired spec
 * compares with what the API reports. Pure.
 */
export function applyDefaults(fields: Readonly<Record<string, Field>>, spec: Spec): Record<string, unknown> {
  const out: Record<string, unknown> = { ...spec };
  for (const [name, field] of Object.entries(fields)) {
    if (field.computed) continue;
    if (out[name] === undefined && field.default !== undefined) {
      const d = field.default;
      out[name] = typeof d === 'object' && d !== null ? structuredClone(d) : d;
    }
    const value = out[name];
    if (field.type === 'object' && isPlainObject(value)) out[name] = applyDefaults(field.properties, value);
    if (field.type === 'array' && field.items.type === 'object' && Array.isArray(value)) {
      const props = field.items.properties;
      out[name] = value.map((item) => (isPlainObject(item) ? applyDefaults(props, item) : item));
    }
  }
  return out;
}

/**
 * Field-level differences between a desired spec (defaults applied, references resolved) and a
 * live spec. Only fields the desired spec sets are compared (what the user does not manage is not
 * drift); computed fields are never compared; secrets compare by digest; `set` arrays ignore order.
 */
export function diffSpec(fields: Readonly<Record<string, Field>>, desired: Spec, live: Spec): FieldChange[] {
  const changes: FieldChange[] = [];
  diffObject(fields, desired, live, '', false, false, changes);
  return changes;
}

function diffObject(
  fields: Readonly<Record<string, Field>>,
  desired: Spec,
  live: Spec,
  prefix: string,
  parentSensitive: boolean,
  parentReplace: boolean,
  out: FieldChange[],
): void {
  for (const [name, want] of Object.entries(desired)) {
    const field = fields[name];
    if (field?.computed) continue;
    const path = prefix === '' ? name : `${prefix}.${name}`;
    const sensitive = parentSensitive || field?.sensitive === true || field?.type === 'secret';
    const replace = parentReplace || field?.replaceOnChange === true;
    const have = live[name];
    if (field?.type === 'object' && isPlainObject(want) && isPlainObject(have)) {
      diffObject(field.properties, want, have, path, sensitive, replace, out);
      continue;
    }
    if (field?.type === 'map' && isPlainObject(want) && (isPlainObject(have) || have === undefined)) {
      // Per key (`env.LOG_LEVEL`), so a plan shows what changed rather than the whole map.
      const live = (have ?? {}) as Record<string, unknown>;
      for (const key of [...new Set([...Object.keys(want), ...Object.keys(live)])].sort()) {
        const after = want[key];
        const before = live[key];
        if (after instanceof UnknownValue) {
          out.push({ path: `${path}.${key}`, before, after, sensitive, forcesReplacement: replace, unknown: true });
        } else if (!valuesEqual(field.values, after, before)) {
          out.push({ path: `${path}.${key}`, before, after, sensitive, forcesReplacement: replace, unknown: false });
        }
      }
      continue;
    }
    if (want instanceof UnknownValue) {
      out.push({ path, before: have, after: want, sensitive, forcesReplacement: replace, unknown: true });
      continue;
    }
    if (!valuesEqual(field, want, have)) {
      out.push({ path, before: have, after: want, sensitive, forcesReplacement: replace, unknown: false });
    }
  }
}

/** Structural equality with the schema's rules (secret digests, unordered sets, number/string care). */
export function valuesEqual(field: Field | undefined, a: unknown, b: unknown): boolean {
  // The common case of a converged field: the same primitive (or the very same object).
  if (a === b && !(a instanceof UnknownValue)) return true;
  if (a instanceof SecretValue || isSecretDigest(a) || b instanceof SecretValue || isSecretDigest(b)) {
    return digestOf(a) !== undefined && digestOf(a) === digestOf(b);
  }
  if (field?.type === 'array' && Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return false;
    if (field.set) {
      const left = a.map(canonicalJson).sort();
      const right = b.map(canonicalJson).sort();
      return left.every((v, i) => v === right[i]);
    }
    return a.every((v, i) => valuesEqual(field.items, v, b[i]));
  }
  if (field?.type === 'map' && isPlainObject(a) && isPlainObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) if (!valuesEqual(field.values, a[k], b[k])) return false;
    return true;
  }
  if (field?.type === 'object' && isPlainObject(a) && isPlainObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) if (!valuesEqual(field.properties[k], a[k], b[k])) return false;
    return true;
  }
  return canonicalJson(a) === canonicalJson(b);
}

function digestOf(value: unknown): string | undefined {
  if (value instanceof SecretValue) return value.digest;
  if (isSecretDigest(value)) return value.$sensitiveDigest;
  return undefined;
}

/** JSON with object keys sorted, so equal values give equal strings. Secrets give their digest. */
export function canonicalJson(value: unknown): string {
  return canonical(value) ?? 'undefined';
}

/** Writes canonical JSON in one walk (no sorted copy first); undefined where JSON.stringify omits a value. */
function canonical(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  if (value instanceof SecretValue) return `{"$sensitiveDigest":${JSON.stringify(value.digest)}}`;
  if (value instanceof UnknownValue) return '"(known after apply)"';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += `${i === 0 ? '' : ','}${canonical(value[i]) ?? 'null'}`;
    return `${out}]`;
  }
  if (!isPlainObject(value)) return JSON.stringify(value);
  let out = '{';
  let first = true;
  for (const k of Object.keys(value).sort()) {
    const v = value[k];
    if (v === undefined) continue;
    const text = canonical(v);
    if (text === undefined) continue;
    out += `${first ? '' : ','}${JSON.stringify(k)}:${text}`;
    first = false;
  }
  return `${out}}`;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.getPrototypeOf(value) === Object.prototype
  );
}
