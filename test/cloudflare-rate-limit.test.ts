import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CloudflareSimulator, startCloudflareSimulator } from '../providers/cloudflare/simulator/index.ts';
import { EngineRig } from './support/engine-rig.ts';

// A 429 storm: the simulator allows 15 requests per second and injects extra 429s on creates. keelson
// waits out every retry-after; the apply finishes with every record created exactly once.
const RECORDS = 30;
let cf: CloudflareSimulator;
let rig: EngineRig;

beforeAll(async () => {
  cf = await startCloudflareSimulator({ zones: ['example.com'], rateLimit: 15, rateWindowMs: 1000 });
  rig = new EngineRig({ env: cf.env() });
  const docs = Array.from(
    { length: RECORDS },
    (_, i) =>
      `kind: cloudflare.DnsRecord\nname: host-${i}\nspec:\n  zone: example.com\n  name: host-${i}\n  type: A\n  content: 198.51.100.${i + 1}\n`,
  );
  rig.write('dns.yaml', docs.join('---\n'));
});
afterAll(() => cf?.close());

describe('Cloudflare under a 429 storm', { timeout: 120_000 }, () => {
  it('finishes the apply, loses nothing and duplicates nothing', async () => {
    cf.injectFault({ method: 'POST', path: '/dns_records', status: 429, retryAfterSeconds: 1, times: 5 });
    const result = await rig.pass();
    expect(result.errors).toEqual([]);
    expect(result.outcome).toBe('changed');
    const throttled = cf.requests.filter((r) => r.status === 429).length;
    expect(throttled).toBeGreaterThan(5);
    const names = [...cf.state.records.values()].map((r) => r.name).sort();
    expect(names).toEqual(Array.from({ length: RECORDS }, (_, i) => `host-${i}.example.com`).sort());
    const writes = cf.writes();
    const again = await rig.pass();
    expect(again.outcome).toBe('no-op');
    expect(cf.writes()).toBe(writes);
  });
});
