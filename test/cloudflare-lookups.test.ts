import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CloudflareSimulator, startCloudflareSimulator } from '../providers/cloudflare/simulator/index.ts';
import { EngineRig } from './support/engine-rig.ts';

/**
 * Look-ups are resolved while observing: a zone typo on DNS records once planned "2 to replace",
 * and apply deleted both records before failing with "no such zone". Now the plan leaves them
 * alone and says why, and nothing is deleted.
 */
let cf: CloudflareSimulator;
beforeAll(async () => {
  cf = await startCloudflareSimulator({ zones: ['example.com'] });
});
afterAll(async () => cf?.close());

const record = (name: string, zone: string) =>
  `kind: cloudflare.DnsRecord\nname: ${name}\nspec:\n  zone: ${zone}\n  name: ${name}\n  type: A\n  content: 192.0.2.1\n  ttl: 300\n---\n`;

describe('a zone that does not exist', () => {
  it('is refused while observing: the records are skipped with the reason, none is deleted or replaced', async () => {
    const rig = new EngineRig({ env: cf.env() });
    rig.write('dns.yaml', record('a', 'example.com') + record('b', 'example.com'));
    expect((await rig.pass()).outcome).toBe('changed');
    const before = [...cf.state.records.values()].map((r) => r.id).sort();
    expect(before).toHaveLength(2);

    rig.write('dns.yaml', record('a', 'exmaple.com') + record('b', 'exmaple.com'));
    const pass = await rig.pass();
    expect(pass.plan.summary.replace).toBe(0);
    expect(pass.plan.changes.filter((c) => c.reason === 'lookup-failed').map((c) => c.key)).toEqual([
      'cloudflare.DnsRecord/a',
      'cloudflare.DnsRecord/b',
    ]);
    expect(pass.errors.map((e) => e.code)).toEqual(['NOT_FOUND', 'NOT_FOUND']);
    expect(pass.errors[0]?.message).toMatch(
      /zone "exmaple\.com" is not in this Cloudflare account \(zones: example\.com\)/,
    );
    expect([...cf.state.records.values()].map((r) => r.id).sort()).toEqual(before);
    rig.close();
  });
});
