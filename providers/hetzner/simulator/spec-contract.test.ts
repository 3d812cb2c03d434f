import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HetznerWorld } from '../../../test/support/hetzner-world.ts';
import type { Exchange } from './server.ts';
import { checkExchanges, hetznerSpecFile, hetznerSpecMissing } from './spec-check.ts';

const missing = hetznerSpecMissing();
const present = missing === undefined;
if (missing) console.log(`Hetzner simulator contract check NOT run: ${missing}`);

describe.runIf(present)('the Hetzner simulator against the vendor OpenAPI document', { timeout: 120_000 }, () => {
  const exchanges: Exchange[] = [];
  let world: HetznerWorld;
  beforeAll(async () => {
    world = await HetznerWorld.start({ onExchange: (e) => exchanges.push(e) });
    // Drive every endpoint the provider uses: create the system, change it, fault it, remove parts.
    await world.pass();
    const fw = [...world.sim.state.firewalls.values()][0]!;
    fw.rules = fw.rules.slice(1);
    await world.pass();
    world.sim.faults.inject({ type: 'status', status: 503, match: { method: 'GET', path: '/v1/volumes' } });
    world.write('extra.yaml', 'kind: hetzner.PlacementGroup\nname: extra\nspec: {}\n');
    await world.pass();
    world.remove('extra.yaml');
    await world.pass();
  });
  afterAll(() => world.close());

  it('every request and response the simulator handled matches the spec', () => {
    const { checked, responseProblems, requestProblems } = checkExchanges(exchanges);
    console.log(`checked ${checked} simulator exchanges against ${hetznerSpecFile}`);
    // keelson's own client is checked too: its requests must match the document as well.
    expect([...responseProblems, ...requestProblems]).toEqual([]);
    expect(checked).toBeGreaterThan(50);
  });
});
