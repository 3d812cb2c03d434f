import {
  type Field,
  isPlainObject,
  isReference,
  isSecretReference,
  type Reference,
  secretNameProblem,
} from '../../providers/sdk/index.ts';
import type { Diagnostic } from './diagnostic.ts';

/** A reference found in a spec, with where it sits. */
export interface FoundReference {
  readonly path: readonly (string | number)[];
  readonly ref: Reference;
}

export interface SpecProblem {
  readonly path: readonly (string | number)[];
  readonly code: Diagnostic['code'];
  readonly message: string;
  readonly hint?: string;
  /** The problem is about the key of a map entry, not its value (unknown fields). */
  readonly onKey?: boolean;
}

export interface SpecCheck {
  readonly problems: SpecProblem[];
  readonly references: FoundReference[];
  readonly secretRefs: { path: readonly (string | number)[]; name: string }[];
}

/**
 * Numbers and booleans written as map values where strings are expected (`env: { PORT: 8080 }`)
 * become strings, as Compose does; everything else is left as written. Pure.
 */
export function coerceSpec(fields: Readonly<Record<string, Field>>, spec: unknown): unknown {
  if (!isPlainObject(spec)) return spec;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(spec)) {
    const field = fields[key];
    out[key] = field ? coerceValue(field, value) : value;
  }
  return out;
}

function coerceValue(field: Field, value: unknown): unknown {
  switch (field.type) {
    case 'map':
      if (!isPlainObject(value)) return value;
      return Object.fromEntries(
        Object.entries(value).map(([k, v]) => [
          k,
          field.values.type === 'string' && (typeof v === 'number' || typeof v === 'boolean')
            ? String(v)
            : coerceValue(field.values, v),
        ]),
      );
    case 'object':
      return coerceSpec(field.properties, value);
    case 'array':
      return Array.isArray(value) ? value.map((v) => coerceValue(field.items, v)) : value;
    default:
      return value;
  }
}

/** Checks a spec against a kind's fields, collecting every problem (never stopping at the first). */
export function checkSpec(fields: Readonly<Record<string, Field>>, spec: unknown): SpecCheck {
  const out: SpecCheck = { problems: [], references: [], secretRefs: [] };
  checkObject(fields, spec, [], out);
  return out;
}

function checkObject(
  fields: Readonly<Record<string, Field>>,
  value: unknown,
  path: (string | number)[],
  out: SpecCheck,
): void {
  if (!isPlainObject(value)) {
    out.problems.push({ path, code: 'wrong-type', message: `expected an object, got ${describe(value)}` });
    return;
  }
  const known = Object.keys(fields);
  for (const [key, child] of Object.entries(value)) {
    const field = fields[key];
    if (!field) {
      const near = closest(
        key,
        known.filter((k) => !fields[k]?.computed),
      );
      out.problems.push({
        path: [...path, key],
        code: 'unknown-field',
        message: `unknown field "${key}"`,
        hint: near
          ? `did you mean "${near}"?`
          : `allowed fields: ${known.filter((k) => !fields[k]?.computed).join(', ')}`,
        onKey: true,
      });
      continue;
    }
    if (field.computed) {
      out.problems.push({
        path: [...path, key],
        code: 'unknown-field',
        message: `"${key}" is set by the provider and cannot be written`,
        hint: 'remove it; reference it from other resources as an output instead',
        onKey: true,
      });
      continue;
    }
    checkValue(field, child, [...path, key], out);
  }
  for (const [key, field] of Object.entries(fields)) {
    if (field.required && value[key] === undefined) {
      out.problems.push({
        path,
        code: 'missing-field',
        message: `missing required field "${key}"`,
        hint: field.description ? `${key}: ${field.description}` : undefined,
      });
    }
  }
}

/** A secret reference, or an `invalid-value` problem when its name could reach outside the secrets directory. */
function addSecretRef(name: string, path: (string | number)[], out: SpecCheck): void {
  const problem = secretNameProblem(name);
  if (problem) out.problems.push({ path, code: 'invalid-value', message: problem });
  else out.secretRefs.push({ path, name });
}

