import { afterAll } from 'vitest';
import { describeHandlerContract } from '../../sdk/contract-kit.ts';
import { SecretValue } from '../../sdk/index.ts';
import { createHetznerProvider } from '../index.ts';
import { startHetznerSimulator } from '../simulator/index.ts';

// One simulator for every kind's contract: each test uses its own names.
const sim = await startHetznerSimulator({ actionDurationMs: 10 });
const provider = createHetznerProvider({ endpoint: sim.endpoint, token: new SecretValue('test-token', 'test') });
afterAll(() => sim.close());

const kind = (k: string) => provider.kinds.find((x) => x.schema.kind === k)!;
const writes = () => sim.writes();

describeHandlerContract({
  kind: kind('hetzner.SshKey'),
  name: 'contract-key',
  spec: { publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHc1bnRyYWN0a2V5Y29udHJhY3RrZXljb250cmFjdA admin@example' },
  inPlace: (s) => ({ ...s, labels: { team: 'ops' } }),
  replace: (s) => ({
    ...s,
    publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE90aGVya2V5b3RoZXJrZXlvdGhlcmtleW90aGVya2V5 other@example',
  }),
  writes,
});

describeHandlerContract({
  kind: kind('hetzner.PlacementGroup'),
  name: 'contract-pg',
  spec: { type: 'spread' },
  inPlace: (s) => ({ ...s, labels: { role: 'swarm' } }),
  writes,
});

describeHandlerContract({
  kind: kind('hetzner.Network'),
  name: 'contract-net',
  spec: { ipRange: '10.1.0.0/16', subnets: [{ ipRange: '10.1.1.0/24' }] },
  inPlace: (s) => ({
    ...s,
    subnets: [{ ipRange: '10.1.1.0/24' }, { ipRange: '10.1.2.0/24', networkZone: 'eu-central' }],
    routes: [{ destination: '10.100.0.0/24', gateway: '10.1.1.10' }],
    labels: { env: 'test' },
  }),
  writes,
});

describeHandlerContract({
  kind: kind('hetzner.Firewall'),
  name: 'contract-fw',
  spec: { rules: [{ direction: 'in', protocol: 'tcp', port: '443', sourceIps: ['0.0.0.0/0', '::/0'] }] },
  inPlace: (s) => ({
    ...s,
    rules: [
      { direction: 'in', protocol: 'tcp', port: '443', sourceIps: ['0.0.0.0/0', '::/0'] },
      { direction: 'in', protocol: 'icmp', sourceIps: ['0.0.0.0/0'], description: 'ping' },
    ],
    applyTo: [{ type: 'label_selector', labelSelector: 'role=contract' }],
  }),
  writes,
});

describeHandlerContract({
  kind: kind('hetzner.Server'),
  name: 'contract-server',
  spec: { serverType: 'cx22', image: 'debian-12', location: 'fsn1', labels: { role: 'contract' } },
  // A type change is made in place with a power cycle.
  inPlace: (s) => ({ ...s, serverType: 'cx32', deleteProtection: false, labels: { role: 'contract', tier: 'a' } }),
  replace: (s) => ({ ...s, location: 'nbg1' }),
  writes,
});

describeHandlerContract({
  kind: kind('hetzner.Volume'),
  name: 'contract-vol',
  spec: { size: 10, location: 'fsn1', format: 'ext4' },
  inPlace: (s) => ({ ...s, size: 20, labels: { data: 'yes' } }),
  replace: (s) => ({ ...s, location: 'hel1' }),
  writes,
});
