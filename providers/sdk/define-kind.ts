import type { Field, KindSchema } from './schema.ts';
import type { SecretValue } from './secret-value.ts';

/**
 * Typed specs, derived from the schema so that a kind's fields are written once. Declare the
 * schema with `defineKind` (it keeps the literal field descriptors), then
 * `type ServerSpec = SpecOf<typeof serverSchema>` and, in a handler, `specOf(serverSchema, desired)`.
 */

/** The value a field holds in a resolved spec (references resolved, secrets as `SecretValue`s). */
export type ValueOf<F> = F extends { readonly type: 'string'; readonly enum: readonly (infer E)[] }
  ? E
  : F extends { readonly type: 'string' }
    ? string
    : F extends { readonly type: 'integer' | 'number' }
      ? number
      : F extends { readonly type: 'boolean' }
        ? boolean
        : F extends { readonly type: 'array'; readonly items: infer I }
          ? readonly ValueOf<I>[]
          : F extends { readonly type: 'object'; readonly properties: infer P }
            ? SpecOf<P>
            : F extends { readonly type: 'map'; readonly values: infer V }
              ? Readonly<Record<string, ValueOf<V>>>
              : F extends { readonly type: 'secret' }
                ? SecretValue
                : unknown;

/** Fields always present once defaults are applied: the required ones and those with a default. */
type PresentKeys<P> = {
  [K in keyof P]: P[K] extends { readonly required: true } | { readonly default: unknown } ? K : never;
}[keyof P];

type Flatten<T> = { [K in keyof T]: T[K] };

/** The spec type of a set of field descriptors; fields that may be absent are optional. */
export type SpecOf<P> = Flatten<
  { readonly [K in PresentKeys<P>]: ValueOf<P[K]> } & {
    readonly [K in Exclude<keyof P, PresentKeys<P>>]?: ValueOf<P[K]>;
  }
>;

/** The resolved spec type of a kind declared with `defineKind`. */
export type KindSpec<S extends KindSchema> = SpecOf<S['spec']>;

/** Declares a kind's schema, keeping its field descriptors literal so `SpecOf` can read them. */
export function defineKind<const S extends KindSchema>(schema: S): S {
  return schema;
}

/** Declares a group of fields outside a kind (shared by several kinds), kept literal like `defineKind`. */
export function defineFields<const P extends Readonly<Record<string, Field>>>(fields: P): P {
  return fields;
}

/**
 * A resource's spec with its schema's type. Sound because the engine validated the desired spec
 * against this schema (and applied its defaults) before any handler sees it, and observed specs are
 * reported in the same shape.
 */
export function specOf<S extends KindSchema>(
  _schema: S,
  resource: { readonly spec: Readonly<Record<string, unknown>> },
): KindSpec<S> {
  return resource.spec as KindSpec<S>;
}