function checkValue(field: Field, value: unknown, path: (string | number)[], out: SpecCheck): void {
  if (value === null || value === undefined) {
    if (field.required) out.problems.push({ path, code: 'missing-field', message: 'a value is required here' });
    return;
  }
  if (field.type === 'secret') {
    if (isSecretReference(value)) addSecretRef(value.secretRef, path, out);
    else
      out.problems.push({
        path,
        code: 'inline-secret',
        message: 'a secret value is written inline in Git',
        hint: 'write { secretRef: NAME } and give the value to keelson as KEELSON_SECRET_NAME or a file in the secrets directory; then remove the value from the Git history',
      });
    return;
  }
  if (isSecretReference(value)) {
    if (field.sensitive && field.type === 'string') {
      addSecretRef(value.secretRef, path, out);
      return;
    }
    out.problems.push({ path, code: 'wrong-type', message: 'this field does not take a secret reference' });
    return;
  }
  if (isReference(value) && isScalar(field)) {
    out.references.push({ path, ref: value });
    return;
  }
  switch (field.type) {
    case 'string':
      if (typeof value !== 'string') {
        wrong(out, path, 'a string', value);
        return;
      }
      if (field.enum && !field.enum.includes(value))
        out.problems.push({
          path,
          code: 'invalid-value',
          message: `"${value}" is not one of ${field.enum.map((e) => `"${e}"`).join(', ')}`,
        });
      if (field.pattern && !new RegExp(field.pattern).test(value))
        out.problems.push({ path, code: 'invalid-value', message: `"${value}" does not match ${field.pattern}` });
      return;
    case 'integer':
    case 'number':
      if (typeof value !== 'number' || (field.type === 'integer' && !Number.isInteger(value))) {
        wrong(out, path, field.type === 'integer' ? 'a whole number' : 'a number', value);
        return;
      }
      if (field.minimum !== undefined && value < field.minimum)
        out.problems.push({ path, code: 'invalid-value', message: `${value} is below the minimum ${field.minimum}` });
      if (field.maximum !== undefined && value > field.maximum)
        out.problems.push({ path, code: 'invalid-value', message: `${value} is above the maximum ${field.maximum}` });
      return;
    case 'boolean':
      if (typeof value !== 'boolean') wrong(out, path, 'true or false', value);
      return;
    case 'array':
      if (!Array.isArray(value)) {
        wrong(out, path, 'a list', value);
        return;
      }
      value.forEach((item, i) => {
        checkValue(field.items, item, [...path, i], out);
      });
      return;
    case 'object':
      checkObject(field.properties, value, path, out);
      return;
    case 'map':
      if (!isPlainObject(value)) {
        wrong(out, path, 'a map of keys to values', value);
        return;
      }
      for (const [k, v] of Object.entries(value)) checkValue(field.values, v, [...path, k], out);
      return;
    case 'any':
      collectReferences(value, path, out);
      return;
  }
}

function collectReferences(value: unknown, path: (string | number)[], out: SpecCheck): void {
  if (isReference(value)) out.references.push({ path, ref: value });
  else if (isSecretReference(value)) out.secretRefs.push({ path, name: value.secretRef });
  else if (Array.isArray(value)) for (const [i, v] of value.entries()) collectReferences(v, [...path, i], out);
  else if (isPlainObject(value)) for (const [k, v] of Object.entries(value)) collectReferences(v, [...path, k], out);
}

function isScalar(field: Field): boolean {
  return field.type === 'string' || field.type === 'integer' || field.type === 'number' || field.type === 'boolean';
}

function wrong(out: SpecCheck, path: (string | number)[], expected: string, value: unknown): void {
  out.problems.push({ path, code: 'wrong-type', message: `expected ${expected}, got ${describe(value)}` });
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `the string ${excerpt(value)}`;
  return `${typeof value} ${String(value).slice(0, 40)}`;
}

/**
 * A value from Git as a diagnostic may quote it: at most `max` characters, in double quotes, with
 * control characters escaped, so no file content, terminal escape or 2 MB line reaches a log,
 * `/status` or the status page.
 */
export function excerpt(text: string, max = 40): string {
  const short = text.length > max ? `${text.slice(0, max)}…` : text;
  return JSON.stringify(short).replace(
    /[\u007f-\u009f\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** The allowed name nearest to a misspelt one (Levenshtein distance ≤ 2), for "did you mean". */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j] as number;
      row[j] = Math.min((row[j] as number) + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length] as number;
}
