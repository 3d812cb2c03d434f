import { afterEach, describe, expect, it } from 'vitest';
import type { RequestLogEntry } from '../providers/cloudflare/simulator/index.ts';
import { type CloudflareTestRig, startCloudflareRig } from '../providers/cloudflare/testing.ts';
import { renderPlan } from '../reconciler/render/human.ts';
import { EngineRig } from './support/engine-rig.ts';

/**
 * Replacement order of a Worker's cron triggers, against the Cloudflare simulator. Triggers moved
 * to another script are new triggers (Cloudflare keeps one list per script, written whole by
 * PUT). Why the expected result is right: the triggers of two scripts coexist, so the new
 * script's are written before the old script's are cleared and at no write is the schedule
 * without a script to run it; triggers carry no labels, so ownership is the inventory, and the
 * old script must stay recorded (under its leftover key) until its triggers are cleared, or a
 * failed clear would leave them firing, unowned, for ever. The two scripts exist at the vendor
 * from the start (put in the simulator's state): this is about the triggers, not the scripts.
 */
const SCHEDULES = /^\/accounts\/[^/]+\/workers\/scripts\/([^/]+)\/schedules$/;
const KEY = 'cloudflare.WorkerCron/heartbeat';

const cron = (script: string) =>
  `kind: cloudflare.WorkerCron\nname: heartbeat\nspec:\n  script: ${script}\n  schedules: ['*/30 * * * *']\n`;

interface World {
  readonly cf: CloudflareTestRig;
  readonly rig: EngineRig;
  /** Scripts with triggers after every successful write, in order. */
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
    onChange: () => {
      const scripts = [...(holder.cf?.sim.state.scripts.values() ?? [])];
      samples.push(scripts.filter((s) => s.schedules.length > 0).length);
    },
  });
  holder.cf = cf;
  const at = new Date().toISOString();
  for (const name of ['alpha', 'beta']) {
    cf.sim.state.scripts.set(name, {
      id: name,
      etag: name,
      created_on: at,
      modified_on: at,
      compatibility_date: '2024-09-23',
      compatibility_flags: [],
      tags: [],
      bindings: [],
      modules: [],
      main_module: 'index.js',
      handlers: ['fetch', 'scheduled'],
      schedules: [],
    });
  }
  const rig = new EngineRig({ providers: [cf.provider], retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 50 } });
  const w = { cf, rig, samples };
  open.push(w);
  return w;
}

/** The schedule writes since `from`, as `PUT <script>`. */
function cronWrites(requests: readonly RequestLogEntry[], from: number): string[] {
  return requests
    .slice(from)
    .filter((r) => SCHEDULES.test(r.path) && r.method !== 'GET')
    .map((r) => `${r.method} ${SCHEDULES.exec(r.path)?.[1]}`);
}

function triggers(cf: CloudflareTestRig): Record<string, string[]> {
  return Object.fromEntries([...cf.sim.state.scripts.values()].map((s) => [s.id, s.schedules.map((c) => c.cron)]));
}

async function inventory(rig: EngineRig): Promise<Record<string, string>> {
  const state = await rig.store.load();
  return Object.fromEntries(
    Object.values(state.inventory)
      .filter((e) => e.kind === 'cloudflare.WorkerCron')
      .map((e) => [e.key, e.id]),
  );
}

async function onAlpha(w: World): Promise<void> {
  w.rig.write('cron.yaml', cron('alpha'));
  expect((await w.rig.pass()).errors).toEqual([]);
  expect(triggers(w.cf)).toEqual({ alpha: ['*/30 * * * *'], beta: [] });
}

