import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CloudflareSimulator } from '../providers/cloudflare/simulator/index.ts';
import { startCloudflareSimulator } from '../providers/cloudflare/simulator/index.ts';
import { type HetznerSimulator, startHetznerSimulator } from '../providers/hetzner/simulator/index.ts';
import {
  type FirestoreDocuments,
  startFirestoreDocuments,
  testServiceAccount,
} from '../workers/shared/firestore-documents.ts';
import { EngineRig } from './support/engine-rig.ts';

// The company's Cloudflare desired state (desired-state/cloudflare, with the Hetzner servers its DNS
// points at) applied by the real engine through runPass, against both simulators; the deployed
// Workers run in workerd. Tests run in order: each builds on the state the previous one left.
let cf: CloudflareSimulator;
let hz: HetznerSimulator;
let firestore: FirestoreDocuments;
let rig: EngineRig;

const SECRETS = {
  'aircall-webhook-token': 'aircall-token-v1',
  'guesty-webhook-secret': `whsec_${Buffer.from('guesty-signing-key-0123456789').toString('base64')}`,
  'rocketchat-llm-token': 'rc-token',
  'groq-api-key': 'groq-key',
  'qdrant-api-key': 'qdrant-key',
};

const cfWrites = () => cf.writes();
const actions = (r: { plan: { changes: readonly { key: string; action: string }[] } }) =>
  Object.fromEntries(r.plan.changes.filter((c) => c.key.startsWith('cloudflare.')).map((c) => [c.key, c.action]));

const aircallEvent = (token: string) => ({
  resource: 'call',
  event: 'call.ended',
  timestamp: 1_700_000_100,
  token,
  data: { id: 9001, direction: 'outbound', status: 'done', duration: 42 },
});
const postAircall = (token: string) =>
  cf.fetchRoute('https://hooks.example.com/aircall', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(aircallEvent(token)),
  });

beforeAll(async () => {
  cf = await startCloudflareSimulator({ zones: ['example.com'] });
  hz = await startHetznerSimulator();
  const account = await testServiceAccount();
  firestore = await startFirestoreDocuments({ projectId: 'company-prod', publicKeyPem: account.publicKeyPem });
  rig = new EngineRig({ env: { ...cf.env(), HCLOUD_TOKEN: 'hz-token', HCLOUD_ENDPOINT: hz.endpoint } }).copyDesired(
    'hetzner',
    'cloudflare',
  );
  // The Workers must not reach the internet from a test: Firestore is a loopback capture here.
  rig.write(
    'cloudflare/workers.yaml',
    rig
      .read('cloudflare/workers.yaml')
      .replaceAll(
        '    GCP_PROJECT: company-prod\n',
        `    GCP_PROJECT: company-prod\n    FIRESTORE_URL: ${firestore.url}\n`,
      ),
  );
  // Secrets the Hetzner part may add later get placeholders; the Cloudflare ones are set above.
  rig.secrets = { ...SECRETS, 'gcp-workers-service-account': account.keyJson };
  rig.fillSecrets();
}, 120_000);

afterAll(async () => {
  await cf?.close();
  await hz?.close();
  await firestore?.close();
});

