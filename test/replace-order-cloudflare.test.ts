import { afterEach, describe, expect, it } from 'vitest';
import { parseComment } from '../providers/cloudflare/ownership.ts';
import type { RequestLogEntry } from '../providers/cloudflare/simulator/index.ts';
import { type CloudflareTestRig, startCloudflareRig } from '../providers/cloudflare/testing.ts';
import { renderPlan } from '../reconciler/render/human.ts';
import { planToJson } from '../reconciler/render/json.ts';
import { EngineRig } from './support/engine-rig.ts';

/**
 * Replacement order at Cloudflare, against the simulator (which refuses a CNAME beside another
 * record of its name, code 81053, as Cloudflare does). Why the expected result is right: a record
 * whose type changes is a new record; when the vendor lets both exist at once the name must never
 * stop resolving, so the new record is created (POST) before the old one is deleted (DELETE), and
 * at no write is there no record of that name; when they cannot coexist (a CNAME and any other
 * record of one name) the old one has to go first, and the plan says so and why.
 */
const record = (type: string, content: string, name = 'www') =>
  `kind: cloudflare.DnsRecord\nname: www\nspec:\n  zone: example.com\n  name: ${name}\n  type: ${type}\n  content: ${content}\n  ttl: 300\n`;

const DNS = /^\/zones\/[^/]+\/dns_records/;

interface World {
  readonly cf: CloudflareTestRig;
  readonly rig: EngineRig;
  /** Records of `www.example.com` after every successful write, in order. */
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
      const records = [...(holder.cf?.sim.state.records.values() ?? [])];
      samples.push(records.filter((r) => r.name === 'www.example.com').length);
    },
  });
  holder.cf = cf;
  const rig = new EngineRig({ providers: [cf.provider], retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 50 } });
  const w = { cf, rig, samples };
  open.push(w);
  return w;
}

/** The DNS writes since `from`, as `METHOD` strings. */
function dnsWrites(requests: readonly RequestLogEntry[], from: number): string[] {
  return requests
    .slice(from)
    .filter((r) => DNS.test(r.path) && r.method !== 'GET')
    .map((r) => r.method);
}

function wwwRecords(cf: CloudflareTestRig): { type: string; content: string; name?: string }[] {
  return [...cf.sim.state.records.values()]
    .filter((r) => r.name === 'www.example.com')
    .map((r) => ({ type: r.type, content: r.content, name: parseComment(r.comment).name }));
}

