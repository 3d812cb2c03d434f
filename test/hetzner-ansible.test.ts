import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HetznerSimulator, startHetznerSimulator } from '../providers/hetzner/simulator/index.ts';
import { ansibleMissing, hcloudPlaybook, runPlaybook, serverModuleBroken } from './hetzner-ansible-support.ts';

const missing = ansibleMissing();
if (missing) console.log(`Ansible check of the Hetzner simulator NOT run: ${missing}`);
const broken = missing ? undefined : serverModuleBroken();
if (broken) console.log(`Ansible check runs without hcloud_server tasks: ${broken}`);

// An independent client (Ansible's hetzner.hcloud modules on python3-hcloud) must accept the simulator.
describe.runIf(!missing)('Ansible hetzner.hcloud against the simulator', { timeout: 180_000 }, () => {
  let sim: HetznerSimulator;
  const playbook = () => hcloudPlaybook(sim.endpoint, broken ? 0 : 1);
  beforeAll(async () => {
    sim = await startHetznerSimulator({ actionDurationMs: 50 });
  });
  afterAll(() => sim.close());

  it('creates the resources, then reports nothing changed on the second run', async () => {
    const first = await runPlaybook(playbook());
    expect(first.failed, first.output).toBe(0);
    expect(first.changed).toBeGreaterThan(0);
    expect([...sim.state.sshKeys.values()].map((k) => k.name)).toEqual(['ansible-key']);
    expect([...sim.state.networks.values()][0]?.subnets.map((s) => s.ip_range)).toEqual(['10.20.1.0/24']);
    expect([...sim.state.firewalls.values()][0]?.rules[0]?.port).toBe('443');
    const second = await runPlaybook(playbook());
    expect(second.failed, second.output).toBe(0);
    expect(second.changed, second.output).toBe(0);
  });
});
