import { afterEach, describe, expect, it } from 'vitest';
import type { RequestLogEntry } from '../providers/cloudflare/simulator/index.ts';
import { type CloudflareTestRig, startCloudflareRig } from '../providers/cloudflare/testing.ts';
import { leftoverName } from '../providers/sdk/index.ts';
import { renderPlan } from '../reconciler/render/human.ts';
import { EngineRig } from './support/engine-rig.ts';

/**
 * Replacement order of a Worker route, against the Cloudflare simulator (which refuses a second
 * route of one pattern in a zone, code 10020, as Cloudflare does). A route moved to another zone
 * is a new route. Why the expected result is right: two routes of different patterns coexist, so
 * the new one is created (POST) before the old one is deleted (DELETE) and at no write is the
 * Worker left without a route; routes carry no labels, so ownership is the inventory, and the old
 * route must stay recorded (under its leftover key) until it is deleted, or a failed delete or a
 * lost answer would orphan it (or take it for the new one). The same pattern in two zones (a zone
 * and a subdomain zone of it) is deleted first, and the plan says why.
 */
const ROUTES = /^\/zones\/[^/]+\/workers\/routes/;
const KEY = 'cloudflare.WorkerRoute/hooks';

const route = (zone: string, pattern: string) =>
  `kind: cloudflare.WorkerRoute\nname: hooks\nspec:\n  zone: ${zone}\n  pattern: ${pattern}\n  script: aircall-webhook\n`;

interface World {
  readonly cf: CloudflareTestRig;
  readonly rig: EngineRig;
  /** Routes to the Worker after every successful write, in order. */
  readonly samples: number[];
}

const open: World[] = [];
afterEach(async () => {
  for (const w of open.splice(0)) {
    await w.cf.close();
    w.rig.close();
  }
});

async function world(): Promise<World> {
  const samples: number[] = [];
  const holder: { cf?: CloudflareTestRig } = {};
  const cf = await startCloudflareRig({
    zones: ['example.com', 'example.org', 'shop.example.com'],
    onChange: () => {
      const routes = [...(holder.cf?.sim.state.routes.values() ?? [])];
      samples.push(routes.filter((r) => r.script === 'aircall-webhook').length);
    },
  });
  holder.cf = cf;
  const rig = new EngineRig({ providers: [cf.provider], retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 50 } });
  const w = { cf, rig, samples };
  open.push(w);
  return w;
}

/** The route writes since `from`, as `METHOD` strings (`DELETE old` for the old route's id). */
function routeWrites(requests: readonly RequestLogEntry[], from: number, oldId?: string): string[] {
  return requests
    .slice(from)
    .filter((r) => ROUTES.test(r.path) && r.method !== 'GET')
    .map((r) => (oldId !== undefined && r.path.endsWith(`/${oldId}`) ? `${r.method} old` : r.method));
}

function routes(cf: CloudflareTestRig): { zone: string; pattern: string }[] {
  const zoneName = new Map([...cf.sim.state.zones.values()].map((z) => [z.id, z.name]));
  return [...cf.sim.state.routes.values()].map((r) => ({ zone: zoneName.get(r.zone_id) ?? '?', pattern: r.pattern }));
}

async function firstRoute(w: World): Promise<string> {
  w.rig.write('route.yaml', route('example.com', 'hooks.example.com/aircall*'));
  const first = await w.rig.pass();
  expect(first.errors).toEqual([]);
  return [...w.cf.sim.state.routes.values()][0]?.id as string;
}

async function inventory(rig: EngineRig): Promise<Record<string, string>> {
  const state = await rig.store.load();
  return Object.fromEntries(
    Object.values(state.inventory)
      .filter((e) => e.kind === 'cloudflare.WorkerRoute')
      .map((e) => [e.key, e.id]),
  );
}