describe('the company Cloudflare desired state through runPass', { timeout: 120_000 }, () => {
  it('creates the DNS records, the backup bucket with its retention, three Workers with routes, a cron and secrets', async () => {
    // Hetzner servers settle over a pass or two; DNS records waiting for their IPv4 follow. Passes
    // repeat until Cloudflare has nothing left to do (bounded), then the last one must be clean.
    const pending = (r: Awaited<ReturnType<EngineRig['pass']>>) =>
      Object.values(actions(r)).some((a) => a !== 'no-op') || r.errors.some((e) => e.key?.startsWith('cloudflare.'));
    let result = await rig.pass();
    for (let i = 0; i < 10 && pending(result); i++) result = await rig.pass();
    const cfErrors = result.errors.filter((e) => e.key?.startsWith('cloudflare.'));
    expect(cfErrors).toEqual([]);
    const records = [...cf.state.records.values()];
    expect(records.filter((r) => r.name === 'example.com' && r.type === 'A')).toHaveLength(3);
    expect(records.filter((r) => /^swarm-\d\.example\.com$/.test(r.name))).toHaveLength(3);
    const ipv4 = [...hz.state.servers.values()].map((s) => s.ipv4).sort();
    expect(records.filter((r) => r.name === 'swarm-1.example.com')[0]?.content).toBe(
      [...hz.state.servers.values()].find((s) => s.name === 'swarm-1')?.ipv4,
    );
    expect(
      records
        .filter((r) => r.name === 'example.com' && r.type === 'A')
        .map((r) => r.content)
        .sort(),
    ).toEqual(ipv4);
    const caa = records.find((r) => r.type === 'CAA');
    expect(caa?.content).toBe('0 issue "letsencrypt.org"');
    const bucket = cf.state.buckets.get('company-backups');
    expect(bucket?.location).toBe('weur');
    const retention = bucket?.lifecycle.map((r) => [
      (r.conditions as { prefix: string }).prefix,
      (r.deleteObjectsTransition as { condition: { maxAge: number } }).condition.maxAge / 86_400,
    ]);
    expect(retention).toEqual([
      ['daily/', 7],
      ['weekly/', 28],
      ['monthly/', 365],
    ]);
    expect([...cf.state.scripts.keys()].sort()).toEqual(['aircall-webhook', 'guesty-webhook', 'llm-query']);
    expect([...cf.state.routes.values()].map((r) => `${r.pattern} -> ${r.script}`).sort()).toEqual([
      'hooks.example.com/aircall* -> aircall-webhook',
      'hooks.example.com/guesty* -> guesty-webhook',
      'hooks.example.com/llm* -> llm-query',
    ]);
    expect(cf.state.scripts.get('guesty-webhook')?.schedules.map((s) => s.cron)).toEqual(['*/30 * * * *']);
    expect(
      cf.state.scripts.get('aircall-webhook')?.bindings.find((b) => b.name === 'AIRCALL_WEBHOOK_TOKEN')?.type,
    ).toBe('secret_text');
  });

  it('a second pass is a no-op: no upload, no write at all', async () => {
    const writes = cfWrites();
    const result = await rig.pass();
    expect(Object.values(actions(result)).every((a) => a === 'no-op')).toBe(true);
    expect(cfWrites()).toBe(writes);
  });

  it('the deployed Aircall Worker answers through its route in workerd and writes to Firestore', async () => {
    const before = firestore.requests.length;
    const ok = await postAircall('aircall-token-v1');
    expect(ok.status).toBe(200);
    expect(firestore.requests.slice(before).map((r) => r.path)).toEqual([
      '/v1/projects/company-prod/databases/(default)/documents/aircall-events/call.ended-9001-1700000100',
    ]);
    expect((await postAircall('wrong')).status).toBe(401);
    expect((await cf.fetchRoute('https://hooks.example.com/nothing-here')).status).toBe(404);
  });

  it("the Guesty Worker's cron trigger runs in workerd and writes its heartbeat", async () => {
    const cron = cf.state.scripts.get('guesty-webhook')?.schedules[0]?.cron;
    expect(cron).toBe('*/30 * * * *');
    const before = firestore.requests.length;
    expect(await cf.triggerCron('guesty-webhook', cron as string)).toEqual({ outcome: 'ok' });
    // Authorised with a JWT the Worker signed with the service-account key (verified by the stand-in).
    expect(firestore.requests.slice(before).map((r) => [r.path, r.authorization?.split('.').length])).toEqual([
      ['/v1/projects/company-prod/databases/(default)/documents/worker-heartbeats/guesty-webhook', 3],
    ]);
  });

  it('a changed secret re-uploads only that Worker, and its value never shows in the result or the logs', async () => {
    rig.secrets['aircall-webhook-token'] = 'aircall-token-v2-very-secret';
    const uploadsBefore = cf.requests.filter((r) => r.method === 'PUT' && r.path.includes('/workers/scripts/')).length;
    const plan = await rig.pass('plan');
    expect(actions(plan)['cloudflare.WorkerScript/aircall-webhook']).toBe('update');
    const result = await rig.pass();
    const uploads = cf.requests
      .filter((r) => r.method === 'PUT' && r.path.includes('/workers/scripts/'))
      .slice(uploadsBefore);
    expect(uploads.map((r) => r.path)).toEqual([`/accounts/${cf.accountId}/workers/scripts/aircall-webhook`]);
    for (const text of [JSON.stringify(plan), JSON.stringify(result), ...rig.log.lines]) {
      expect(text).not.toContain('aircall-token-v2-very-secret');
      expect(text).not.toContain('aircall-token-v1');
    }
    expect((await postAircall('aircall-token-v2-very-secret')).status).toBe(200);
    expect((await postAircall('aircall-token-v1')).status).toBe(401);
    const writes = cfWrites();
    await rig.pass();
    expect(cfWrites()).toBe(writes);
  });

  it('a record edited by hand is found as drift and healed', async () => {
    const www = [...cf.state.records.values()].find((r) => r.name === 'www.example.com');
    if (!www) throw new Error('www record missing');
    www.content = 'evil.example.net';
    www.proxied = false;
    const plan = await rig.pass('plan');
    const drift = plan.plan.drift.find((d) => d.key === 'cloudflare.DnsRecord/www');
    expect(drift?.fields.map((f) => f.path).sort()).toEqual(['content', 'proxied']);
    await rig.pass();
    expect(cf.state.records.get(www.id)).toMatchObject({ content: 'example.com', proxied: true });
  });

  it('an unowned record with the same name and type is refused and reported, never changed', async () => {
    const zone = cf.state.zoneByName('example.com');
    if (!zone) throw new Error('zone missing');
    cf.state.records.set('hand-made', {
      id: 'hand-made',
      zone_id: zone.id,
      zone_name: zone.name,
      name: 'status.example.com',
      type: 'CNAME',
      content: 'statuspage.example.org',
      ttl: 300,
      proxied: false,
      proxiable: true,
      comment: 'made by hand',
      tags: [],
      created_on: '2024-01-01T00:00:00Z',
      modified_on: '2024-01-01T00:00:00Z',
    });
    rig.write(
      'cloudflare/status.yaml',
      'kind: cloudflare.DnsRecord\nname: status\nspec:\n  zone: example.com\n  name: status\n  type: CNAME\n  content: example.com\n  proxied: true\n',
    );
    const result = await rig.pass();
    const change = result.plan.changes.find((c) => c.key === 'cloudflare.DnsRecord/status');
    expect(change).toMatchObject({ action: 'skip', reason: 'unowned' });
    expect(cf.state.records.get('hand-made')).toMatchObject({
      content: 'statuspage.example.org',
      comment: 'made by hand',
    });
  });

  it('a bucket that still holds objects is never deleted', async () => {
    cf.putObject('company-backups', 'daily/2026-01-01.tar.zst', 1024);
    const handler = rig.registry.handler('cloudflare.R2Bucket');
    const owned = {
      key: 'cloudflare.R2Bucket/company-backups',
      kind: 'cloudflare.R2Bucket',
      name: 'company-backups',
      id: 'company-backups',
      owned: true,
      spec: {},
      outputs: {},
      ready: true,
    };
    const ctx = {
      owner: 'keelson-test',
      log: rig.log,
      signal: new AbortController().signal,
      inventory: { get: () => undefined, list: () => [], set: async () => {}, remove: async () => {} },
    };
    await expect(handler?.delete(ctx, owned)).rejects.toMatchObject({
      class: 'terminal',
      message: /still holds objects/,
    });
    expect(cf.state.buckets.has('company-backups')).toBe(true);
  });
});
