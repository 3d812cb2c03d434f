import Cloudflare from 'cloudflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CloudflareSimulator, startCloudflareSimulator } from './simulator.ts';
import { checkCloudflareExchanges, cloudflareSpecMissing } from './spec-check.ts';

// What other clients than keelson's use, driven by the official SDK (and raw HTTP where wrangler's
// way of sending is the point): DNS export/import/batch, Global API Key auth, JSON sent as text/plain.
describe('the Cloudflare simulator for the official SDK and wrangler', () => {
  let sim: CloudflareSimulator;
  let zone: string;
  beforeAll(async () => {
    sim = await startCloudflareSimulator({ recordBodies: true });
    zone = [...sim.state.zones.values()][0]!.id;
  });
  afterAll(() => sim.close());

  const sdk = (options: ConstructorParameters<typeof Cloudflare>[0] = {}) =>
    new Cloudflare({ apiToken: sim.token, baseURL: sim.url, maxRetries: 0, ...options });

  it('runs a DNS batch all or nothing, in the order deletes, patches, puts, posts', async () => {
    const cf = sdk();
    const a = await cf.dns.records.create({ zone_id: zone, type: 'A', name: 'a', content: '192.0.2.1', ttl: 1 });
    const done = await cf.dns.records.batch({
      zone_id: zone,
      deletes: [{ id: a.id }],
      posts: [
        { type: 'A', name: 'b', content: '192.0.2.2', ttl: 1 },
        { type: 'TXT', name: 'b', content: 'hello', ttl: 300 },
      ],
    });
    expect(done.deletes?.map((r) => r.id)).toEqual([a.id]);
    expect(done.posts?.map((r) => r.name)).toEqual(['b.example.com', 'b.example.com']);
    // A failing operation undoes the ones before it.
    const before = [...sim.state.records.keys()].sort();
    await expect(
      cf.dns.records.batch({
        zone_id: zone,
        posts: [
          { type: 'A', name: 'c', content: '192.0.2.3', ttl: 1 },
          { type: 'A', name: 'd', content: 'not-an-address', ttl: 1 },
        ],
      }),
    ).rejects.toMatchObject({ status: 400 });
    expect([...sim.state.records.keys()].sort()).toEqual(before);
  });

  it('exports the zone as a BIND file and imports one', async () => {
    const cf = sdk();
    const exported = await cf.dns.records.export({ zone_id: zone });
    expect(exported).toMatch(/^b\.example\.com\.\t1\tIN\tA\t192\.0\.2\.2$/m);
    expect(exported).toMatch(/^b\.example\.com\.\t300\tIN\tTXT\t"hello"$/m);
    const file =
      '; imported\n$ORIGIN example.com.\nimp.example.com. 3600 IN A 198.51.100.7\nmx.example.com. 300 IN MX 10 mail.example.com.\n';
    const imported = await cf.dns.records.import({ zone_id: zone, file });
    expect(imported).toEqual({ recs_added: 2, total_records_parsed: 2 });
    const mx = [...sim.state.records.values()].find((r) => r.type === 'MX');
    expect(mx).toMatchObject({ name: 'mx.example.com', content: 'mail.example.com', priority: 10, ttl: 300 });
  });

  it('routes an unknown path as the API does, not as a record id', async () => {
    const res = await fetch(`${sim.url}/zones/${zone}/dns_records/nothing/here`, {
      headers: { authorization: `Bearer ${sim.token}` },
    });
    const body = (await res.json()) as { errors: { code: number }[] };
    expect(body.errors.map((e) => e.code)).toEqual([7003, 7000]);
  });

  it('takes the Global API Key, and refuses a wrong one or half of one with the vendor codes', async () => {
    const byKey = sdk({ apiToken: null, apiEmail: sim.email, apiKey: sim.globalKey });
    expect((await byKey.zones.list()).result.map((z) => z.name)).toEqual(['example.com']);
    await expect(sdk({ apiToken: null, apiEmail: sim.email, apiKey: 'wrong' }).zones.list()).rejects.toMatchObject({
      status: 403,
      errors: [{ code: 9103 }],
    });
    const half = await fetch(`${sim.url}/zones`, { headers: { 'x-auth-key': sim.globalKey } });
    expect(half.status).toBe(400);
    expect(((await half.json()) as { errors: { code: number }[] }).errors[0]!.code).toBe(9106);
    await expect(sdk({ apiToken: 'wrong-token' }).zones.list()).rejects.toMatchObject({
      status: 403,
      errors: [{ code: 10000 }],
    });
  });

  it('parses a JSON body sent as text/plain, as wrangler sends it', async () => {
    const res = await fetch(`${sim.url}/accounts/${sim.accountId}/r2/buckets`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sim.token}`, 'content-type': 'text/plain;charset=UTF-8' },
      body: JSON.stringify({ name: 'plain-text-bucket' }),
    });
    expect(res.status).toBe(200);
    expect(sim.state.buckets.has('plain-text-bucket')).toBe(true);
  });

  it('answers these exchanges as the OpenAPI document says, where it covers them', (ctx) => {
    const specMissing = cloudflareSpecMissing();
    if (specMissing) {
      console.log(`OpenAPI check of these exchanges NOT run: ${specMissing}`);
      ctx.skip();
    }
    const report = checkCloudflareExchanges(sim.requests);
    expect(report.problems).toEqual([]);
    expect(report.checked).toBeGreaterThan(3);
  });
});
