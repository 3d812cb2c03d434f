import { describe, expect, it } from 'vitest';
import type { PassResult } from '../reconciler/engine/pass.ts';
import { HetznerWorld } from './support/hetzner-world.ts';

/**
 * Lost responses, one row per Hetzner create: the simulator does the work and then closes the
 * connection unanswered (`drop-after`), during the first apply of the company's Hetzner state.
 * Recovery passes follow. Why the expected result is right: a lost answer is indistinguishable from
 * a failed request for the client, so keelson must find the object by its name and ownership
 * labels instead of creating it again (zero duplicates), must not refuse its own object
 * (no CONFLICT_UNOWNED), must finish every step of a multi-step create (a server's fixed private
 * address and its protection), must not bury an unfinished create as UNSTABLE_FIELD, and must end
 * with an empty create journal and a no-op pass.
 */
const ROWS: readonly { readonly kind: string; readonly path: string | RegExp }[] = [
  { kind: 'hetzner.SshKey', path: '/v1/ssh_keys' },
  { kind: 'hetzner.Network', path: '/v1/networks' },
  { kind: 'hetzner.Firewall', path: '/v1/firewalls' },
  { kind: 'hetzner.PlacementGroup', path: '/v1/placement_groups' },
  { kind: 'hetzner.Server', path: '/v1/servers' },
  { kind: 'hetzner.Volume', path: '/v1/volumes' },
  // The later steps of a server's create, each an action of its own.
  { kind: 'hetzner.Server (attach_to_network)', path: /^\/v1\/servers\/\d+\/actions\/attach_to_network$/ },
  { kind: 'hetzner.Server (change_protection)', path: /^\/v1\/servers\/\d+\/actions\/change_protection$/ },
];

async function converge(world: HetznerWorld): Promise<{ passes: PassResult[]; last: PassResult }> {
  const passes: PassResult[] = [];
  for (let i = 0; i < 5; i++) {
    const result = await world.pass();
    passes.push(result);
    if (result.outcome === 'no-op') return { passes, last: result };
  }
  throw new Error(
    `no no-op pass after 5 passes: ${passes.map((p) => p.errors.map((e) => `${e.code} ${e.key}`).join(', ')).join(' | ')}`,
  );
}

describe('a lost create answer at Hetzner, for every kind', { timeout: 120_000 }, () => {
  for (const row of ROWS) {
    it(`${row.kind}: recovered with no duplicate, nothing lost, no spurious warning`, async () => {
      const world = await HetznerWorld.start();
      try {
        world.sim.faults.inject({ type: 'drop-after', match: { method: 'POST', path: row.path } });
        const { passes, last } = await converge(world);
        // The fault did fire: one answer was lost after the work was done.
        expect(world.sim.requests.some((r) => r.status === 0 && r.method === 'POST')).toBe(true);
        const codes = passes.flatMap((p) => p.errors.map((e) => e.code));
        expect(codes).not.toContain('CONFLICT_UNOWNED');
        expect(codes).not.toContain('UNSTABLE_FIELD');
        expect(last.errors).toEqual([]);
        const { state } = world.sim;
        const names = (m: Map<number, { name: string }>) => [...m.values()].map((v) => v.name).sort();
        // Zero duplicates and nothing lost: exactly the desired objects, once each.
        expect(names(state.sshKeys)).toEqual(['admin']);
        expect(names(state.networks)).toEqual(['swarm']);
        expect(names(state.firewalls)).toEqual(['swarm']);
        expect(names(state.placementGroups)).toEqual(['swarm']);
        expect(names(state.servers)).toEqual(['swarm-1', 'swarm-2', 'swarm-3']);
        expect(names(state.volumes)).toEqual(['swarm-1-data', 'swarm-2-data', 'swarm-3-data']);
        // Converged, the multi-step server create included.
        const servers = [...state.servers.values()].sort((a, b) => a.name.localeCompare(b.name));
        expect(servers.map((s) => s.privateNet.map((p) => p.ip))).toEqual([
          ['10.0.1.11'],
          ['10.0.1.12'],
          ['10.0.1.13'],
        ]);
        expect(servers.every((s) => s.protection.delete && s.protection.rebuild)).toBe(true);
        const volumes = [...state.volumes.values()];
        expect(volumes.every((v) => servers.some((s) => s.id === v.server))).toBe(true);
        const data = await world.rig.store.load();
        expect(data.journal).toEqual({});
        expect(data.unstable ?? {}).toEqual({});
      } finally {
        await world.close();
      }
    });
  }
});
