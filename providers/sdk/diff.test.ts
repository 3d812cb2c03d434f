import { describe, expect, it } from 'vitest';
import { applyDefaults, diffSpec, UnknownValue } from './diff.ts';
import type { Field } from './schema.ts';
import { SecretValue } from './secret-value.ts';

const fields: Record<string, Field> = {
  replicas: { type: 'integer', default: 1 },
  image: { type: 'string', replaceOnChange: true },
  env: { type: 'map', values: { type: 'string' } },
  ports: { type: 'array', items: { type: 'integer' }, set: true },
  args: { type: 'array', items: { type: 'string' } },
  deploy: {
    type: 'object',
    properties: { mode: { type: 'string', default: 'replicated' }, limit: { type: 'integer' } },
  },
  password: { type: 'secret' },
  id: { type: 'string', computed: true },
};

describe('diffSpec', () => {
  // Each case: desired, live, and the paths that must differ (why in the name).
  const cases: { why: string; desired: Record<string, unknown>; live: Record<string, unknown>; paths: string[] }[] = [
    {
      why: 'equal specs give no change',
      desired: { replicas: 2, image: 'a' },
      live: { replicas: 2, image: 'a' },
      paths: [],
    },
    {
      why: 'fields the user does not set are not drift',
      desired: { replicas: 2 },
      live: { replicas: 2, image: 'x' },
      paths: [],
    },
    { why: 'computed fields are never compared', desired: { id: 'a' }, live: { id: 'b' }, paths: [] },
    {
      why: 'a map differs per key, added and removed keys included',
      desired: { env: { A: '1', B: '2' } },
      live: { env: { A: '1', B: '3', C: '4' } },
      paths: ['env.B', 'env.C'],
    },
    { why: 'an empty map equals an absent one', desired: { env: {} }, live: {}, paths: [] },
    { why: 'set arrays ignore order', desired: { ports: [80, 443] }, live: { ports: [443, 80] }, paths: [] },
    { why: 'ordered arrays do not', desired: { args: ['a', 'b'] }, live: { args: ['b', 'a'] }, paths: ['args'] },
    {
      why: 'objects are compared field by field',
      desired: { deploy: { mode: 'global', limit: 2 } },
      live: { deploy: { mode: 'replicated', limit: 2 } },
      paths: ['deploy.mode'],
    },
  ];
  it.each(cases)('$why', ({ desired, live, paths }) => {
    expect(diffSpec(fields, desired, live).map((c) => c.path)).toEqual(paths);
  });

  it('marks a replace-on-change field as forcing replacement', () => {
    expect(diffSpec(fields, { image: 'b' }, { image: 'a' })).toMatchObject([
      { path: 'image', forcesReplacement: true },
    ]);
  });

  it('compares secrets by digest and marks them sensitive', () => {
    const secret = new SecretValue('s3cret', 'db');
    expect(diffSpec(fields, { password: secret }, { password: { $sensitiveDigest: secret.digest } })).toEqual([]);
    const changed = diffSpec(
      fields,
      { password: new SecretValue('other', 'db') },
      { password: { $sensitiveDigest: secret.digest } },
    );
    expect(changed).toMatchObject([{ path: 'password', sensitive: true }]);
    expect(JSON.stringify(changed)).not.toContain('other');
  });

  it('a value known only after apply is a change marked unknown', () => {
    expect(diffSpec(fields, { image: new UnknownValue('x') }, { image: 'a' })).toMatchObject([
      { path: 'image', unknown: true },
    ]);
  });

  it('applyDefaults fills defaults, also inside objects, and keeps what the user wrote', () => {
    expect(applyDefaults(fields, { deploy: { limit: 1 } })).toEqual({
      replicas: 1,
      deploy: { mode: 'replicated', limit: 1 },
    });
    expect(applyDefaults(fields, { replicas: 3 })).toEqual({ replicas: 3, deploy: undefined });
  });
});
