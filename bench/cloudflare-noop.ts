/**
 * API requests and wall time of a no-op pass (observe + plan through runPass) with 10, 100 and
 * 1,000 DNS records already in place and owned. Budget: requests grow with pages, not records.
 */

import { markComment } from '../providers/cloudflare/ownership.ts';
import { startCloudflareSimulator } from '../providers/cloudflare/simulator/index.ts';
import { EngineRig } from '../test/support/engine-rig.ts';

export async function run(): Promise<void> {
  for (const n of [10, 100, 1000]) {
    const sim = await startCloudflareSimulator({ zones: ['example.com'], rateLimit: 1_000_000 });
    try {
      const zone = sim.state.zoneByName('example.com');
      if (!zone) throw new Error('zone missing');
      const docs: string[] = [];
      for (let i = 0; i < n; i++) {
        const name = `host-${i}`;
        const content = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
        docs.push(
          `kind: cloudflare.DnsRecord\nname: ${name}\nspec:\n  zone: example.com\n  name: ${name}\n  type: A\n  content: ${content}\n  ttl: 300\n`,
        );
        sim.state.records.set(`r${i}`, {
          id: `r${i}`,
          zone_id: zone.id,
          zone_name: zone.name,
          name: `${name}.example.com`,
          type: 'A',
          content,
          ttl: 300,
          proxied: false,
          proxiable: true,
          comment: markComment(undefined, 'keelson-test', name),
          tags: [],
          created_on: '2024-01-01T00:00:00Z',
          modified_on: '2024-01-01T00:00:00Z',
        });
      }
      const rig = new EngineRig({ env: sim.env() }).write('dns.yaml', docs.join('---\n'));
      await rig.pass('plan'); // warm-up: module loading, zone lookup
      const before = sim.requests.length;
      const t0 = performance.now();
      const result = await rig.pass('apply');
      const ms = performance.now() - t0;
      const noop = result.plan.changes.filter((c) => c.action === 'no-op').length;
      console.log(
        `no-op pass, ${String(n).padStart(4)} DNS records: ${sim.requests.length - before} API requests, ${ms.toFixed(0)} ms, ${noop}/${n} no-op, writes ${sim.writes()}`,
      );
    } finally {
      await sim.close();
    }
  }
}

if (import.meta.main) await run();
