import { afterAll, describe, expect, it } from 'vitest';
import { type ObservedResource, SecretValue } from '../../sdk/index.ts';
import { diffResource, resolvedResource } from '../../sdk/testing.ts';
import { rigContext, startGcpRig } from '../testing.ts';
import { SECRET_KIND, secretSchema } from './secret.ts';

// Secret versions: a new value adds one, the previous one is disabled and destroyed only after the
// grace period (driven by the provider's clock, not by waiting).
const DAY = 86_400_000;
let now = Date.parse('2026-01-01T00:00:00Z');
const rig = await startGcpRig({ provider: { now: () => now } });
const ctx = rigContext();
const handler = rig.handler(SECRET_KIND);
afterAll(() => rig.close());

const desired = (value: string) =>
  resolvedResource(secretSchema, 'rotating', { value: new SecretValue(value, 'rotating'), destroyAfterDays: 7 });
const look = async () =>
  (await handler.observe(ctx, { kind: SECRET_KIND, names: ['rotating'], desired: [desired('x')] })).find(
    (o) => o.name === 'rotating',
  ) as ObservedResource;
async function versions(): Promise<Record<string, string>> {
  const [list] = (await rig.provider.api.clients.secrets().listSecretVersions({
    parent: `projects/${rig.sim.projectId}/secrets/rotating`,
  })) as [{ name: string; state: string | number }[]];
  return Object.fromEntries(list.map((v) => [v.name.split('/').at(-1) as string, String(v.state)]));
}

describe('gcp.SecretManagerSecret versions', () => {
  it('a new value adds a version and disables the previous one; the value is compared by digest', async () => {
    await handler.create(ctx, desired('one'));
    let observed = await look();
    expect(diffResource(secretSchema, handler, desired('one'), observed)).toEqual([]);
    const changes = diffResource(secretSchema, handler, desired('two'), observed);
    expect(changes.map((c) => c.path)).toEqual(['value']);
    // a plan shows no value: the change carries digests only
    expect(JSON.stringify(changes)).not.toMatch(/"one"|"two"/);
    await handler.update(ctx, desired('two'), observed, changes);
    observed = await look();
    expect(diffResource(secretSchema, handler, desired('two'), observed)).toEqual([]);
    expect(await versions()).toEqual({ '1': 'DISABLED', '2': 'ENABLED' });
  });

  it('the disabled version is destroyed only after the grace period', async () => {
    now += 6 * DAY;
    await handler.collectGarbage?.(ctx);
    expect((await versions())['1']).toBe('DISABLED');
    now += 2 * DAY;
    await handler.collectGarbage?.(ctx);
    expect(await versions()).toEqual({ '1': 'DESTROYED', '2': 'ENABLED' });
    // nothing left to do: a second collection writes nothing
    const before = rig.sim.writes();
    await handler.collectGarbage?.(ctx);
    expect(rig.sim.writes()).toBe(before);
  });
});