describe('replacing a DNS record', { timeout: 60_000 }, () => {
  it('A -> AAAA of one name: created first, then the old one deleted; never a moment without a record', async () => {
    const { cf, rig, samples } = await world();
    rig.write('dns.yaml', record('A', '203.0.113.10'));
    expect((await rig.pass()).outcome).toBe('changed');

    rig.write('dns.yaml', record('AAAA', '2001:db8::10'));
    const planned = await rig.pass('plan');
    const change = planned.plan.changes.find((c) => c.key === 'cloudflare.DnsRecord/www');
    expect(change).toMatchObject({ action: 'replace', replaceOrder: 'create-first' });
    expect(change?.replaceWhy).toContain('may share the name www.example.com');
    const text = renderPlan(planned.plan, { color: false });
    expect(text).toContain('+/- cloudflare.DnsRecord/www');
    expect(text).toContain('create the new one first, then delete the old one');
    const json = planToJson(planned.plan) as { changes: { actions: string[]; replace_order: string }[] };
    expect(json.changes[0]).toMatchObject({ actions: ['create', 'delete'], replace_order: 'create-first' });

    const from = cf.sim.requests.length;
    const before = samples.length;
    const applied = await rig.pass();
    expect(applied.errors).toEqual([]);
    expect(dnsWrites(cf.sim.requests, from)).toEqual(['POST', 'DELETE']);
    // After the POST both records exist; after the DELETE the new one: never zero.
    expect(samples.slice(before)).toEqual([2, 1]);
    expect(wwwRecords(cf)).toEqual([{ type: 'AAAA', content: '2001:db8::10', name: 'www' }]);
    expect((await rig.pass()).outcome).toBe('no-op');
    const state = await rig.store.load();
    expect(state.journal).toEqual({});
    expect(Object.keys(state.applied)).toEqual(['cloudflare.DnsRecord/www']);
  });

  it('a record moved to another zone: created first (the names differ)', async () => {
    const { cf, rig } = await world();
    cf.sim.addZone('example.org');
    rig.write('dns.yaml', record('TXT', 'v=one'));
    await rig.pass();
    rig.write('dns.yaml', record('TXT', 'v=one').replace('zone: example.com', 'zone: example.org'));
    const from = cf.sim.requests.length;
    const applied = await rig.pass();
    expect(applied.plan.changes[0]).toMatchObject({ action: 'replace', replaceOrder: 'create-first' });
    expect(applied.errors).toEqual([]);
    expect(dnsWrites(cf.sim.requests, from)).toEqual(['POST', 'DELETE']);
    expect([...cf.sim.state.records.values()].map((r) => r.name)).toEqual(['www.example.org']);
  });

  it('A -> CNAME of one name: they cannot coexist, so the old one is deleted first, and the plan says why', async () => {
    const { cf, rig, samples } = await world();
    rig.write('dns.yaml', record('A', '203.0.113.10'));
    await rig.pass();
    rig.write('dns.yaml', record('CNAME', 'origin.example.net'));
    const planned = await rig.pass('plan');
    const change = planned.plan.changes[0];
    expect(change).toMatchObject({ action: 'replace', replaceOrder: 'delete-first' });
    expect(change?.replaceWhy).toContain('a CNAME cannot share its name (www.example.com)');
    const text = renderPlan(planned.plan, { color: false });
    expect(text).toContain('-/+ cloudflare.DnsRecord/www');
    expect(text).toContain('delete the old one first, then create the new one: a CNAME cannot share');
    expect((planToJson(planned.plan) as { changes: { actions: string[] }[] }).changes[0]?.actions).toEqual([
      'delete',
      'create',
    ]);

    const from = cf.sim.requests.length;
    const before = samples.length;
    const applied = await rig.pass();
    expect(applied.errors).toEqual([]);
    expect(dnsWrites(cf.sim.requests, from)).toEqual(['DELETE', 'POST']);
    expect(samples.slice(before)).toEqual([0, 1]);
    expect(wwwRecords(cf)).toEqual([{ type: 'CNAME', content: 'origin.example.net', name: 'www' }]);
    expect((await rig.pass()).outcome).toBe('no-op');
  });

  it('the create-first delete fails: the new record stays, the pass says so, and the next pass deletes the old one once', async () => {
    const { cf, rig } = await world();
    rig.write('dns.yaml', record('A', '203.0.113.10'));
    await rig.pass();
    const oldId = [...cf.sim.state.records.values()][0]?.id as string;
    rig.write('dns.yaml', record('TXT', 'v=spf1 -all'));
    cf.sim.injectFault({ method: 'DELETE', path: DNS, status: 500, times: 3 });
    const failed = await rig.pass();
    expect(failed.outcome).toBe('failed');
    expect(failed.errors.map((e) => e.message).join('\n')).toContain(
      `created the new cloudflare.DnsRecord/www, but the old one (id ${oldId}) is not deleted yet`,
    );
    expect(
      wwwRecords(cf)
        .map((r) => r.type)
        .sort(),
    ).toEqual(['A', 'TXT']);

    const from = cf.sim.requests.length;
    const next = await rig.pass();
    const leftover = next.plan.changes.find((c) => c.action === 'delete');
    expect(leftover?.key).toMatch(/^cloudflare\.DnsRecord\/www~replaced-[0-9a-f]{10}$/);
    expect(leftover?.detail).toContain(`left over from a replacement of cloudflare.DnsRecord/www (id ${oldId})`);
    expect(next.plan.changes.find((c) => c.key === 'cloudflare.DnsRecord/www')?.action).toBe('no-op');
    expect(next.errors).toEqual([]);
    expect(dnsWrites(cf.sim.requests, from)).toEqual(['DELETE']);
    expect(cf.sim.requests.slice(from).find((r) => r.method === 'DELETE')?.path).toContain(oldId);
    expect(wwwRecords(cf)).toEqual([{ type: 'TXT', content: 'v=spf1 -all', name: 'www' }]);
    expect((await rig.pass()).outcome).toBe('no-op');
  });

  it('a lost create answer in a create-first replacement: the old record is never taken for the new one', async () => {
    const { cf, rig } = await world();
    rig.write('dns.yaml', record('A', '203.0.113.10'));
    await rig.pass();
    rig.write('dns.yaml', record('AAAA', '2001:db8::10'));
    cf.sim.loseResponse({ method: 'POST', path: DNS });
    const from = cf.sim.requests.length;
    const applied = await rig.pass();
    expect(applied.errors).toEqual([]);
    // POST (answer lost), then the look-up finds the new record (not the old A one), then DELETE of the old.
    expect(dnsWrites(cf.sim.requests, from)).toEqual(['POST', 'DELETE']);
    expect(wwwRecords(cf)).toEqual([{ type: 'AAAA', content: '2001:db8::10', name: 'www' }]);
    expect((await rig.pass()).outcome).toBe('no-op');
  });

  it('a create-first POST that fails (nothing made): the old record, still there, is not taken for the new one', async () => {
    const { cf, rig } = await world();
    rig.write('dns.yaml', record('A', '203.0.113.10'));
    await rig.pass();
    rig.write('dns.yaml', record('AAAA', '2001:db8::10'));
    // A transient failure: the create is retried after a look-up, which finds only the old A record
    // under the resource's name. Taking it for the new one would delete the only record left.
    cf.sim.injectFault({ method: 'POST', path: DNS, status: 500 });
    const from = cf.sim.requests.length;
    const applied = await rig.pass();
    expect(applied.errors).toEqual([]);
    expect(dnsWrites(cf.sim.requests, from)).toEqual(['POST', 'POST', 'DELETE']);
    expect(wwwRecords(cf)).toEqual([{ type: 'AAAA', content: '2001:db8::10', name: 'www' }]);
    expect((await rig.pass()).outcome).toBe('no-op');
  });

  it('a create-first replacement whose create is refused keeps the old record (delete-first would have lost it)', async () => {
    const { cf, rig } = await world();
    rig.write('dns.yaml', record('A', '203.0.113.10'));
    await rig.pass();
    rig.write('dns.yaml', record('AAAA', '2001:db8::10'));
    cf.sim.injectFault({
      method: 'POST',
      path: DNS,
      status: 400,
      code: 9005,
      message: 'Content for AAAA record is invalid.',
    });
    const from = cf.sim.requests.length;
    const failed = await rig.pass();
    expect(failed.outcome).toBe('failed');
    expect(dnsWrites(cf.sim.requests, from)).toEqual(['POST']);
    expect(wwwRecords(cf)).toEqual([{ type: 'A', content: '203.0.113.10', name: 'www' }]);
    // Once the vendor takes it, the replacement goes through.
    const next = await rig.pass();
    expect(next.errors).toEqual([]);
    expect(wwwRecords(cf)).toEqual([{ type: 'AAAA', content: '2001:db8::10', name: 'www' }]);
  });
});
