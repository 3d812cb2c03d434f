import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Why Ansible with the hetzner.hcloud collection cannot run here, or undefined when it can. */
export function ansibleMissing(): string | undefined {
  const playbook = spawnSync('ansible-playbook', ['--version'], { encoding: 'utf8' });
  if (playbook.error || playbook.status !== 0) return 'ansible-playbook is not installed (Debian package ansible)';
  const list = spawnSync('ansible-galaxy', ['collection', 'list', 'hetzner.hcloud'], { encoding: 'utf8' });
  if (!/hetzner\.hcloud/.test(list.stdout ?? ''))
    return 'the hetzner.hcloud collection is not installed (Debian package ansible)';
  const lib = spawnSync('/usr/bin/python3', ['-c', 'import hcloud'], { encoding: 'utf8' });
  if (lib.status !== 0) return 'python3-hcloud is not installed (Debian package python3-hcloud)';
  return undefined;
}

/**
 * Why the collection's `hcloud_server` module cannot run here, or undefined when it can. Debian 12
 * ships hetzner.hcloud 1.11, which reads `ServerType.architecture`, with python3-hcloud 1.18, which
 * lacks that field: every server task fails inside the module before it calls the API.
 */
export function serverModuleBroken(): string | undefined {
  const probe = spawnSync(
    '/usr/bin/python3',
    ['-c', "from hcloud.server_types.domain import ServerType; print('architecture' in ServerType.__slots__)"],
    { encoding: 'utf8' },
  );
  return probe.stdout?.trim() === 'True'
    ? undefined
    : "python3-hcloud lacks ServerType.architecture, which this hetzner.hcloud collection's hcloud_server reads (a Debian packaging mismatch)";
}

/** SSH key + network + subnet + firewall + servers, with Ansible's hetzner.hcloud modules. */
export function hcloudPlaybook(endpoint: string, servers: number): string {
  const api = `api_token: "${'x'.repeat(64)}"\n        endpoint: "${endpoint}"`;
  const serverTasks = Array.from(
    { length: servers },
    (_, i) => `    - name: server ${i + 1}
      hetzner.hcloud.hcloud_server:
        ${api}
        name: ansible-${i + 1}
        server_type: cx22
        image: debian-12
        location: fsn1
        ssh_keys: [ansible-key]
        firewalls: [ansible-fw]
        labels: { role: ansible }
        state: present
`,
  ).join('');
  return `- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: ssh key
      hetzner.hcloud.hcloud_ssh_key:
        ${api}
        name: ansible-key
        public_key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFromAnsibleFromAnsibleFromAnsibleFromAnsible0 ansible@example
        state: present
    - name: network
      hetzner.hcloud.hcloud_network:
        ${api}
        name: ansible-net
        ip_range: 10.20.0.0/16
        state: present
    - name: subnet
      hetzner.hcloud.hcloud_subnetwork:
        ${api}
        network: ansible-net
        ip_range: 10.20.1.0/24
        network_zone: eu-central
        type: cloud
        state: present
    - name: firewall
      hetzner.hcloud.hcloud_firewall:
        ${api}
        name: ansible-fw
        rules:
          - { direction: in, protocol: tcp, port: '443', source_ips: ['0.0.0.0/0', '::/0'], description: https }
        state: present
${serverTasks}`;
}

export interface PlaybookRun {
  readonly status: number | null;
  readonly output: string;
  /** From the PLAY RECAP line. */
  readonly changed: number | undefined;
  readonly failed: number | undefined;
}

/** Runs a playbook without blocking the event loop (the simulator answers from this process). */
export async function runPlaybook(text: string): Promise<PlaybookRun> {
  const dir = mkdtempSync(join(tmpdir(), 'keelson-ansible-'));
  const file = join(dir, 'playbook.yml');
  writeFileSync(file, text);
  const child = spawn('ansible-playbook', ['-i', 'localhost,', file], {
    env: {
      ...process.env,
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_PYTHON_INTERPRETER: '/usr/bin/python3',
      ANSIBLE_LOCAL_TEMP: join(dir, 'tmp'),
      ANSIBLE_HOME: join(dir, 'home'),
      ANSIBLE_RETRY_FILES_ENABLED: '0',
    },
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => {
    output += d.toString('utf8');
  });
  child.stderr.on('data', (d: Buffer) => {
    output += d.toString('utf8');
  });
  const timer = setTimeout(() => child.kill('SIGTERM'), 170_000);
  const status = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  clearTimeout(timer);
  const recap = /changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)/.exec(output);
  return {
    status,
    output,
    changed: recap ? Number(recap[1]) : undefined,
    failed: recap ? Number(recap[2]) : undefined,
  };
}
