import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HetznerWorld } from './support/hetzner-world.ts';

describe('the Hetzner part of the system, through runPass', { timeout: 60_000 }, () => {
  let world: HetznerWorld;
  beforeAll(async () => {
    world = await HetznerWorld.start();
  });
  afterAll(() => world.close());

  it('creates everything from scratch', async () => {
    const result = await world.pass();
    expect(result.errors).toEqual([]);
    expect(result.outcome).toBe('changed');
    const { state } = world.sim;
    const servers = [...state.servers.values()].sort((a, b) => a.name.localeCompare(b.name));
    expect(servers.map((s) => s.name)).toEqual(['swarm-1', 'swarm-2', 'swarm-3']);
    // fixed private addresses, one placement group, ssh key given at creation
    expect(servers.map((s) => s.privateNet[0]?.ip)).toEqual(['10.0.1.11', '10.0.1.12', '10.0.1.13']);
    expect(new Set(servers.map((s) => s.placementGroup)).size).toBe(1);
    expect(servers.every((s) => s.protection.delete && s.protection.rebuild)).toBe(true);
    const volumes = [...state.volumes.values()];
    expect(volumes).toHaveLength(3);
    expect(volumes.every((v) => servers.some((s) => s.id === v.server))).toBe(true);
    // each server got its cloud-init user data at creation: its own private address, node 1 inits
    for (const s of servers) expect(s.userData).toContain(`NODE_IP=${s.privateNet[0]?.ip}\n`);
    expect(servers.map((s) => s.userData?.includes('- path: /usr/local/sbin/keelson-join-token\n'))).toEqual([
      true,
      false,
      false,
    ]);
    const firewall = [...state.firewalls.values()][0]!;
    // open to the world: HTTP/HTTPS (and ICMP); SSH from the admins' range only; no Swarm port at all
    const publicPorts = firewall.rules
      .filter((r) => r.source_ips.includes('0.0.0.0/0'))
      .map((r) => `${r.protocol}/${r.port ?? ''}`);
    expect(publicPorts.sort()).toEqual(['icmp/', 'tcp/443', 'tcp/80']);
    expect(firewall.rules.find((r) => r.port === '22')?.source_ips).toEqual(['203.0.113.0/24']);
    for (const port of ['2377', '7946', '4789', '2380'])
      expect(firewall.rules.some((r) => r.port === port)).toBe(false);
    expect(firewall.applied_to).toEqual([{ type: 'label_selector', label_selector: { selector: 'role=swarm' } }]);
    // Hetzner label values cannot hold "/": the key is written as kind + name labels
    expect(servers[0]!.labels).toMatchObject({
      'keelson.io/owner': 'keelson-test',
      'keelson.io/kind': 'hetzner.Server',
      'keelson.io/name': 'swarm-1',
      role: 'swarm',
    });
  });

  it('a second pass is a no-op that only lists', async () => {
    const before = world.sim.requests.length;
    const result = await world.pass();
    const calls = world.sim.requests.slice(before);
    expect(result.errors).toEqual([]);
    expect(result.outcome).toBe('no-op');
    expect(calls.every((c) => c.method === 'GET')).toBe(true);
    // one list per kind (six kinds) plus one image lookup; never one call per resource
    expect(calls.length).toBe(7);
    console.log(`hetzner no-op pass: ${calls.length} API calls (${calls.map((c) => c.path).join(', ')})`);
  });

  it('a firewall rule changed by hand is found as drift and healed', async () => {
    const firewall = [...world.sim.state.firewalls.values()][0]!;
    firewall.rules = firewall.rules.map((r) => (r.port === '443' ? { ...r, source_ips: ['198.51.100.0/24'] } : r));
    const result = await world.pass();
    expect(result.errors).toEqual([]);
    expect(result.plan.drift.map((d) => d.key)).toEqual(['hetzner.Firewall/swarm']);
    const https = firewall.rules.find((r) => r.port === '443');
    expect(https?.source_ips).toEqual(['0.0.0.0/0', '::/0']);
    expect((await world.pass()).outcome).toBe('no-op');
  });

  it('a crash between the create request and the journal update creates no duplicate', async () => {
    world.write(
      'node-4.yaml',
      'kind: hetzner.Server\nname: swarm-4\nspec:\n  serverType: cx22\n  image: debian-12\n  location: fsn1\n  labels: { role: swarm }\n',
    );
    // What the crashed pass left: a journal entry, and the server the vendor did create.
    const data = await world.rig.store.load();
    data.journal['hetzner.Server/swarm-4'] = {
      key: 'hetzner.Server/swarm-4',
      kind: 'hetzner.Server',
      name: 'swarm-4',
      state: 'creating',
      revision: 'crashed',
      at: new Date().toISOString(),
    };
    await world.rig.store.save(data);
    const handler = world.rig.registry.handler('hetzner.Server')!;
    const { resolvedResource, testContext } = await import('../providers/sdk/testing.ts');
    const { serverSchema } = await import('../providers/hetzner/kinds/server.ts');
    await handler.create(
      testContext({ owner: 'keelson-test' }),
      resolvedResource(serverSchema, 'swarm-4', {
        serverType: 'cx22',
        image: 'debian-12',
        location: 'fsn1',
        labels: { role: 'swarm' },
      }),
    );
    const before = world.sim.requests.length;
    const result = await world.pass();
    expect(result.errors).toEqual([]);
    const named = [...world.sim.state.servers.values()].filter((s) => s.name === 'swarm-4');
    expect(named).toHaveLength(1);
    expect(world.sim.requests.slice(before).some((r) => r.method === 'POST' && r.path === '/v1/servers')).toBe(false);
    expect((await world.rig.store.load()).journal).toEqual({});
  });

  it('429s in the middle of an apply slow it down; it finishes without losing errors', async () => {
    // An empty bucket that refills only when keelson's budget waits (on a clock that skips the wait):
    // the first request is refused whatever the machine's speed, and every wait is what lets it go on.
    const bucket = { limit: 40, refillPerSecond: 0 };
    world.sim.rateLimit.configure({ ...bucket, remaining: 0 });
    world.onBudgetWait = () => world.sim.rateLimit.configure({ ...bucket, remaining: bucket.limit });
    world.write('extra.yaml', 'kind: hetzner.PlacementGroup\nname: extra\nspec:\n  labels: { purpose: rate-test }\n');
    const before = world.sim.requests.length;
    const result = await world.pass().finally(() => {
      world.onBudgetWait = undefined;
      world.sim.rateLimit.configure({ limit: 3600, refillPerSecond: 1 });
    });
    expect(result.errors).toEqual([]);
    expect(result.results.find((r) => r.key === 'hetzner.PlacementGroup/extra')?.status).toBe('applied');
    expect([...world.sim.state.placementGroups.values()].some((g) => g.name === 'extra')).toBe(true);
    const calls = world.sim.requests.slice(before);
    expect(calls.some((c) => c.status === 429)).toBe(true);
  });

  it('an action that fails is reported with the vendor error', async () => {
    world.sim.faults.inject({ type: 'fail-action', command: 'create_server', message: 'no capacity in fsn1' });
    world.write(
      'node-5.yaml',
      'kind: hetzner.Server\nname: swarm-5\nspec:\n  serverType: cx22\n  image: debian-12\n  location: fsn1\n',
    );
    const result = await world.pass();
    const failure = result.errors.find((e) => e.key === 'hetzner.Server/swarm-5');
    expect(failure?.message).toContain('no capacity in fsn1');
    expect(failure?.message).toContain('create_server');
    world.remove('node-5.yaml');
  });

  it('a protected firewall removed from Git is kept', async () => {
    world.write(
      'hetzner/access.yaml',
      world.rig.read('hetzner/access.yaml').replace(/kind: hetzner.Firewall[\s\S]*?---\n/, ''),
    );
    const result = await world.pass();
    const change = result.plan.changes.find((c) => c.key === 'hetzner.Firewall/swarm');
    expect(change?.action).toBe('skip');
    expect(change?.reason).toBe('protected');
    expect([...world.sim.state.firewalls.values()].map((f) => f.name)).toEqual(['swarm']);
  });
});
