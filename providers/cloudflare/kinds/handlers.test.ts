import { afterAll, describe, expect, it } from 'vitest';
import { RecordingLogger } from '../../../test/support/engine-rig.ts';
import { KeelsonError, SecretValue } from '../../sdk/index.ts';
import { diffResource, resolvedResource, silentLogger } from '../../sdk/testing.ts';
import { cloudflareModule } from '../index.ts';
import { markComment } from '../ownership.ts';
import { rigContext, startCloudflareRig } from '../testing.ts';
import { dnsRecordSchema } from './dns-record.ts';
import { r2BucketSchema } from './r2-bucket.ts';
import { workerBundleBuilder } from './worker-bundle.ts';
import { EDITED_OUTSIDE, workerScriptSchema } from './worker-script.ts';

// Handler behaviour beyond the contract kit: ownership, adoption, drift sources, faults, rate limits.
const rig = await startCloudflareRig({ zones: ['example.com'] });
const ctx = rigContext();
const dns = rig.handler(dnsRecordSchema.kind);
const buckets = rig.handler(r2BucketSchema.kind);
const scripts = rig.handler(workerScriptSchema.kind);
const zoneId = rig.sim.addZone('example.com');
afterAll(() => rig.close());

function handMade(id: string, name: string, comment: string | null) {
  rig.sim.state.records.set(id, {
    id,
    zone_id: zoneId,
    zone_name: 'example.com',
    name,
    type: 'TXT',
    content: 'v=hand',
    ttl: 1,
    proxied: false,
    proxiable: false,
    comment,
    tags: [],
    created_on: '2024-01-01T00:00:00Z',
    modified_on: '2024-01-01T00:00:00Z',
  });
}

describe('cloudflare.DnsRecord ownership', () => {
  const txt = (name: string, extra = {}) =>
    resolvedResource(dnsRecordSchema, name, { zone: 'example.com', name, type: 'TXT', content: 'v=keelson' }, extra);

  it('a record of the same name and type that keelson does not own is reported unowned, and create refuses it', async () => {
    handMade('hand-1', 'verify.example.com', 'made by hand');
    const found = await dns.observe(ctx, { kind: dnsRecordSchema.kind, names: ['verify'], desired: [txt('verify')] });
    expect(found).toMatchObject([{ name: 'verify', id: 'hand-1', owned: false }]);
    await expect(dns.create(ctx, txt('verify'))).rejects.toMatchObject({ code: 'CONFLICT_UNOWNED', class: 'terminal' });
    expect(rig.sim.state.records.get('hand-1')?.content).toBe('v=hand');
  });

  it("a record owned by another keelson instance is not this one's", async () => {
    handMade('other-1', 'other.example.com', markComment(undefined, 'keelson-elsewhere', 'other'));
    const found = await dns.observe(ctx, { kind: dnsRecordSchema.kind, names: ['other'], desired: [txt('other')] });
    expect(found).toMatchObject([{ name: 'other', owned: false }]);
  });

  it('adopt: true takes the record over in place, keeping the user comment and adding the marker', async () => {
    const adopted = await dns.create(ctx, txt('verify', { adopt: true }));
    expect(adopted).toMatchObject({ id: 'hand-1', owned: true });
    expect(rig.sim.state.records.get('hand-1')?.comment).toBe('[keelson owner=keelson-test name=verify]');
    const again = await dns.observe(ctx, { kind: dnsRecordSchema.kind, names: ['verify'], desired: [txt('verify')] });
    expect(again[0]?.owned).toBe(true);
    expect(diffResource(dnsRecordSchema, dns, txt('verify'), again[0] as never)).toEqual([]);
  });

  it('lists records page by page until the API answers an empty page, as the SDK does', async () => {
    const before = rig.sim.requests.length;
    await dns.observe(ctx, { kind: dnsRecordSchema.kind, names: [], desired: [] });
    const pages = rig.sim.requests
      .slice(before)
      .filter((r) => r.path.endsWith('/dns_records'))
      .map((r) => new URLSearchParams(r.query).get('page') ?? '1');
    expect(pages).toEqual(['1', '2']);
    const past = await fetch(`${rig.sim.url}/zones/${zoneId}/dns_records?page=99`, {
      headers: { authorization: `Bearer ${rig.sim.token}` },
    });
    expect(await past.json()).toMatchObject({ success: true, result: [] });
  });
});

describe('cloudflare.R2Bucket', () => {
  it('follows the R2 cursor across pages', async () => {
    for (let i = 0; i < 25; i++) {
      rig.sim.state.buckets.set(`page-${String(i).padStart(2, '0')}`, {
        name: `page-${String(i).padStart(2, '0')}`,
        location: 'enam',
        creation_date: '2024-01-01T00:00:00Z',
        lifecycle: [],
        objects: new Map(),
      });
    }
    const first = (await rig.provider.client.sdk.get(`/accounts/${rig.sim.accountId}/r2/buckets`, {
      query: { per_page: 10 },
    })) as { result: { buckets: { name: string }[] }; result_info: { cursor?: string } };
    expect(first.result.buckets).toHaveLength(10);
    expect(first.result_info.cursor).toBeTruthy();
    const second = (await rig.provider.client.sdk.get(`/accounts/${rig.sim.accountId}/r2/buckets`, {
      query: { per_page: 10, cursor: first.result_info.cursor },
    })) as { result: { buckets: { name: string }[] } };
    expect(second.result.buckets[0]?.name).toBe('page-10');
    // the handler sees a bucket on the last page when it is in its inventory
    await ctx.inventory.set({ key: 'cloudflare.R2Bucket/page-24', kind: r2BucketSchema.kind, id: 'page-24' });
    const found = await buckets.observe(ctx, { kind: r2BucketSchema.kind, names: [], desired: [] });
    expect(found.map((b) => b.name)).toContain('page-24');
  });

  it('never deletes a bucket that still holds objects (terminal), and keeps it in the inventory', async () => {
    const spec = { lifecycle: [] };
    const created = await buckets.create(ctx, resolvedResource(r2BucketSchema, 'full-bucket', spec));
    rig.sim.putObject('full-bucket', 'daily/1.tar');
    const error = await buckets.delete(ctx, created).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeelsonError);
    expect(error).toMatchObject({ class: 'terminal', resource: 'cloudflare.R2Bucket/full-bucket' });
    expect(rig.sim.state.buckets.has('full-bucket')).toBe(true);
    expect(ctx.inventory.get('cloudflare.R2Bucket/full-bucket')).toBeDefined();
  });
});

