import {
  isPlainObject,
  isReference,
  isSecretReference,
  type ObservedResource,
  type SecretValue,
  UnknownValue,
} from '../../providers/sdk/index.ts';

export interface ResolveContext {
  /** Live state by key (outputs of existing resources). */
  readonly observed: ReadonlyMap<string, ObservedResource>;
  readonly secrets: ReadonlyMap<string, SecretValue>;
}

export interface Resolution {
  readonly spec: Record<string, unknown>;
  /** Secret names that had no value. */
  readonly missingSecrets: string[];
  /** Keys whose outputs are not known yet. */
  readonly unknownFrom: string[];
}

/**
 * Replaces references with the referenced resource's output (its id when no output is named)
 * and secret references with `SecretValue`s. An output of a resource that does not exist yet is
 * an `UnknownValue` ("known after apply"). Pure.
 */
export function resolveSpec(spec: Readonly<Record<string, unknown>>, ctx: ResolveContext): Resolution {
  // Most specs hold no reference at all: then there is nothing to walk (a fresh copy, as a walk gives).
  if (!hasReferences(spec)) return { spec: { ...spec }, missingSecrets: [], unknownFrom: [] };
  const missingSecrets: string[] = [];
  const unknownFrom: string[] = [];
  const walk = (v: unknown): unknown => {
    if (isReference(v)) {
      const target = ctx.observed.get(v.ref);
      const value = target ? (v.output === undefined ? target.id : target.outputs[v.output]) : undefined;
      if (value === undefined) {
        unknownFrom.push(v.ref);
        return new UnknownValue(`${v.ref}${v.output ? `.${v.output}` : ''}`);
      }
      return value;
    }
    if (isSecretReference(v)) {
      const value = ctx.secrets.get(v.secretRef);
      if (!value) missingSecrets.push(v.secretRef);
      return value ?? new UnknownValue(`secret ${v.secretRef}`);
    }
    if (Array.isArray(v)) return v.map(walk);
    if (isPlainObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return { spec: walk(spec) as Record<string, unknown>, missingSecrets, unknownFrom };
}

/** Whether a spec holds any reference or secret reference; remembered per spec object (specs are not mutated). */
const referencing = new WeakMap<object, boolean>();
export function hasReferences(spec: Readonly<Record<string, unknown>>): boolean {
  let known = referencing.get(spec);
  if (known === undefined) {
    known = containsReference(spec);
    referencing.set(spec, known);
  }
  return known;
}

function containsReference(v: unknown): boolean {
  if (isReference(v) || isSecretReference(v)) return true;
  if (Array.isArray(v)) return v.some(containsReference);
  if (isPlainObject(v)) {
    for (const k in v) if (containsReference(v[k])) return true;
  }
  return false;
}

/** True when any value in the spec is still unknown. */
export function hasUnknown(v: unknown): boolean {
  if (v instanceof UnknownValue) return true;
  if (Array.isArray(v)) return v.some(hasUnknown);
  if (isPlainObject(v)) return Object.values(v).some(hasUnknown);
  return false;
}