describe('replacing cron triggers (moved to another script)', { timeout: 60_000 }, () => {
  it("the new script's triggers are written first, then the old script's cleared; never a moment without", async () => {
    const w = await world();
    const { cf, rig, samples } = w;
    await onAlpha(w);
    rig.write('cron.yaml', cron('beta'));
    const planned = await rig.pass('plan');
    const change = planned.plan.changes.find((c) => c.key === KEY);
    expect(change).toMatchObject({ action: 'replace', replaceOrder: 'create-first' });
    expect(change?.replaceWhy).toContain("the new script's triggers are set before the old script's are cleared");
    expect(renderPlan(planned.plan, { color: false })).toContain('create the new one first, then delete the old one');

    const from = cf.sim.requests.length;
    const before = samples.length;
    const applied = await rig.pass();
    expect(applied.errors).toEqual([]);
    expect(cronWrites(cf.sim.requests, from)).toEqual(['PUT beta', 'PUT alpha']);
    expect(samples.slice(before)).toEqual([2, 1]);
    expect(triggers(cf)).toEqual({ alpha: [], beta: ['*/30 * * * *'] });
    expect(await inventory(rig)).toEqual({ [KEY]: 'beta' });
    expect((await rig.pass()).outcome).toBe('no-op');
  });

  it("the old script's triggers cannot be cleared: they stay recorded as a leftover, and the next pass clears them exactly once", async () => {
    const w = await world();
    const { cf, rig } = w;
    await onAlpha(w);
    rig.write('cron.yaml', cron('beta'));
    cf.sim.injectFault({ method: 'PUT', path: /\/scripts\/alpha\/schedules$/, status: 500, times: 3 });
    const failed = await rig.pass();
    expect(failed.outcome).toBe('failed');
    expect(failed.errors.map((e) => e.message).join('\n')).toContain(
      `created the new ${KEY}, but the old one (id alpha) is not deleted yet`,
    );
    expect(triggers(cf)).toEqual({ alpha: ['*/30 * * * *'], beta: ['*/30 * * * *'] });
    const recorded = await inventory(rig);
    expect(recorded[KEY]).toBe('beta');
    expect(Object.entries(recorded).find(([k]) => k !== KEY)).toEqual([
      expect.stringMatching(/^cloudflare\.WorkerCron\/heartbeat~replaced-[0-9a-f]{10}$/),
      'alpha',
    ]);

    const from = cf.sim.requests.length;
    const next = await rig.pass();
    expect(next.errors).toEqual([]);
    const leftover = next.plan.changes.find((c) => c.action === 'delete');
    expect(leftover?.key).toMatch(/^cloudflare\.WorkerCron\/heartbeat~replaced-[0-9a-f]{10}$/);
    expect(leftover?.detail).toContain(`left over from a replacement of ${KEY} (id alpha)`);
    expect(next.plan.changes.find((c) => c.key === KEY)?.action).toBe('no-op');
    expect(cronWrites(cf.sim.requests, from)).toEqual(['PUT alpha']);
    expect(triggers(cf)).toEqual({ alpha: [], beta: ['*/30 * * * *'] });
    expect(await inventory(rig)).toEqual({ [KEY]: 'beta' });
    expect((await rig.pass()).outcome).toBe('no-op');
  });

  it("a lost answer to the new script's write: its triggers are claimed (not the old script), then the old ones cleared", async () => {
    const w = await world();
    const { cf, rig } = w;
    await onAlpha(w);
    rig.write('cron.yaml', cron('beta'));
    cf.sim.loseResponse({ method: 'PUT', path: /\/scripts\/beta\/schedules$/ });
    const from = cf.sim.requests.length;
    const applied = await rig.pass();
    expect(applied.errors).toEqual([]);
    expect(cronWrites(cf.sim.requests, from)).toEqual(['PUT beta', 'PUT alpha']);
    expect(triggers(cf)).toEqual({ alpha: [], beta: ['*/30 * * * *'] });
    expect(await inventory(rig)).toEqual({ [KEY]: 'beta' });
    expect((await rig.pass()).outcome).toBe('no-op');
  });

  it("a write the vendor refuses keeps the old script's triggers, which are replaced again (never cleared alone)", async () => {
    const w = await world();
    const { cf, rig } = w;
    await onAlpha(w);
    rig.write('cron.yaml', cron('beta'));
    const refuse = {
      method: 'PUT',
      path: /\/scripts\/beta\/schedules$/,
      status: 400,
      code: 10100,
      message: 'Invalid cron.',
    };
    cf.sim.injectFault({ ...refuse, times: 2 });
    const failed = await rig.pass();
    expect(failed.outcome).toBe('failed');
    expect(triggers(cf)).toEqual({ alpha: ['*/30 * * * *'], beta: [] });
    const from = cf.sim.requests.length;
    const again = await rig.pass();
    expect(again.outcome).toBe('failed');
    expect(again.plan.changes.map((c) => [c.key, c.action])).toEqual([[KEY, 'replace']]);
    expect(cronWrites(cf.sim.requests, from)).toEqual(['PUT beta']);
    expect(triggers(cf)).toEqual({ alpha: ['*/30 * * * *'], beta: [] });
    const last = cf.sim.requests.length;
    const next = await rig.pass();
    expect(next.errors).toEqual([]);
    expect(cronWrites(cf.sim.requests, last)).toEqual(['PUT beta', 'PUT alpha']);
    expect(triggers(cf)).toEqual({ alpha: [], beta: ['*/30 * * * *'] });
    expect(await inventory(rig)).toEqual({ [KEY]: 'beta' });
    expect((await rig.pass()).outcome).toBe('no-op');
  });
});
