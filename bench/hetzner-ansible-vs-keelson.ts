import { createHetznerProvider, hetznerModule } from '../providers/hetzner/index.ts';
import { startHetznerSimulator } from '../providers/hetzner/simulator/index.ts';
import { type DesiredResource, SecretValue } from '../providers/sdk/index.ts';
import { silentLogger } from '../providers/sdk/testing.ts';
import { runPass } from '../reconciler/engine/pass.ts';
import { envSecretSource } from '../reconciler/engine/secrets.ts';
import { ProviderRegistry } from '../reconciler/providers/registry.ts';
import { emptyState, type StateData, type StateStore } from '../reconciler/state/types.ts';
import { ansibleMissing, hcloudPlaybook, runPlaybook, serverModuleBroken } from '../test/hetzner-ansible-support.ts';

function res(kind: string, name: string, spec: Record<string, unknown>, dependsOn: string[] = []): DesiredResource {
  return {
    key: `${kind}/${name}`,
    kind,
    name,
    provider: 'hetzner',
    spec,
    policy: 'enforce',
    protect: false,
    allowReplace: false,
    adopt: false,
    dependsOn,
  };
}

function desired(servers: number): DesiredResource[] {
  const out = [
    res('hetzner.SshKey', 'bench-key', {
      publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBenchBenchBenchBenchBenchBenchBenchBench0000 bench@example',
    }),
    res('hetzner.Network', 'bench-net', { ipRange: '10.20.0.0/16', subnets: [{ ipRange: '10.20.1.0/24' }] }),
    res('hetzner.Firewall', 'bench-fw', {
      rules: [
        { direction: 'in', protocol: 'tcp', port: '443', sourceIps: ['0.0.0.0/0', '::/0'], description: 'https' },
      ],
    }),
  ];
  for (let i = 1; i <= servers; i++) {
    out.push(
      res(
        'hetzner.Server',
        `bench-${i}`,
        {
          serverType: 'cx22',
          image: 'debian-12',
          location: 'fsn1',
          sshKeys: [{ ref: 'hetzner.SshKey/bench-key' }],
          firewalls: [{ ref: 'hetzner.Firewall/bench-fw' }],
        },
        ['hetzner.SshKey/bench-key', 'hetzner.Firewall/bench-fw'],
      ),
    );
  }
  return out;
}

async function keelson(servers: number): Promise<void> {
  const sim = await startHetznerSimulator({ actionDurationMs: 50 });
  const provider = createHetznerProvider({ endpoint: sim.endpoint, token: new SecretValue('bench', 'bench') });
  const registry = new ProviderRegistry([hetznerModule], [provider]);
  let data: StateData = emptyState();
  const store: StateStore = {
    load: async () => structuredClone(data),
    save: async (d) => {
      data = structuredClone(d);
    },
  };
  const resources = desired(servers);
  for (const label of ['from scratch', 'no-op re-run']) {
    const before = sim.requests.length;
    const t0 = performance.now();
    const r = await runPass({
      resources,
      revision: 'b',
      registry,
      store,
      owner: 'bench',
      mode: 'apply',
      secrets: envSecretSource({}),
      log: silentLogger,
    });
    const ms = performance.now() - t0;
    console.log(
      `keelson apply, key+network+firewall+${servers} servers, ${label}: ${ms.toFixed(0)} ms, ${sim.requests.length - before} API requests, outcome ${r.outcome}`,
    );
  }
  await sim.close();
}

async function ansible(servers: number): Promise<void> {
  const sim = await startHetznerSimulator({ actionDurationMs: 50 });
  for (const label of ['from scratch', 'no-op re-run']) {
    const before = sim.requests.length;
    const t0 = performance.now();
    const r = await runPlaybook(hcloudPlaybook(sim.endpoint, servers));
    const ms = performance.now() - t0;
    console.log(
      `ansible-playbook, key+network+subnet+firewall+${servers} servers, ${label}: ${ms.toFixed(0)} ms, ${sim.requests.length - before} API requests, changed=${r.changed} failed=${r.failed}`,
    );
  }
  await sim.close();
}

/** Ansible (Debian's hetzner.hcloud) and keelson against the same simulator: wall time and API requests. */
export async function run(): Promise<void> {
  const missing = ansibleMissing();
  const broken = missing ? undefined : serverModuleBroken();
  if (missing) console.log(`ansible comparison not run: ${missing}`);
  else {
    if (broken) console.log(`ansible runs without servers: ${broken}`);
    const servers = broken ? 0 : 3;
    await ansible(servers);
    await keelson(servers);
  }
  await keelson(3);
}

if (import.meta.main) await run();
