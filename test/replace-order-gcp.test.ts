import { afterEach, describe, expect, it } from 'vitest';
import { type GcpSimulator, startGcpSimulator } from '../providers/gcp/simulator/index.ts';
import type { Exchange } from '../providers/gcp/simulator/server.ts';
import { EngineRig } from './support/engine-rig.ts';

/**
 * A `gcp.IamBinding` whose role changes is a new binding (role and target are replace-on-change).
 * Why the expected result is right: a member may hold both roles at once, so the new role is
 * granted before the old one is revoked — the member is never left with neither (the policy
 * writes, seen by the simulator, go: both roles, then the new one only). The old binding stays in
 * keelson's inventory, under a leftover key, until its revocation is done: if it fails (or keelson
 * dies first), the next pass finds it and revokes it, once.
 */
const binding = (role: string) => `kind: gcp.IamBinding
name: ana-pubsub
spec:
  target: { type: project }
  role: ${role}
  members: ['user:ana@example.com']
`;

interface World {
  readonly sim: GcpSimulator;
  readonly rig: EngineRig;
  /** Every project policy written (setIamPolicy), as role -> members. */
  readonly writes: Record<string, string[]>[];
  /** Called after each policy write is answered. */
  afterWrite?: () => void;
}

const open: World[] = [];
afterEach(async () => {
  for (const w of open.splice(0)) {
    await w.sim.close();
    w.rig.close();
  }
});

async function world(): Promise<World> {
  const writes: Record<string, string[]>[] = [];
  const holder: { world?: World } = {};
  const sim = await startGcpSimulator({
    projectId: 'replace-prod',
    runFunctions: false,
    onExchange: (e: Exchange) => {
      if (e.method !== 'POST' || !e.path.endsWith(':setIamPolicy')) return;
      const policy = (e.requestBody as { policy?: { bindings?: { role: string; members: string[] }[] } }).policy;
      writes.push(Object.fromEntries((policy?.bindings ?? []).map((b) => [b.role, [...b.members].sort()])));
      holder.world?.afterWrite?.();
    },
  });
  const rig = new EngineRig({ env: sim.env, retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 20 } });
  const w: World = { sim, rig, writes };
  holder.world = w;
  open.push(w);
  return w;
}

const ANA = ['user:ana@example.com'];

describe('replacing an IAM binding (gcp.IamBinding)', { timeout: 60_000 }, () => {
  it('a new role is granted before the old one is revoked', async () => {
    const { rig, writes } = await world();
    rig.write('iam.yaml', binding('roles/pubsub.viewer'));
    expect((await rig.pass()).errors).toEqual([]);

    rig.write('iam.yaml', binding('roles/pubsub.subscriber'));
    const planned = await rig.pass('plan');
    expect(planned.plan.changes[0]).toMatchObject({ action: 'replace', replaceOrder: 'create-first' });
    expect(planned.plan.changes[0]?.replaceWhy).toContain('granted the new role before the old one is revoked');

    const from = writes.length;
    const applied = await rig.pass();
    expect(applied.errors).toEqual([]);
    const ours = writes.slice(from).map((w) => ({
      viewer: w['roles/pubsub.viewer'] ?? [],
      subscriber: w['roles/pubsub.subscriber'] ?? [],
    }));
    expect(ours).toEqual([
      { viewer: ANA, subscriber: ANA },
      { viewer: [], subscriber: ANA },
    ]);
    expect((await rig.pass()).outcome).toBe('no-op');
    const state = await rig.store.load();
    expect(Object.keys(state.inventory)).toEqual(['gcp.IamBinding/ana-pubsub']);
    expect(state.inventory['gcp.IamBinding/ana-pubsub']?.id).toBe('projects/replace-prod#roles/pubsub.subscriber');
  });

  it('the revocation of the old role fails: it stays in the inventory as a leftover, and the next pass revokes it once', async () => {
    const { sim, rig, writes } = await world();
    rig.write('iam.yaml', binding('roles/pubsub.viewer'));
    await rig.pass();
    rig.write('iam.yaml', binding('roles/pubsub.subscriber'));
    const from = writes.length;
    // The first write (the grant) goes through; every later one fails until the faults are cleared.
    const w = open.at(-1) as World;
    w.afterWrite = () => {
      sim.faults.inject({ type: 'status', status: 503, match: { path: /:setIamPolicy$/ }, times: 1000 });
      w.afterWrite = undefined;
    };
    const failed = await rig.pass();
    sim.faults.clear();
    expect(writes.length).toBe(from + 1);
    expect(failed.outcome).toBe('failed');
    expect(failed.errors.map((e) => e.message).join('\n')).toContain(
      'created the new gcp.IamBinding/ana-pubsub, but the old one (id projects/replace-prod#roles/pubsub.viewer) is not deleted yet',
    );
    const state = await rig.store.load();
    const keys = Object.keys(state.inventory).sort();
    expect(keys).toHaveLength(2);
    expect(keys[0]).toBe('gcp.IamBinding/ana-pubsub');
    expect(keys[1]).toMatch(/^gcp\.IamBinding\/ana-pubsub~replaced-[0-9a-f]{10}$/);

    const before = writes.length;
    const next = await rig.pass();
    expect(next.errors).toEqual([]);
    expect(next.plan.changes.map((c) => [c.key, c.action])).toEqual([
      ['gcp.IamBinding/ana-pubsub', 'no-op'],
      [keys[1], 'delete'],
    ]);
    expect(writes.slice(before).map((w) => [w['roles/pubsub.viewer'] ?? [], w['roles/pubsub.subscriber']])).toEqual([
      [[], ANA],
    ]);
    expect(Object.keys((await rig.store.load()).inventory)).toEqual(['gcp.IamBinding/ana-pubsub']);
    expect((await rig.pass()).outcome).toBe('no-op');
  });

  it('a grant that fails half way (recorded, not written): the old role is kept until the next pass grants the new one', async () => {
    const { sim, rig, writes } = await world();
    rig.write('iam.yaml', binding('roles/pubsub.viewer'));
    await rig.pass();
    rig.write('iam.yaml', binding('roles/pubsub.subscriber'));
    // Every attempt of the grant's policy write fails (the client's own retries included); the
    // binding is already in the inventory, so the look-up after the failure finds it, empty.
    sim.faults.inject({ type: 'status', status: 503, match: { path: /:setIamPolicy$/ }, times: 5 });
    const from = writes.length;
    const first = await rig.pass();
    expect(sim.faults.remaining()).toBe(0);
    expect(first.errors.map((e) => e.code)).toEqual(['CREATE_UNFINISHED']);
    // Nothing written: the old role was not revoked while the new one is not granted.
    expect(writes.slice(from)).toEqual([]);

    const next = await rig.pass();
    expect(next.errors).toEqual([]);
    expect(next.plan.changes.map((c) => c.action)).toEqual(['update', 'delete']);
    expect(writes.slice(from).map((w) => [w['roles/pubsub.viewer'] ?? [], w['roles/pubsub.subscriber'] ?? []])).toEqual(
      [
        [ANA, ANA],
        [[], ANA],
      ],
    );
    expect((await rig.pass()).outcome).toBe('no-op');
  });
});
