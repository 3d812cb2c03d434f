/**
 * `keelson bootstrap` from an empty Hetzner project (the simulator) and a Git repository (bare,
 * over file://) to keelson running on a Swarm formed out of three lone Docker Engines (the
 * three-node rig with --no-swarm, ID bst, NET 86). The simulator's servers are not machines, so
 * each server's engine is named with --node (a unix socket and the rig address to advertise).
 * keelson's image (scripts/build-image.sh) is loaded on every engine; its state and the repository
 * are on a folder every node mounts, its engine socket is the node's own ({{.Node.Hostname}}).
 */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type HetznerSimulator, startHetznerSimulator } from '../providers/hetzner/simulator/index.ts';
import { until } from './daemon-support.ts';
import { startThreeNodeSwarm, type ThreeNodeSwarm, threeNodeSwarmUnavailable } from './support/three-node-swarm.ts';

const unavailable = threeNodeSwarmUnavailable();
if (unavailable) console.log(`keelson bootstrap on the three-node rig NOT run: ${unavailable}`);

const root = resolve(import.meta.dirname, '..');
const image = 'keelson-bootstrap:test';
const token = 'bst-project-token'.padEnd(64, '0');

const server = (n: number) => `kind: hetzner.Server
name: node${n}
spec:
  serverType: cx22
  image: debian-12
  location: fsn1
  networks:
    - network: { ref: hetzner.Network/swarm }
      ip: 10.0.1.1${n}
  sshKeys:
    - { ref: hetzner.SshKey/admin }
  labels: { role: swarm }
---
`;

const hetzner = `kind: hetzner.SshKey
name: admin
spec:
  publicKey: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeelsonBootstrapTestKey000000000000000000 admin@bst
---
kind: hetzner.Network
name: swarm
spec:
  ipRange: 10.0.0.0/16
  subnets:
    - { type: cloud, ipRange: 10.0.1.0/24, networkZone: eu-central }
---
${server(1)}${server(2)}${server(3)}`;

const swarm = (dir: string) => `kind: swarm.Node
name: node1
spec:
  labels: { mongo: '1', keycloak-db: 'true' }
---
kind: swarm.Node
name: node2
spec:
  labels: { mongo: '2' }
---
kind: swarm.Node
name: node3
spec:
  labels: { mongo: '3' }
---
kind: swarm.Network
name: bst-public
spec: {}
---
kind: swarm.Network
name: bst-monitoring
spec: {}
---
# keelson's own stack, as the company tree has it (policy observe), with the rig's paths.
kind: swarm.Stack
name: keelson
policy: observe
dependsOn: [swarm.Network/bst-public, swarm.Network/bst-monitoring]
spec:
  chart: keelson
  values:
    KEELSON_IMAGE: ${image}
    SOURCE_URL: file:///var/lib/keelson/repo.git
    SOURCE_PATH: desired-state
    PUBLIC_URL: http://keelson.bst.test
    HOST: keelson.bst.test
    POLL_INTERVAL_SECONDS: 5
    PUBLIC_NETWORK: bst-public
    MONITORING_NETWORK: bst-monitoring
    STATE_VOLUME: ${dir}/data
    DOCKER_SOCKET: ${dir}/sock/{{.Node.Hostname}}.sock
`;

interface Run {
  readonly code: number | null;
  readonly out: string;
  readonly err: string;
}

