/**
 * keelson as a two-replica Swarm service on the three-node rig: the image (scripts/build-image.sh)
 * built on node 1 and loaded on the others, the state and lease on a folder every node mounts
 * (the nodes share this machine's file system), the desired state in a bare Git repository read
 * over file://, each replica driving its own node's engine. kill -9 of the leader's container:
 * the standby takes over and converges a new commit; what the first leader created is not made
 * again.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from './daemon-support.ts';
import { pushFiles, readLastGood, readLease } from './support/replica-state.ts';
import { startThreeNodeSwarm, type ThreeNodeSwarm, threeNodeSwarmUnavailable } from './support/three-node-swarm.ts';

const unavailable = threeNodeSwarmUnavailable();
if (unavailable) console.log(`keelson on the three-node Swarm NOT run: ${unavailable}`);

const root = resolve(import.meta.dirname, '..');
const image = 'keelson-ha:test';
const web = (name: string) =>
  `kind: swarm.Service\nname: ${name}\nspec:\n  image: keelson-test/busybox:1\n  command: [sleep, "3600"]\n  endpointMode: dnsrr\n  stopSignal: KILL\n  deploy:\n    replicas: 1\n---\n`;

describe.skipIf(unavailable !== undefined)('keelson with two replicas on the three-node Swarm', () => {
  let rig: ThreeNodeSwarm;
  let dir = '';
  const push = (files: Record<string, string>) => pushFiles(join(dir, 'work'), files);
  const lease = () => readLease(join(dir, 'state'));
  const lastGood = () => readLastGood(join(dir, 'state'));
  const serviceId = (name: string) =>
    rig
      .docker(['service', 'ls', '--filter', `name=${name}`, '--format', '{{.Name}} {{.ID}}'])
      .split('\n')
      .map((l) => l.split(' '))
      .find(([n]) => n === name)?.[1];

  beforeAll(() => {
    rig = startThreeNodeSwarm('kha', 87);
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

    dir = mkdtempSync('/tmp/kha-');
    mkdirSync(join(dir, 'state'));
    mkdirSync(join(dir, 'sock'));
    // Each replica reaches its own node's engine through the same path: sock/<hostname>.sock.
    for (const node of rig.nodes)
      symlinkSync(node.dockerHost.replace('unix://', ''), join(dir, 'sock', `${node.name}.sock`));
    execFileSync('git', ['init', '-q', '--bare', '-b', 'main', join(dir, 'repo.git')]);
    execFileSync('git', ['clone', '-q', join(dir, 'repo.git'), join(dir, 'work')], { stdio: 'ignore' });
    mkdirSync(join(dir, 'work', 'desired-state'));
  }, 400_000);

  afterAll(() => {
    try {
      rig?.down();
    } finally {
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('elects one leader; after kill -9 of its container the standby converges a new commit', async () => {
    const first = push({ 'desired-state/web.yaml': web('kha-web') });
    const sockets = rig.nodes[0]?.dockerHost.replace('unix://', '').replace(/\/n1\/docker\.sock$/, '') ?? '';
    rig.docker([
      'service',
      'create',
      '--detach',
      '--no-resolve-image',
      '--name',
      'kha-keelson',
      '--replicas',
      '2',
      '--replicas-max-per-node',
      '1',
      // A killed replica is not restarted: the survivor must be the one that takes over.
      '--restart-condition',
      'none',
      '--network',
      'host',
      // root for the engines' sockets (root-owned on the nodes)
      '--user',
      '0',
      '--mount',
      `type=bind,src=${dir},dst=${dir}`,
      '--mount',
      `type=bind,src=${sockets},dst=${sockets}`,
      '--env',
      `KEELSON_SOURCE_URL=file://${dir}/repo.git`,
      '--env',
      'KEELSON_SOURCE_PATH=desired-state',
      '--env',
      `KEELSON_STATE_PATH=${dir}/state/state.json`,
      '--env',
      `KEELSON_CHECKOUT_DIR=${dir}/checkout-{{.Node.Hostname}}`,
      '--env',
      'KEELSON_LEASE_HOLDER={{.Node.Hostname}}',
      '--env',
      'KEELSON_LEASE_TTL_SECONDS=6',
      '--env',
      'KEELSON_LEASE_RENEW_SECONDS=2',
      '--env',
      `DOCKER_HOST=unix://${dir}/sock/{{.Node.Hostname}}.sock`,
      '--env',
      'KEELSON_POLL_INTERVAL_SECONDS=2',
      '--env',
      'KEELSON_HTTP_PORT=8480',
      '--env',
      'KEELSON_OWNER=kha',
      image,
    ]);
    await until(() => lastGood() === first && serviceId('kha-web'), 'the leader to apply the first commit', 240_000);
    const leader = lease();
    expect(leader?.generation).toBe(1);
    const webId = serviceId('kha-web');
    const tasks = rig
      .docker(['service', 'ps', 'kha-keelson', '--filter', 'desired-state=running', '--format', '{{.Node}}'])
      .trim()
      .split('\n')
      .sort();
    expect(tasks).toHaveLength(2);
    expect(tasks).toContain(leader?.holder);
    const standby = tasks.find((n) => n !== leader?.holder);

    // kill -9 of the leader's container (dockerd sends SIGKILL for `docker kill`).
    const leaderNode = rig.nodes.findIndex((n) => n.name === leader?.holder) + 1;
    const container = rig.docker(['ps', '-q', '--filter', 'name=kha-keelson'], leaderNode).trim();
    rig.docker(['kill', container], leaderNode);
    const second = push({ 'desired-state/web2.yaml': web('kha-web2') });

    await until(
      () => lastGood() === second && serviceId('kha-web2'),
      'the standby to converge the new commit',
      240_000,
    );
    expect(lease()).toMatchObject({ holder: standby, generation: 2 });
    // What the first leader created was not made again.
    expect(serviceId('kha-web')).toBe(webId);
    const names = rig.docker(['service', 'ls', '--format', '{{.Name}}']).trim().split('\n').sort();
    expect(names).toEqual(['kha-keelson', 'kha-web', 'kha-web2']);
  }, 600_000);
});
