import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../providers/gcp/simulator/clock.ts';
import { type GcpSimulator, startGcpSimulator } from '../providers/gcp/simulator/index.ts';
import type { Exchange } from '../providers/gcp/simulator/server.ts';
import { leftoverName } from '../providers/sdk/index.ts';
import { EngineRig } from './support/engine-rig.ts';

/**
 * A `gcp.FirestoreIndex` whose fields change is a new index (every field is replace-on-change).
 * Building an index is a long-running operation (minutes to hours at Google), and a query that
 * needs a composite index fails until one is READY. Why the expected result is right: both
 * indexes may exist at once, so the new one is created first and the old one keeps serving
 * queries until the new one is READY: no DELETE of the old index is sent while the new one is
 * CREATING, however many passes that takes; once it is READY, the old one (recorded in keelson's
 * inventory under a leftover key meanwhile) is deleted, exactly once. Operations finish only when
 * the test says so (a fake clock, and more polls than any pass makes).
 */
const index = (second: 'ASCENDING' | 'DESCENDING') => `kind: gcp.FirestoreIndex
name: by-resource
spec:
  collectionGroup: aircall-events
  fields:
    - { fieldPath: resource, order: ASCENDING }
    - { fieldPath: receivedAt, order: ${second} }
`;
const KEY = 'gcp.FirestoreIndex/by-resource';
const INDEXES = /\/collectionGroups\/aircall-events\/indexes(\/[^/:]+)?$/;

interface World {
  readonly sim: GcpSimulator;
  readonly rig: EngineRig;
  /** Index writes the simulator answered: `create` or `delete <index id>`, with their status. */
  readonly writes: string[];
}

const open: World[] = [];
afterEach(async () => {
  for (const w of open.splice(0)) {
    await w.sim.close();
    w.rig.close();
  }
});

async function world(): Promise<World> {
  const writes: string[] = [];
  const sim = await startGcpSimulator({
    projectId: 'replace-prod',
    runFunctions: false,
    clock: new FakeClock(),
    operations: { polls: 1_000_000 },
    onExchange: (e: Exchange) => {
      const m = INDEXES.exec(e.path);
      if (!m || e.method === 'GET') return;
      writes.push(`${e.method === 'POST' ? 'create' : `delete ${m[1]?.slice(1)}`} ${e.status}`);
    },
  });
  const rig = new EngineRig({ env: sim.env, retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 20 } });
  const w: World = { sim, rig, writes };
  open.push(w);
  return w;
}

/** The live indexes of the collection group: their second field's order and state. */
function live(sim: GcpSimulator): string[] {
  return Object.values(sim.state.data.indexes)
    .map((i) => {
      const fields = i.fields as { fieldPath: string; order?: string }[];
      return `${fields[1]?.order} ${i.state}`;
    })
    .sort();
}

function idOf(sim: GcpSimulator, second: string): string {
  const found = Object.values(sim.state.data.indexes).find(
    (i) => (i.fields as { order?: string }[])[1]?.order === second,
  );
  return String(found?.name).split('/').at(-1) as string;
}

async function ready(w: World): Promise<void> {
  w.rig.write('index.yaml', index('DESCENDING'));
  expect((await w.rig.pass()).errors).toEqual([]);
  await w.sim.settleOperations();
  expect((await w.rig.pass()).outcome).toBe('no-op');
  expect(live(w.sim)).toEqual(['DESCENDING READY']);
}

async function inventory(rig: EngineRig): Promise<string[]> {
  return Object.keys((await rig.store.load()).inventory).sort();
}

