/**
 * Field schemas: one per kind, describing its `spec` (what the user writes) and its `outputs`
 * (what other resources may reference). Modelled on Terraform's attribute flags.
 * The same schema validates desired-state files, drives the diff, and becomes the JSON Schema
 * that editors use.
 */

/** The shape of one value. */
export type FieldType =
  | { readonly type: 'string'; readonly enum?: readonly string[]; readonly pattern?: string }
  | { readonly type: 'integer'; readonly minimum?: number; readonly maximum?: number }
  | { readonly type: 'number'; readonly minimum?: number; readonly maximum?: number }
  | { readonly type: 'boolean' }
  | { readonly type: 'array'; readonly items: Field; readonly set?: boolean }
  | { readonly type: 'object'; readonly properties: Readonly<Record<string, Field>> }
  /** Free-form keys (labels, env): every value has the same shape. */
  | { readonly type: 'map'; readonly values: Field }
  /** A secret: the user must write `{ secretRef: NAME }`; an inline value is an error. */
  | { readonly type: 'secret' }
  /** Anything (passed through, compared structurally). */
  | { readonly type: 'any' };

/** Flags that say how a field takes part in validation and diffing. All default to false. */
export interface FieldFlags {
  readonly description?: string;
  /** Must be present in the desired state. */
  readonly required?: boolean;
  /** Set by the provider; never written by the user and never diffed. */
  readonly computed?: boolean;
  /** Redacted in plans, logs, metrics, alerts and errors as `(sensitive)`. */
  readonly sensitive?: boolean;
  /** A change cannot be made in place: the resource is replaced (delete + create, in the kind's `replaceOrder`). */
  readonly replaceOnChange?: boolean;
  /** Value used when the user leaves the field out (also applied to observed state). */
  readonly default?: unknown;
  /** May hold a `{ ref: 'kind/name', output?: 'field' }` reference instead of a literal. */
  readonly referenceable?: boolean;
}

export type Field = FieldType & FieldFlags;

/** A kind as the engine and the editors see it. */
export interface KindSchema {
  /** Provider-qualified kind, e.g. `swarm.Service`, `hetzner.Server`. */
  readonly kind: string;
  readonly description: string;
  readonly spec: Readonly<Record<string, Field>>;
  /** Values other resources can reference (`{ ref: 'hetzner.Server/node-1', output: 'ipv4' }`). */
  readonly outputs?: Readonly<Record<string, Field>>;
  /**
   * A replacement of this kind destroys data (a server with volumes, a volume): it is refused
   * unless the resource sets `allowReplace: true`.
   */
  readonly stateful?: boolean;
  /** Read-only kinds (lookups) are observed and referenced, never created or deleted. */
  readonly readOnly?: boolean;
  /**
   * Spec fields whose value no two resources of this kind may share (two `cloudflare.WorkerCron`
   * for one script would overwrite each other's schedules): `validate` reports the second one,
   * naming the first, with `why` as the hint.
   */
  readonly unique?: readonly { readonly field: string; readonly why: string }[];
  /**
   * The order of a replacement's two steps (`replaceOrder.ts`): `create-first` when the vendor lets
   * the old and the new object exist at once (no moment without one), else `delete-first`, the
   * default. Pure: the planner calls it with the live spec and the desired spec (normalised, as
   * compared). A kind that declares `create-first` must report, in `observe`, an owned object its
   * replacement left behind under `leftoverOf` (not under the resource's key), and its `create`
   * must never find the old object as the new one.
   */
  readonly replaceOrder?: ReplaceOrderRule;
}

/** Which step of a replacement goes first. */
export type ReplaceOrder = 'create-first' | 'delete-first';

/** The order of one replacement and why (shown in the plan). */
export interface ReplaceOrderDecision {
  readonly order: ReplaceOrder;
  readonly why: string;
}

/** A kind's rule: one decision for every replacement, or one per pair of specs (live, desired). */
export type ReplaceOrderRule =
  | ReplaceOrderDecision
  | ((before: Readonly<Record<string, unknown>>, after: Readonly<Record<string, unknown>>) => ReplaceOrderDecision);

/** Marks a reference in a spec. */
export interface Reference {
  readonly ref: string;
  readonly output?: string;
}

export function isReference(value: unknown): value is Reference {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    typeof (value as { ref?: unknown }).ref === 'string' &&
    Object.keys(value).every((k) => k === 'ref' || k === 'output')
  );
}

/** Marks a secret reference in a spec. Values come from the secret source, never from Git. */
export interface SecretReference {
  readonly secretRef: string;
}

/**
 * What a `secretRef` name may be: letters, digits, `.`, `_` and `-`, starting with a letter, digit
 * or `_`, at most 128 characters; never `/` nor `..`. Names become file names in the secrets
 * directory and environment variable names, so nothing else may reach them.
 */
export const SECRET_NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/** Why `name` cannot be a secret name, or undefined when it can. */
export function secretNameProblem(name: string): string | undefined {
  if (SECRET_NAME_PATTERN.test(name) && !name.includes('..')) return undefined;
  return `secret name ${JSON.stringify(name.length > 60 ? `${name.slice(0, 57)}...` : name)} is not allowed: use letters, digits, '.', '_' and '-' (no '/', no '..', at most 128 characters)`;
}

export function isSecretReference(value: unknown): value is SecretReference {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    typeof (value as { secretRef?: unknown }).secretRef === 'string' &&
    Object.keys(value).length === 1
  );
}
