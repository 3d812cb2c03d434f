import { describe, expect, it } from 'vitest';
import { type CloudflareTestRig, startCloudflareRig } from '../providers/cloudflare/testing.ts';
import type { PassResult } from '../reconciler/engine/pass.ts';
import { EngineRig } from './support/engine-rig.ts';

/**
 * Lost responses, one row per Cloudflare create: the simulator does the work and then closes the
 * connection unanswered (`loseResponse`), during the first apply of a tree holding one resource of
 * every kind. Recovery passes follow. Why the expected result is right: the client cannot tell a
 * lost answer from a failed request, so keelson must find what it made (by name, or for the kinds
 * whose ownership lives in the inventory, through its create journal) instead of creating it again
 * (zero duplicates), must never refuse its own object as CONFLICT_UNOWNED, must finish the steps
 * after the lost one (a bucket's lifecycle, a script's secrets), and must end with an empty create
 * journal, every object in the inventory or labelled, and a no-op pass.
 */
const TREE = `kind: cloudflare.DnsRecord
name: api
spec:
  zone: example.com
  name: api
  type: A
  content: 203.0.113.10
  ttl: 300
---
kind: cloudflare.R2Bucket
name: lost-backups
spec:
  locationHint: weur
  lifecycle:
    - { prefix: daily/, expireAfterDays: 7 }
---
kind: cloudflare.WorkerScript
name: aircall-webhook
spec:
  source: workers/aircall-webhook
  compatibilityDate: '2024-09-23'
  vars:
    GCP_PROJECT: company-prod
    FIRESTORE_COLLECTION: aircall-events
  secrets:
    AIRCALL_WEBHOOK_TOKEN: { secretRef: aircall-webhook-token }
    GCP_SERVICE_ACCOUNT_KEY: { secretRef: gcp-workers-service-account }
---
kind: cloudflare.WorkerRoute
name: aircall-webhook
spec:
  zone: example.com
  pattern: hooks.example.com/aircall*
  script: { ref: cloudflare.WorkerScript/aircall-webhook, output: name }
---
kind: cloudflare.WorkerCron
name: aircall-heartbeat
spec:
  script: { ref: cloudflare.WorkerScript/aircall-webhook, output: name }
  schedules: ['*/30 * * * *']
`;

const ROWS: readonly { readonly kind: string; readonly method: string; readonly path: string | RegExp }[] = [
  { kind: 'cloudflare.DnsRecord', method: 'POST', path: /^\/zones\/[^/]+\/dns_records$/ },
  { kind: 'cloudflare.R2Bucket', method: 'POST', path: /^\/accounts\/[^/]+\/r2\/buckets$/ },
  { kind: 'cloudflare.R2Bucket (lifecycle)', method: 'PUT', path: /\/r2\/buckets\/[^/]+\/lifecycle$/ },
  { kind: 'cloudflare.WorkerScript', method: 'PUT', path: /^\/accounts\/[^/]+\/workers\/scripts\/[^/]+$/ },
  { kind: 'cloudflare.WorkerRoute', method: 'POST', path: /^\/zones\/[^/]+\/workers\/routes$/ },
  { kind: 'cloudflare.WorkerCron', method: 'PUT', path: /\/workers\/scripts\/[^/]+\/schedules$/ },
];

async function converge(rig: EngineRig): Promise<{ passes: PassResult[]; last: PassResult }> {
  const passes: PassResult[] = [];
  for (let i = 0; i < 5; i++) {
    const result = await rig.pass();
    passes.push(result);
    if (result.outcome === 'no-op') return { passes, last: result };
  }
  throw new Error(
    `no no-op pass after 5 passes: ${passes.map((p) => p.errors.map((e) => `${e.code} ${e.message}`).join(', ')).join(' | ')}`,
  );
}

describe('a lost create answer at Cloudflare, for every kind', { timeout: 120_000 }, () => {
  for (const row of ROWS) {
    it(`${row.kind}: recovered with no duplicate, nothing lost, no spurious warning`, async () => {
      const cf: CloudflareTestRig = await startCloudflareRig();
      const rig = new EngineRig({
        providers: [cf.provider],
        retry: { attempts: 4, baseDelayMs: 20, maxDelayMs: 200 },
      }).write('cloudflare.yaml', TREE);
      rig.secrets = { 'aircall-webhook-token': 'token-v1', 'gcp-workers-service-account': '{"k":"v"}' };
      try {
        cf.sim.loseResponse({ method: row.method, path: row.path });
        const { passes, last } = await converge(rig);
        expect(cf.sim.requests.some((r) => r.status === 0)).toBe(true);
        const codes = passes.flatMap((p) => p.errors.map((e) => e.code));
        expect(codes).not.toContain('CONFLICT_UNOWNED');
        expect(codes).not.toContain('UNSTABLE_FIELD');
        expect(last.errors).toEqual([]);
        const s = cf.sim.state;
        // Zero duplicates, nothing lost.
        const records = [...s.records.values()].filter((r) => r.name === 'api.example.com');
        expect(records.map((r) => r.content)).toEqual(['203.0.113.10']);
        expect([...s.buckets.keys()]).toEqual(['lost-backups']);
        expect(s.buckets.get('lost-backups')?.lifecycle).toHaveLength(1);
        expect([...s.scripts.keys()]).toEqual(['aircall-webhook']);
        const script = s.scripts.get('aircall-webhook');
        const secrets = (script?.bindings ?? []).filter((b) => b.type === 'secret_text').map((b) => b.name);
        expect(secrets.sort()).toEqual(['AIRCALL_WEBHOOK_TOKEN', 'GCP_SERVICE_ACCOUNT_KEY']);
        expect([...s.routes.values()].map((r) => [r.pattern, r.script])).toEqual([
          ['hooks.example.com/aircall*', 'aircall-webhook'],
        ]);
        expect(script?.schedules.map((c) => c.cron)).toEqual(['*/30 * * * *']);
        const data = await rig.store.load();
        expect(data.journal).toEqual({});
        expect(data.unstable ?? {}).toEqual({});
        // What keelson made and cannot label is in its inventory.
        expect(Object.keys(data.inventory).sort()).toEqual(
          expect.arrayContaining([
            'cloudflare.R2Bucket/lost-backups',
            'cloudflare.WorkerCron/aircall-heartbeat',
            'cloudflare.WorkerRoute/aircall-webhook',
          ]),
        );
      } finally {
        await cf.close();
        rig.close();
      }
    });
  }
});