describe('replacing a Worker route', { timeout: 60_000 }, () => {
  it('moved to another zone (a new pattern): created first, then the old one deleted; the Worker never without a route', async () => {
    const w = await world();
    const { cf, rig, samples } = w;
    const oldId = await firstRoute(w);
    rig.write('route.yaml', route('example.org', 'hooks.example.org/aircall*'));
    const planned = await rig.pass('plan');
    const change = planned.plan.changes.find((c) => c.key === KEY);
    expect(change).toMatchObject({ action: 'replace', replaceOrder: 'create-first' });
    expect(change?.replaceWhy).toContain('does not share its pattern with the old one');
    expect(renderPlan(planned.plan, { color: false })).toContain('create the new one first, then delete the old one');

    const from = cf.sim.requests.length;
    const before = samples.length;
    const applied = await rig.pass();
    expect(applied.errors).toEqual([]);
    expect(routeWrites(cf.sim.requests, from, oldId)).toEqual(['POST', 'DELETE old']);
    expect(samples.slice(before)).toEqual([2, 1]);
    expect(routes(cf)).toEqual([{ zone: 'example.org', pattern: 'hooks.example.org/aircall*' }]);
    const newId = [...cf.sim.state.routes.values()][0]?.id as string;
    expect(await inventory(rig)).toEqual({ [KEY]: newId });
    expect((await rig.pass()).outcome).toBe('no-op');
  });

  it('the same pattern in a subdomain zone: the two cannot both be live, so the old one is deleted first, and the plan says why', async () => {
    const w = await world();
    const { cf, rig, samples } = w;
    rig.write('route.yaml', route('example.com', 'hooks.shop.example.com/*'));
    await rig.pass();
    const oldId = [...cf.sim.state.routes.values()][0]?.id as string;
    rig.write('route.yaml', route('shop.example.com', 'hooks.shop.example.com/*'));
    const planned = await rig.pass('plan');
    const change = planned.plan.changes.find((c) => c.key === KEY);
    expect(change).toMatchObject({ action: 'replace', replaceOrder: 'delete-first' });
    expect(change?.replaceWhy).toContain('the same pattern (hooks.shop.example.com/*) as the old one');
    expect(renderPlan(planned.plan, { color: false })).toContain('delete the old one first, then create the new one');

    const from = cf.sim.requests.length;
    const before = samples.length;
    const applied = await rig.pass();
    expect(applied.errors).toEqual([]);
    expect(routeWrites(cf.sim.requests, from, oldId)).toEqual(['DELETE old', 'POST']);
    expect(samples.slice(before)).toEqual([0, 1]);
    expect(routes(cf)).toEqual([{ zone: 'shop.example.com', pattern: 'hooks.shop.example.com/*' }]);
    expect((await rig.pass()).outcome).toBe('no-op');
  });

  it('the delete of the old route fails: it stays recorded as a leftover, and the next pass deletes it exactly once', async () => {
    const w = await world();
    const { cf, rig } = w;
    const oldId = await firstRoute(w);
    rig.write('route.yaml', route('example.org', 'hooks.example.org/aircall*'));
    cf.sim.injectFault({ method: 'DELETE', path: ROUTES, status: 500, times: 3 });
    const failed = await rig.pass();
    expect(failed.outcome).toBe('failed');
    expect(failed.errors.map((e) => e.message).join('\n')).toContain(
      `created the new ${KEY}, but the old one (id ${oldId}) is not deleted yet`,
    );
    expect(routes(cf).map((r) => r.zone)).toEqual(['example.com', 'example.org']);
    const newId = [...cf.sim.state.routes.values()].find((r) => r.id !== oldId)?.id as string;
    // Both recorded: the new route under the key, the old one under its leftover key.
    const recorded = await inventory(rig);
    expect(recorded[KEY]).toBe(newId);
    expect(Object.entries(recorded).find(([k]) => k !== KEY)).toEqual([
      expect.stringMatching(/^cloudflare\.WorkerRoute\/hooks~replaced-[0-9a-f]{10}$/),
      oldId,
    ]);

    const from = cf.sim.requests.length;
    const next = await rig.pass();
    expect(next.errors).toEqual([]);
    const leftover = next.plan.changes.find((c) => c.action === 'delete');
    expect(leftover?.key).toMatch(/^cloudflare\.WorkerRoute\/hooks~replaced-[0-9a-f]{10}$/);
    expect(leftover?.detail).toContain(`left over from a replacement of ${KEY} (id ${oldId})`);
    expect(next.plan.changes.find((c) => c.key === KEY)?.action).toBe('no-op');
    expect(routeWrites(cf.sim.requests, from, oldId)).toEqual(['DELETE old']);
    expect(routes(cf)).toEqual([{ zone: 'example.org', pattern: 'hooks.example.org/aircall*' }]);
    expect(await inventory(rig)).toEqual({ [KEY]: newId });
    expect((await rig.pass()).outcome).toBe('no-op');
  });

  it('a lost create answer: the new route is claimed (not the old one), then the old one is deleted', async () => {
    const w = await world();
    const { cf, rig } = w;
    const oldId = await firstRoute(w);
    rig.write('route.yaml', route('example.org', 'hooks.example.org/aircall*'));
    cf.sim.loseResponse({ method: 'POST', path: ROUTES });
    const from = cf.sim.requests.length;
    const applied = await rig.pass();
    expect(applied.errors).toEqual([]);
    // POST (done, answer lost); the look-up finds the new route and claims it; DELETE of the old.
    expect(routeWrites(cf.sim.requests, from, oldId)).toEqual(['POST', 'DELETE old']);
    expect(routes(cf)).toEqual([{ zone: 'example.org', pattern: 'hooks.example.org/aircall*' }]);
    const newId = [...cf.sim.state.routes.values()][0]?.id as string;
    expect(await inventory(rig)).toEqual({ [KEY]: newId });
    expect((await rig.pass()).outcome).toBe('no-op');
  });

  it('a create the vendor refuses keeps the old route, which is replaced again (never deleted as a leftover alone)', async () => {
    const w = await world();
    const { cf, rig } = w;
    const oldId = await firstRoute(w);
    rig.write('route.yaml', route('example.org', 'hooks.example.org/aircall*'));
    cf.sim.injectFault({ method: 'POST', path: ROUTES, status: 400, code: 10022, message: 'Invalid route.', times: 2 });
    const failed = await rig.pass();
    expect(failed.outcome).toBe('failed');
    expect(routes(cf)).toEqual([{ zone: 'example.com', pattern: 'hooks.example.com/aircall*' }]);
    // Refused again: the old route is still the resource (a replacement), not a leftover to delete.
    const from = cf.sim.requests.length;
    const again = await rig.pass();
    expect(again.outcome).toBe('failed');
    expect(again.plan.changes.map((c) => [c.key, c.action])).toEqual([[KEY, 'replace']]);
    expect(routeWrites(cf.sim.requests, from, oldId)).toEqual(['POST']);
    expect(routes(cf)).toEqual([{ zone: 'example.com', pattern: 'hooks.example.com/aircall*' }]);
    // Once the vendor takes it, the replacement goes through, the old route deleted once.
    const last = cf.sim.requests.length;
    const next = await rig.pass();
    expect(next.errors).toEqual([]);
    expect(routeWrites(cf.sim.requests, last, oldId)).toEqual(['POST', 'DELETE old']);
    expect(routes(cf)).toEqual([{ zone: 'example.org', pattern: 'hooks.example.org/aircall*' }]);
    const newId = [...cf.sim.state.routes.values()][0]?.id as string;
    expect(await inventory(rig)).toEqual({ [KEY]: newId });
    expect((await rig.pass()).outcome).toBe('no-op');
  });
  it("a route in the way in the new zone that is not keelson's: refused, and the old route stays the resource (not deleted)", async () => {
    const w = await world();
    const { cf, rig } = w;
    const oldId = await firstRoute(w);
    const org = [...cf.sim.state.zones.values()].find((z) => z.name === 'example.org')?.id as string;
    cf.sim.state.routes.set('foreign', {
      id: 'foreign',
      zone_id: org,
      pattern: 'hooks.example.org/aircall*',
      script: 'other',
    });
    rig.write('route.yaml', route('example.org', 'hooks.example.org/aircall*'));
    const from = cf.sim.requests.length;
    for (let i = 0; i < 2; i++) {
      const refused = await rig.pass();
      expect(refused.errors.map((e) => e.code)).toEqual(['CONFLICT_UNOWNED']);
      expect(refused.plan.changes.map((c) => [c.key, c.action])).toEqual([[KEY, 'replace']]);
    }
    expect(routeWrites(cf.sim.requests, from, oldId)).toEqual([]);
    expect(routes(cf).sort((a, b) => a.zone.localeCompare(b.zone))).toEqual([
      { zone: 'example.com', pattern: 'hooks.example.com/aircall*' },
      { zone: 'example.org', pattern: 'hooks.example.org/aircall*' },
    ]);
    expect(await inventory(rig)).toEqual({ [KEY]: oldId });
  });
  it('killed between the two inventory writes of the move (the old route under its key and its leftover key): replaced again, deleted once', async () => {
    const w = await world();
    const { cf, rig } = w;
    const oldId = await firstRoute(w);
    const state = await rig.store.load();
    const entry = state.inventory[KEY] as NonNullable<(typeof state.inventory)[string]>;
    const leftoverKey = `cloudflare.WorkerRoute/${leftoverName('hooks', oldId)}`;
    state.inventory[leftoverKey] = { ...entry, key: leftoverKey };
    await rig.store.save(state);
    rig.write('route.yaml', route('example.org', 'hooks.example.org/aircall*'));
    const from = cf.sim.requests.length;
    const applied = await rig.pass();
    expect(applied.errors).toEqual([]);
    expect(applied.plan.changes.map((c) => [c.key, c.action])).toEqual([[KEY, 'replace']]);
    expect(routeWrites(cf.sim.requests, from, oldId)).toEqual(['POST', 'DELETE old']);
    const newId = [...cf.sim.state.routes.values()][0]?.id as string;
    expect(await inventory(rig)).toEqual({ [KEY]: newId });
    expect((await rig.pass()).outcome).toBe('no-op');
  });
});