describe('cloudflare.WorkerScript', () => {
  const source = 'providers/cloudflare/testdata/hello-worker';
  // What the load step's build puts into the desired spec (the plan never bundles).
  const built = workerBundleBuilder.build({ source }, { root: process.cwd(), resource: 'secret-worker' });
  const worker = (token: string) =>
    resolvedResource(workerScriptSchema, 'secret-worker', {
      source,
      compatibilityDate: '2024-09-23',
      secrets: { API_KEY: new SecretValue(token, 'api-key') },
      ...built.fields,
    });
  const observeWorker = async (token: string) =>
    (
      await scripts.observe(ctx, { kind: workerScriptSchema.kind, names: ['secret-worker'], desired: [worker(token)] })
    )[0];

  it('compares write-only secrets by the digest kept in the inventory', async () => {
    await scripts.create(ctx, worker('first'));
    const live = await observeWorker('first');
    expect(JSON.stringify(live)).not.toContain('first');
    expect(diffResource(workerScriptSchema, scripts, worker('first'), live as never)).toEqual([]);
    const changes = diffResource(workerScriptSchema, scripts, worker('second'), live as never);
    expect(changes.map((c) => [c.path, c.sensitive])).toEqual([['secrets.API_KEY', true]]);
  });

  it('code changed outside keelson shows as a bundle change and is re-uploaded', async () => {
    const live = rig.sim.state.scripts.get('secret-worker');
    if (!live) throw new Error('script missing');
    live.etag = 'edited-in-the-dashboard';
    const observed = await observeWorker('first');
    expect(observed?.spec.bundleHash).toBe(EDITED_OUTSIDE);
    const changes = diffResource(workerScriptSchema, scripts, worker('first'), observed as never);
    expect(changes.map((c) => c.path)).toEqual(['bundleHash']);
    await scripts.update(ctx, worker('first'), observed as never, changes);
    expect(diffResource(workerScriptSchema, scripts, worker('first'), (await observeWorker('first')) as never)).toEqual(
      [],
    );
  });
});

describe('Cloudflare client faults and rate limits', () => {
  it('waits out 429s with retry-after and finishes; the budget shows what was spent; the token is never logged', async () => {
    const log = new RecordingLogger();
    const logged = await startCloudflareRig({ zones: ['example.com'] });
    try {
      const provider = cloudflareModule.create({ env: { ...logged.sim.env(), KEELSON_REPO_ROOT: '.' }, log });
      if ('unavailable' in provider) throw new Error(provider.unavailable);
      logged.sim.injectFault({ method: 'GET', path: '/dns_records', status: 429, retryAfterSeconds: 1, times: 2 });
      const handler = provider.kinds.find((k) => k.schema.kind === dnsRecordSchema.kind)?.handler;
      await expect(handler?.observe(ctx, { kind: dnsRecordSchema.kind, names: [], desired: [] })).resolves.toEqual([]);
      expect(logged.sim.requests.filter((r) => r.status === 429)).toHaveLength(2);
      const budget = provider.rateBudget?.();
      expect(budget?.limit).toBe(1200);
      expect(budget?.remaining).toBeLessThan(1200);
      expect(log.lines.length).toBeGreaterThan(0);
      expect(log.lines.join('\n')).not.toContain(logged.sim.token);
    } finally {
      await logged.close();
    }
  });

  const faults: [string, number, string][] = [
    ['a 5xx is transient (retry with backoff)', 503, 'transient'],
    ['a 400 is terminal (the request itself is wrong)', 400, 'terminal'],
  ];
  for (const [why, status, cls] of faults) {
    it(why, async () => {
      rig.sim.injectFault({ method: 'GET', path: '/workers/scripts', status });
      await expect(
        scripts.observe(ctx, { kind: workerScriptSchema.kind, names: [], desired: [] }),
      ).rejects.toMatchObject({
        class: cls,
        status,
      });
    });
  }

  it('connect verifies the token: a good one passes, a wrong one is UNAVAILABLE', async () => {
    await expect(rig.provider.connect?.(ctx)).resolves.toBeUndefined();
    const wrong = cloudflareModule.create({
      env: { ...rig.sim.env(), CLOUDFLARE_API_TOKEN: 'wrong' },
      log: silentLogger,
    });
    if ('unavailable' in wrong) throw new Error(wrong.unavailable);
    await expect(wrong.connect?.(ctx)).rejects.toMatchObject({ code: 'UNAVAILABLE', class: 'terminal' });
  });

  it('is unavailable, saying why, without a token or an account', () => {
    expect(cloudflareModule.create({ env: {}, log: silentLogger })).toEqual({
      unavailable: 'CLOUDFLARE_API_TOKEN (or CLOUDFLARE_API_TOKEN_FILE) is not set',
    });
    expect(cloudflareModule.create({ env: { CLOUDFLARE_API_TOKEN: 't' }, log: silentLogger })).toEqual({
      unavailable: 'CLOUDFLARE_ACCOUNT_ID is not set',
    });
  });
});