describe.skipIf(unavailable !== undefined)('keelson bootstrap: empty project + three lone engines', () => {
  let rig: ThreeNodeSwarm;
  let sim: HetznerSimulator;
  let dir = '';

  /** `keelson bootstrap` as a user runs it (a child process), with the test's environment. */
  const bootstrap = (
    env: Record<string, string> = {},
    o: { node?: Record<string, string>; timeout?: number } = {},
  ): Promise<Run> => {
    const nodes = rig.nodes.flatMap((n) => [
      '--node',
      `${n.name}=${o.node?.[n.name] ?? `${n.dockerHost},advertise=${n.address}`}`,
    ]);
    const args = ['bootstrap', ...nodes, '--timeout', String(o.timeout ?? 240)];
    const child = spawn(process.execPath, [join(root, 'bin/keelson.js'), ...args], {
      cwd: dir,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/root',
        HCLOUD_TOKEN: token,
        HCLOUD_ENDPOINT: sim.endpoint,
        KEELSON_SOURCE_URL: `file://${dir}/data/repo.git`,
        KEELSON_SOURCE_PATH: 'desired-state',
        KEELSON_CHECKOUT_DIR: join(dir, 'checkout'),
        KEELSON_STATE_PATH: join(dir, 'bootstrap-state.json'),
        // keelson's own Swarm secrets come from the local secret source: one file per entry.
        KEELSON_SECRET_SOURCE: 'dir',
        KEELSON_SECRETS_DIR: join(dir, 'secrets'),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    return new Promise((done) => child.on('close', (code) => done({ code, out, err })));
  };
  /** Commits and pushes what is in the work tree. */
  const push = (message: string) => {
    const git = (args: string[]) =>
      execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], {
        cwd: join(dir, 'work'),
        stdio: 'ignore',
      });
    git(['add', '-A']);
    git(['commit', '-qm', message]);
    git(['push', '-q', 'origin', 'HEAD:main']);
  };
  const swarmInfo = (node: number) =>
    JSON.parse(rig.docker(['info', '--format', '{{json .Swarm}}'], node)) as {
      LocalNodeState: string;
      Cluster?: { ID: string };
      NodeID: string;
    };

  beforeAll(async () => {
    rig = startThreeNodeSwarm('bst', 86, { swarm: false });
    execFileSync('bash', [join(root, 'scripts/build-image.sh'), image], {
      env: { ...process.env, DOCKER_HOST: rig.nodes[0]?.dockerHost },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const saved = execFileSync('docker', ['-H', rig.nodes[0]?.dockerHost ?? '', 'save', image], {
      maxBuffer: 1024 * 1024 * 1024,
    });
    for (const node of rig.nodes.slice(1))
      execFileSync('docker', ['-H', node.dockerHost, 'load', '-q'], {
        input: saved,
        stdio: ['pipe', 'ignore', 'pipe'],
      });

    dir = mkdtempSync('/tmp/bst-');
    mkdirSync(join(dir, 'data'));
    mkdirSync(join(dir, 'sock'));
    // A value for every secret-source entry the keelson chart names (its *_SECRET values): URLs
    // (the RocketChat hook must be one), a service-account-shaped JSON for Google's key.
    mkdirSync(join(dir, 'secrets'));
    const values = parse(readFileSync(join(root, 'charts', 'keelson', 'values.yaml'), 'utf8')) as Record<
      string,
      unknown
    >;
    // keelson on the Swarm gets a blank Hetzner token: the simulator listens on this machine's
    // loopback, out of the rig's reach, so its hetzner provider is unavailable (those kinds are
    // skipped, never pruned) and it manages the Swarm part. (A blank, not an empty, value: Docker
    // refuses empty secrets; the provider trims it to nothing.)
    const gcpKey = JSON.stringify({
      type: 'service_account',
      project_id: 'bst',
      client_email: 'bst@bst.iam.gserviceaccount.com',
    });
    for (const [key, name] of Object.entries(values)) {
      if (!key.endsWith('_SECRET') || typeof name !== 'string') continue;
      const value =
        key === 'HCLOUD_TOKEN_SECRET'
          ? ' '
          : /gcp|google|service-account/i.test(name)
            ? gcpKey
            : `http://127.0.0.1:9/bst-secret-${name}`;
      writeFileSync(join(dir, 'secrets', name), value);
    }
    for (const node of rig.nodes)
      symlinkSync(node.dockerHost.replace('unix://', ''), join(dir, 'sock', `${node.name}.sock`));
    // The desired-state repository: the tree above and the keelson chart, on the folder the tasks mount.
    execFileSync('git', ['init', '-q', '--bare', '-b', 'main', join(dir, 'data', 'repo.git')]);
    const work = join(dir, 'work');
    execFileSync('git', ['clone', '-q', join(dir, 'data', 'repo.git'), work], { stdio: 'ignore' });
    mkdirSync(join(work, 'desired-state'));
    cpSync(join(root, 'charts', 'keelson'), join(work, 'charts', 'keelson'), { recursive: true });
    writeFileSync(join(work, 'desired-state', 'hetzner.yaml'), hetzner);
    writeFileSync(join(work, 'desired-state', 'swarm.yaml'), swarm(dir));
    push('the system');

    sim = await startHetznerSimulator({ token, actionDurationMs: 20 });
  }, 400_000);

  afterAll(async () => {
    try {
      rig?.down();
    } finally {
      await sim?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('with a wrong Hetzner token fails in step hetzner, says what to check, and creates nothing', async () => {
    const run = await bootstrap({ HCLOUD_TOKEN: 'wrong-token'.padEnd(64, '0') });
    expect(run.code).toBe(1);
    expect(run.err).toMatch(/keelson bootstrap failed: step hetzner, .*HCLOUD_TOKEN/);
    expect(run.err).not.toContain('wrong-token');
    expect(sim.state.servers.size).toBe(0);
    expect(swarmInfo(1).LocalNodeState).toBe('inactive');
  }, 120_000);

  it('creates the servers, forms one Swarm of three managers, sets the labels and runs keelson', async () => {
    const run = await bootstrap();
    console.log(run.out);
    expect(run.err).not.toMatch(/failed/);
    expect(run.code).toBe(0);
    // The project: three servers (and the key and network they need), made by keelson's engine.
    expect([...sim.state.servers.values()].map((s) => s.name).sort()).toEqual(['node1', 'node2', 'node3']);
    expect(run.out).toMatch(/hetzner\s+hetzner\.Server\/node1\s+created/);
    // The Swarm: node1 initialised, the others joined as managers; one cluster, three Ready managers.
    expect(run.out).toMatch(/swarm\s+node1\s+initialised/);
    expect(run.out).toMatch(/swarm\s+node2\s+joined \(as a manager through node1/);
    expect(run.out).toMatch(/swarm\s+node3\s+joined/);
    const clusters = new Set([1, 2, 3].map((n) => swarmInfo(n).Cluster?.ID));
    expect(clusters.size).toBe(1);
    const nodes = rig
      .docker(['node', 'ls', '--format', '{{.Hostname}} {{.Status}} {{.ManagerStatus}}'])
      .trim()
      .split('\n')
      .sort();
    expect(nodes).toEqual([
      expect.stringMatching(/^node1 Ready (Leader|Reachable)$/),
      expect.stringMatching(/^node2 Ready (Leader|Reachable)$/),
      expect.stringMatching(/^node3 Ready (Leader|Reachable)$/),
    ]);
    // The labels from swarm.Node.
    expect(rig.docker(['node', 'inspect', 'node1', '--format', '{{index .Spec.Labels "mongo"}}']).trim()).toBe('1');
    expect(rig.docker(['node', 'inspect', 'node3', '--format', '{{index .Spec.Labels "mongo"}}']).trim()).toBe('3');
    // keelson: its service has a running task whose /readyz answered (inside the container).
    expect(run.out).toMatch(/keelson\s+swarm\.Service\/keelson_keelson\s+created/);
    expect(run.out).toMatch(/keelson\s+swarm\.Secret\/keelson_hcloud_token\s+created/);
    expect(run.out).toMatch(/keelson\s+keelson_keelson\s+running \(task on node\d; \/readyz answered (200|503)/);
    const running = rig
      .docker([
        'service',
        'ps',
        'keelson_keelson',
        '--filter',
        'desired-state=running',
        '--format',
        '{{.CurrentState}}',
      ])
      .trim();
    expect(running).toMatch(/^Running/);
    expect(run.out).toContain('Next:');
    // No secret value in what bootstrap printed.
    expect(run.out + run.err).not.toContain('bst-secret-');
    expect(run.out + run.err).not.toContain(token);
  }, 400_000);

  it('keelson on the Swarm manages the Swarm from Git from then on: a pushed network appears', async () => {
    writeFileSync(join(dir, 'work', 'desired-state', 'extra.yaml'), 'kind: swarm.Network\nname: bst-extra\nspec: {}\n');
    push('a network, applied by keelson on the Swarm');
    await until(
      () =>
        rig
          .docker(['network', 'ls', '--filter', 'name=bst-extra', '--format', '{{.Name}}'])
          .split('\n')
          .includes('bst-extra'),
      'keelson on the Swarm to create swarm.Network/bst-extra',
      240_000,
    );
    // What keelson on the Swarm said meanwhile (for whoever reads the test's output).
    console.log(rig.docker(['service', 'logs', '--raw', '--tail', '15', 'keelson_keelson']));
  }, 300_000);

  it('run again, changes nothing: every resource and node "already there", no new server, no second Swarm', async () => {
    const cluster = swarmInfo(1).Cluster?.ID;
    const service = rig
      .docker(['service', 'inspect', 'keelson_keelson', '--format', '{{.ID}} {{.Version.Index}}'])
      .trim();
    const serverIds = [...sim.state.servers.keys()].sort();
    const run = await bootstrap();
    console.log(run.out);
    expect(run.err).not.toMatch(/failed/);
    expect(run.code).toBe(0);
    const statuses = run.out
      .split('\n')
      .filter((l) => /^ {2}(hetzner|swarm|labels|keelson) /.test(l) && !/\/readyz/.test(l))
      .map((l) => l.replace(/ \(.*$/, '').trim());
    // hetzner 5 (key, network, three servers), swarm 3 nodes, labels 3, and keelson's stack: the
    // two networks it depends on, one Swarm secret per entry the chart names, its service.
    const chartSecrets = Object.keys(
      parse(readFileSync(join(root, 'charts', 'keelson', 'values.yaml'), 'utf8')) as Record<string, unknown>,
    ).filter((k) => k.endsWith('_SECRET')).length;
    expect(chartSecrets).toBeGreaterThan(5);
    expect(statuses).toHaveLength(5 + 3 + 3 + 2 + chartSecrets + 1);
    for (const s of statuses) expect(s).toMatch(/already there$/);
    expect([...sim.state.servers.keys()].sort()).toEqual(serverIds);
    expect(swarmInfo(1).Cluster?.ID).toBe(cluster);
    expect(rig.docker(['service', 'inspect', 'keelson_keelson', '--format', '{{.ID}} {{.Version.Index}}']).trim()).toBe(
      service,
    );
  }, 400_000);

  it('an engine that does not answer fails in step docker, naming the node and what to check', async () => {
    // node2's engine given as a socket nobody listens on (a stale path); the steps before it are no-ops.
    const run = await bootstrap({}, { node: { node2: `unix://${dir}/nobody.sock,advertise=10.86.0.12` }, timeout: 1 });
    expect(run.code).toBe(1);
    expect(run.err).toMatch(
      /keelson bootstrap failed: step docker, node node2 \(unix:\/\/\/.*nobody\.sock\): no Docker Engine answered: .*; check that the engine runs/,
    );
  }, 120_000);
});
