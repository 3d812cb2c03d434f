import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDockerHost } from '../providers/swarm/test-support.ts';
import { loadDesiredState } from '../reconciler/desired/load.ts';
import type { PassResult } from '../reconciler/engine/pass.ts';
import { EngineRig, REPO_ROOT } from './support/engine-rig.ts';

// The company's Swarm desired state (desired-state/swarm: node labels and every stack) planned by
// the real engine against the test Swarm (DOCKER_HOST). Only planned: every chart runs registry
// images (Traefik, SeaweedFS, MongoDB, RocketChat, ...) that cannot be pulled here, and the nodes
// swarm-1..3 are Hetzner servers, not this engine. Nothing is written to the shared engine.
let rig: EngineRig;

beforeAll(() => {
  rig = new EngineRig({ env: { DOCKER_HOST: testDockerHost() } }).copyDesired('swarm');
  // The charts name their secrets (x-keelson-secret-ref): a placeholder value for each.
  const refs = new Set<string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object')
      for (const [k, x] of Object.entries(v)) k === 'secretRef' && typeof x === 'string' ? refs.add(x) : walk(x);
  };
  for (const r of loadDesiredState(rig.desired, rig.registry, { root: REPO_ROOT }).resources) walk(r.spec);
  for (const name of refs) rig.secrets[name] = `placeholder-value-of-${name}`;
});
afterAll(() => rig?.close());

const swarmChanges = (r: PassResult) => r.plan.changes.filter((c) => c.key.startsWith('swarm.'));

describe("the company's Swarm stacks, planned against the test Swarm", { timeout: 120_000 }, () => {
  it("plans every stack object as a create, keelson's own stack observed only", async () => {
    const before = rig.log.lines.length;
    const result = await rig.pass('plan');
    const changes = swarmChanges(result);
    const byAction = (action: string) => changes.filter((c) => c.action === action).map((c) => c.key);
    console.log(
      `swarm company plan: ${changes.length} changes (${byAction('create').length} creates); errors: ${result.errors.map((e) => `${e.key ?? e.kind}: ${e.message}`).join(' | ')}`,
    );
    // every service of every stack
    const services = byAction('create').filter((k) => k.startsWith('swarm.Service/'));
    for (const stack of [
      'traefik',
      'seaweedfs',
      'netdata',
      'mongodb',
      'rocketchat',
      'keycloak',
      'mongo-listener',
      'sync-app',
    ])
      expect(
        services.some((k) => k.startsWith(`swarm.Service/${stack}_`)),
        stack,
      ).toBe(true);
    // keelson's own stack is `policy: observe`: reported, never changed by keelson.
    expect(byAction('skip').sort()).toEqual(
      changes
        .filter((c) => c.key.includes('/keelson_'))
        .map((c) => c.key)
        .sort(),
    );
    expect(byAction('skip').length).toBeGreaterThan(1);
    // Everything else is created, the three nodes included: a plan shows them as "create" (the
    // provider's plan does not look them up); an apply waits (NOT_READY) until they have joined.
    expect(changes.filter((c) => c.action !== 'create' && c.action !== 'skip')).toEqual([]);
    expect(
      byAction('create')
        .filter((k) => k.startsWith('swarm.Node/'))
        .sort(),
    ).toEqual(['swarm.Node/swarm-1', 'swarm.Node/swarm-2', 'swarm.Node/swarm-3']);
    expect(result.errors).toEqual([]);
    // no secret value reaches the plan or the log
    const text = JSON.stringify(result) + rig.log.lines.slice(before).join('\n');
    for (const value of Object.values(rig.secrets)) expect(text).not.toContain(value);
  });
});
