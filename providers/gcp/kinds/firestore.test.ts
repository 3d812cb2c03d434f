import { afterAll, describe, expect, it } from 'vitest';
import type { KindSchema, ObservedResource, ResourceHandler } from '../../sdk/index.ts';
import { diffResource, resolvedResource } from '../../sdk/testing.ts';
import { rigContext, startGcpRig } from '../testing.ts';
import { firestoreDatabaseSchema } from './firestore-database.ts';
import { firestoreIndexSchema } from './firestore-index.ts';
import { firestoreTtlSchema } from './firestore-ttl.ts';

// Firestore kinds have no in-place change worth the contract kit's name (an index or a TTL policy is
// replaced whole; a database is never deleted), so their contract is written out here.
const rig = await startGcpRig({ sim: { firestoreDefaultDatabase: false } });
const ctx = rigContext();
const writes = () => rig.sim.writes();
afterAll(() => rig.close());

async function observe(
  handler: ResourceHandler,
  kind: string,
  name: string,
  spec: Record<string, unknown>,
  schema: KindSchema = firestoreIndexSchema,
) {
  const found = await handler.observe(ctx, { kind, names: [name], desired: [resolvedResource(schema, name, spec)] });
  return found.find((o) => o.name === name);
}

describe('gcp.FirestoreDatabase', () => {
  const handler = rig.handler(firestoreDatabaseSchema.kind);
  const spec = { locationId: 'eur3', pointInTimeRecovery: false };
  const look = () => observe(handler, firestoreDatabaseSchema.kind, 'default', spec, firestoreDatabaseSchema);

  it('is created as (default) with a long-running operation: not ready, then ready and converged', async () => {
    expect(await look()).toBeUndefined();
    const created = await handler.create(ctx, resolvedResource(firestoreDatabaseSchema, 'default', spec));
    expect(created.ready).toBe(false);
    await rig.sim.settleOperations();
    const observed = (await look()) as ObservedResource;
    expect(observed).toMatchObject({ owned: true, ready: true, protect: true, outputs: { databaseId: '(default)' } });
    expect(
      diffResource(
        firestoreDatabaseSchema,
        handler,
        resolvedResource(firestoreDatabaseSchema, 'default', spec),
        observed,
      ),
    ).toEqual([]);
  });

  it('turns point-in-time recovery on in place', async () => {
    const before = (await look()) as ObservedResource;
    const next = resolvedResource(firestoreDatabaseSchema, 'default', { ...spec, pointInTimeRecovery: true });
    const changes = diffResource(firestoreDatabaseSchema, handler, next, before);
    expect(changes.map((c) => c.path)).toEqual(['pointInTimeRecovery']);
    await handler.update(ctx, next, before, changes);
    await rig.sim.settleOperations();
    expect(diffResource(firestoreDatabaseSchema, handler, next, (await look()) as ObservedResource)).toEqual([]);
  });

  it('is never deleted: observed as protected (prune keeps it), and delete refuses', async () => {
    const observed = (await look()) as ObservedResource;
    const before = writes();
    await expect(handler.delete(ctx, observed)).rejects.toMatchObject({ code: 'PROTECTED' });
    expect(writes()).toBe(before);
    expect(await look()).toBeDefined();
  });
});

describe('gcp.FirestoreIndex', () => {
  const handler = rig.handler(firestoreIndexSchema.kind);
  const spec = {
    collectionGroup: 'aircall-events',
    fields: [
      { fieldPath: 'resource', order: 'ASCENDING' },
      { fieldPath: 'receivedAt', order: 'DESCENDING' },
    ],
  };
  const look = () => observe(handler, firestoreIndexSchema.kind, 'by-resource', spec);

  it('is created with a long-running operation, recognised by its definition, and converges', async () => {
    expect(await look()).toBeUndefined();
    await handler.create(ctx, resolvedResource(firestoreIndexSchema, 'by-resource', spec));
    const creating = (await look()) as ObservedResource;
    expect(creating.owned).toBe(true);
    await rig.sim.settleOperations();
    const before = writes();
    const observed = (await look()) as ObservedResource;
    expect(writes()).toBe(before);
    expect(observed).toMatchObject({ owned: true, ready: true });
    expect(observed.id).toMatch(/collectionGroups\/aircall-events\/indexes\//);
    expect(
      diffResource(
        firestoreIndexSchema,
        handler,
        resolvedResource(firestoreIndexSchema, 'by-resource', spec),
        observed,
      ),
    ).toEqual([]);
  });

  it('a create of the same definition again makes no second index', async () => {
    await handler.create(ctx, resolvedResource(firestoreIndexSchema, 'by-resource', spec));
    await rig.sim.settleOperations();
    const all = await handler.observe(ctx, { kind: firestoreIndexSchema.kind, names: [], desired: [] });
    expect(all.filter((o) => o.name === 'by-resource')).toHaveLength(1);
  });

  it('a changed field order forces a replacement; delete removes it', async () => {
    const observed = (await look()) as ObservedResource;
    const next = resolvedResource(firestoreIndexSchema, 'by-resource', {
      ...spec,
      fields: [
        { fieldPath: 'resource', order: 'ASCENDING' },
        { fieldPath: 'receivedAt', order: 'ASCENDING' },
      ],
    });
    expect(diffResource(firestoreIndexSchema, handler, next, observed).some((c) => c.forcesReplacement)).toBe(true);
    await handler.delete(ctx, observed);
    expect(await look()).toBeUndefined();
    await expect(handler.delete(ctx, observed)).resolves.toBeUndefined();
  });
});

describe('gcp.FirestoreTtlPolicy', () => {
  const handler = rig.handler(firestoreTtlSchema.kind);
  const spec = { collectionGroup: 'llm-queries', field: 'expireAt' };
  const look = () => observe(handler, firestoreTtlSchema.kind, 'qa-expiry', spec, firestoreTtlSchema);

  it('is enabled with a long-running operation and converges; delete turns it off', async () => {
    expect(await look()).toBeUndefined();
    await handler.create(ctx, resolvedResource(firestoreTtlSchema, 'qa-expiry', spec));
    await rig.sim.settleOperations();
    const observed = (await look()) as ObservedResource;
    expect(observed).toMatchObject({ owned: true, ready: true });
    expect(
      diffResource(firestoreTtlSchema, handler, resolvedResource(firestoreTtlSchema, 'qa-expiry', spec), observed),
    ).toEqual([]);
    await handler.delete(ctx, observed);
    await rig.sim.settleOperations();
    expect(await look()).toBeUndefined();
  });
});
