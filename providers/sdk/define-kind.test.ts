import { describe, expect, expectTypeOf, it } from 'vitest';
import { defineKind, type KindSpec, specOf } from './define-kind.ts';
import type { SecretValue } from './secret-value.ts';
import { resolvedResource } from './testing.ts';

const thingSchema = defineKind({
  kind: 'mem.Thing',
  description: 'A thing.',
  spec: {
    size: { type: 'integer', required: true },
    zone: { type: 'string', enum: ['a', 'b'], default: 'a' },
    note: { type: 'string' },
    tags: { type: 'array', items: { type: 'string' }, default: [] },
    env: { type: 'map', values: { type: 'string' } },
    password: { type: 'secret' },
    limits: { type: 'object', properties: { cpu: { type: 'number', required: true }, burst: { type: 'boolean' } } },
    extra: { type: 'any' },
  },
});

describe('typed specs from the schema', () => {
  it('required and defaulted fields are present, the others optional, each with its type', () => {
    expectTypeOf<KindSpec<typeof thingSchema>>().toEqualTypeOf<{
      readonly size: number;
      readonly zone: 'a' | 'b';
      readonly tags: readonly string[];
      readonly note?: string;
      readonly env?: Readonly<Record<string, string>>;
      readonly password?: SecretValue;
      readonly limits?: { readonly cpu: number; readonly burst?: boolean };
      readonly extra?: unknown;
    }>();
  });

  it('specOf reads a resolved resource with the schema type and the values the engine gave', () => {
    const spec = specOf(thingSchema, resolvedResource(thingSchema, 't', { size: 2 }));
    expectTypeOf(spec.size).toEqualTypeOf<number>();
    expect(spec).toMatchObject({ size: 2, zone: 'a', tags: [] });
  });

  it('defineKind returns the schema as it was given (it only keeps the literal types)', () => {
    expect(thingSchema.spec.zone.default).toBe('a');
  });
});
