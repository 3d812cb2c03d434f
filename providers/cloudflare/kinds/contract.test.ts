import { afterAll, beforeAll } from 'vitest';
import { describeHandlerContract } from '../../sdk/contract-kit.ts';
import { resolvedResource } from '../../sdk/testing.ts';
import { rigContext, startCloudflareRig } from '../testing.ts';
import { dnsRecordSchema } from './dns-record.ts';
import { r2BucketSchema } from './r2-bucket.ts';
import { workerCronSchema } from './worker-cron.ts';
import { workerRouteSchema } from './worker-route.ts';
import { workerScriptSchema } from './worker-script.ts';

// Every writable Cloudflare kind passes the shared contract kit against the simulator, through the official SDK.
const rig = await startCloudflareRig({ zones: ['example.com', 'example.net'] });
const ctx = rigContext();
const kind = (schema: { kind: string }) => {
  const found = rig.provider.kinds.find((k) => k.schema.kind === schema.kind);
  if (!found) throw new Error(`kind ${schema.kind} missing`);
  return found;
};
const writes = () => rig.sim.writes();
const HELLO = 'providers/cloudflare/testdata/hello-worker';

beforeAll(async () => {
  // Routes and crons need a script to point at.
  await rig
    .handler(workerScriptSchema.kind)
    .create(
      ctx,
      resolvedResource(workerScriptSchema, 'contract-target', { source: HELLO, compatibilityDate: '2024-09-23' }),
    );
});
afterAll(() => rig.close());

describeHandlerContract({
  kind: kind(dnsRecordSchema),
  name: 'contract-api',
  spec: { zone: 'example.com', name: 'contract-api', type: 'A', content: '203.0.113.10' },
  inPlace: (s) => ({ ...s, content: '203.0.113.11', ttl: 300 }),
  replace: (s) => ({ ...s, zone: 'example.net' }),
  writes,
  context: () => ctx,
});

describeHandlerContract({
  kind: kind(r2BucketSchema),
  name: 'contract-backups',
  spec: { locationHint: 'weur', lifecycle: [{ prefix: 'daily/', expireAfterDays: 7 }] },
  inPlace: (s) => ({
    ...s,
    lifecycle: [
      { prefix: 'daily/', expireAfterDays: 7 },
      { prefix: 'weekly/', expireAfterDays: 28 },
    ],
  }),
  replace: (s) => ({ ...s, locationHint: 'enam' }),
  writes,
  context: () => ctx,
});

describeHandlerContract({
  kind: kind(workerScriptSchema),
  name: 'contract-worker',
  spec: { source: HELLO, compatibilityDate: '2024-09-23', vars: { GREETING: 'hi' } },
  inPlace: (s) => ({ ...s, vars: { GREETING: 'hello again' }, compatibilityFlags: ['nodejs_compat'] }),
  writes,
  context: () => ctx,
});

describeHandlerContract({
  kind: kind(workerRouteSchema),
  name: 'contract-route',
  spec: { zone: 'example.com', pattern: 'contract.example.com/*', script: 'contract-target' },
  inPlace: (s) => ({ ...s, pattern: 'contract.example.com/hooks/*' }),
  replace: (s) => ({ ...s, zone: 'example.net', pattern: 'contract.example.net/*' }),
  writes,
  context: () => ctx,
});

describeHandlerContract({
  kind: kind(workerCronSchema),
  name: 'contract-cron',
  spec: { script: 'contract-target', schedules: ['*/30 * * * *'] },
  inPlace: (s) => ({ ...s, schedules: ['*/30 * * * *', '0 3 * * *'] }),
  writes,
  context: () => ctx,
});