describe('replacing a Firestore index (gcp.FirestoreIndex)', { timeout: 60_000 }, () => {
  it('the new index is created first; the old one is deleted only once the new one is READY, exactly once', async () => {
    const w = await world();
    const { sim, rig, writes } = w;
    await ready(w);
    const oldId = idOf(sim, 'DESCENDING');
    rig.write('index.yaml', index('ASCENDING'));
    const planned = await rig.pass('plan');
    expect(planned.plan.changes[0]).toMatchObject({ action: 'replace', replaceOrder: 'create-first' });
    expect(planned.plan.changes[0]?.replaceWhy).toContain('it is deleted only then');

    const from = writes.length;
    const applied = await rig.pass();
    expect(applied.errors).toEqual([]);
    // Created; the old one kept: the new one is still building.
    expect(writes.slice(from)).toEqual(['create 200']);
    expect(live(sim)).toEqual(['ASCENDING CREATING', 'DESCENDING READY']);
    const keys = await inventory(rig);
    expect(keys).toHaveLength(2);
    expect(keys[0]).toBe(KEY);
    expect(keys[1]).toMatch(/^gcp\.FirestoreIndex\/by-resource~replaced-[0-9a-f]{10}$/);

    // Passes while it builds: the old index is held back (and says why), nothing is written.
    for (let i = 0; i < 2; i++) {
      const waiting = await rig.pass();
      expect(waiting.errors).toEqual([]);
      expect(waiting.plan.changes.map((c) => [c.key.replace(/~replaced-.*/, '~replaced'), c.action, c.reason])).toEqual(
        [
          [KEY, 'no-op', undefined],
          [`${KEY}~replaced`, 'skip', 'not-ready'],
        ],
      );
      expect(waiting.plan.changes[1]?.detail).toContain(`is kept until ${KEY}, which replaces it, is ready`);
    }
    expect(writes.slice(from)).toEqual(['create 200']);

    await sim.settleOperations();
    expect(live(sim)).toEqual(['ASCENDING READY', 'DESCENDING READY']);
    const next = await rig.pass();
    expect(next.errors).toEqual([]);
    const leftover = next.plan.changes.find((c) => c.action === 'delete');
    expect(leftover?.detail).toContain(`left over from a replacement of ${KEY}`);
    expect(writes.slice(from)).toEqual(['create 200', `delete ${oldId} 200`]);
    expect(live(sim)).toEqual(['ASCENDING READY']);
    expect(await inventory(rig)).toEqual([KEY]);
    expect((await rig.pass()).outcome).toBe('no-op');
    expect(writes.slice(from)).toEqual(['create 200', `delete ${oldId} 200`]);
  });

  it('the delete of the old index fails once the new one is READY: the next pass deletes it exactly once', async () => {
    const w = await world();
    const { sim, rig, writes } = w;
    await ready(w);
    const oldId = idOf(sim, 'DESCENDING');
    rig.write('index.yaml', index('ASCENDING'));
    await rig.pass();
    await sim.settleOperations();
    sim.faults.inject({
      type: 'status',
      status: 400,
      message: 'try later',
      match: { method: 'DELETE', path: INDEXES },
    });
    const from = writes.length;
    const failed = await rig.pass();
    expect(sim.faults.remaining()).toBe(0);
    expect(failed.outcome).toBe('failed');
    expect(failed.errors.map((e) => e.key)).toEqual([
      expect.stringMatching(/^gcp\.FirestoreIndex\/by-resource~replaced-/),
    ]);
    expect(live(sim)).toEqual(['ASCENDING READY', 'DESCENDING READY']);
    expect((await inventory(rig)).length).toBe(2);

    const next = await rig.pass();
    expect(next.errors).toEqual([]);
    expect(writes.slice(from).filter((x) => x.endsWith(' 200'))).toEqual([`delete ${oldId} 200`]);
    expect(live(sim)).toEqual(['ASCENDING READY']);
    expect(await inventory(rig)).toEqual([KEY]);
    expect((await rig.pass()).outcome).toBe('no-op');
  });

  it('a create Google refuses keeps the old index, which is replaced again (never deleted alone)', async () => {
    const w = await world();
    const { sim, rig, writes } = w;
    await ready(w);
    const oldId = idOf(sim, 'DESCENDING');
    rig.write('index.yaml', index('ASCENDING'));
    sim.faults.inject({
      type: 'status',
      status: 400,
      message: 'index is invalid',
      match: { method: 'POST', path: INDEXES },
      times: 2,
    });
    const from = writes.length;
    const failed = await rig.pass();
    expect(failed.outcome).toBe('failed');
    expect(live(sim)).toEqual(['DESCENDING READY']);
    const again = await rig.pass();
    expect(again.outcome).toBe('failed');
    expect(again.plan.changes.map((c) => [c.key, c.action])).toEqual([[KEY, 'replace']]);
    expect(live(sim)).toEqual(['DESCENDING READY']);
    expect(writes.slice(from).some((x) => x.startsWith('delete'))).toBe(false);

    expect((await rig.pass()).errors).toEqual([]);
    await sim.settleOperations();
    expect((await rig.pass()).errors).toEqual([]);
    expect(writes.slice(from).filter((x) => x.startsWith('delete'))).toEqual([`delete ${oldId} 200`]);
    expect(live(sim)).toEqual(['ASCENDING READY']);
    expect(await inventory(rig)).toEqual([KEY]);
    expect((await rig.pass()).outcome).toBe('no-op');
  });
  it('killed between the two inventory records of create (the old index under its key and a leftover key): replaced again, deleted once when the new one is READY', async () => {
    const w = await world();
    const { sim, rig, writes } = w;
    await ready(w);
    const oldId = idOf(sim, 'DESCENDING');
    // The state a kill leaves right after the first record: the old index under both keys.
    const state = await rig.store.load();
    const entry = state.inventory[KEY] as NonNullable<(typeof state.inventory)[string]>;
    const leftoverKey = `gcp.FirestoreIndex/${leftoverName('by-resource', entry.id)}`;
    state.inventory[leftoverKey] = { ...entry, key: leftoverKey };
    await rig.store.save(state);
    rig.write('index.yaml', index('ASCENDING'));
    const from = writes.length;
    const applied = await rig.pass();
    expect(applied.errors).toEqual([]);
    // The old index is the resource here, not a leftover to delete alongside.
    expect(applied.plan.changes.map((c) => [c.key, c.action])).toEqual([[KEY, 'replace']]);
    expect(writes.slice(from)).toEqual(['create 200']);
    await sim.settleOperations();
    expect((await rig.pass()).errors).toEqual([]);
    expect(writes.slice(from)).toEqual(['create 200', `delete ${oldId} 200`]);
    expect(live(sim)).toEqual(['ASCENDING READY']);
    expect(await inventory(rig)).toEqual([KEY]);
    expect((await rig.pass()).outcome).toBe('no-op');
  });
});
