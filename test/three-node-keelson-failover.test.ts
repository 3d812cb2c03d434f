/**
 * keelson as a two-replica Swarm service on the three-node rig ('ldr', 83), each replica driving
 * its own node's engine, the state and lease on a folder every node mounts, the desired state in
 * a bare Git repository read over file://.
 *
 * 1. kill -9 of the leader's node ENGINE (its dockerd; the keelson container keeps running under
 *    containerd and could go on renewing the lease): the leader finds its engine gone and marks
 *    its lease as unhealthy, the standby takes it over and converges a new commit, nothing is
 *    applied twice (same service ids and versions, one create event each). The engine restarted
 *    (it stops the old container; Swarm runs the replica again), keelson is back to two replicas,
 *    the new one a standby, and the lease stays with the new leader.
 * 2. A node drained through Git (`swarm.Node` with `availability: drain`): the services on it move
 *    to the other nodes, the keelson replica on it moves to the third node, and keelson converges a
 *    later commit.
 *
 * Each step prints what it measured (how long the takeover took).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushFiles, readLastGood, readLease } from './support/replica-state.ts';
import { startThreeNodeSwarm, type ThreeNodeSwarm, threeNodeSwarmUnavailable } from './support/three-node-swarm.ts';

const unavailable = threeNodeSwarmUnavailable();
if (unavailable) console.log(`keelson failover on the three-node Swarm NOT run: ${unavailable}`);

const ID = 'ldr';
const NET = 83;
const root = resolve(import.meta.dirname, '..');
const image = 'keelson-leader:test';
const PORT = 8480;

const service = (name: string, replicas = 1) =>
  `kind: swarm.Service\nname: ${name}\nspec:\n  image: keelson-test/busybox:1\n  command: [sleep, "3600"]\n  endpointMode: dnsrr\n  stopSignal: KILL\n  deploy:\n    replicas: ${replicas}\n---\n`;

/** Polls every half second until `check` holds (a state, never a duration, is waited for). */
async function waitFor<T>(check: () => T | undefined | false, what: string, timeoutMs = 240_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = check();
      if (value) return value;
    } catch (error) {
      last = error; // a node answering slowly, a file being renamed: try again
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${last})` : ''}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe.skipIf(unavailable !== undefined)('keelson failover and drain on the three-node Swarm', () => {
  let rig: ThreeNodeSwarm;
  let dir = '';
  /** Nodes (1-based) whose engine is down: never asked. */
  const down = new Set<number>();
  const alive = () => [1, 2, 3].find((n) => !down.has(n)) ?? 1;
  const docker = (args: string[], node = alive()) => rig.docker(args, node);
  const push = (files: Record<string, string>) =>
    pushFiles(join(dir, 'work'), files, `change ${Object.keys(files).join(', ')}`);
  const lease = () => readLease(join(dir, 'state'));
  const lastGood = () => readLastGood(join(dir, 'state'));
  /** id and version of each service of the rig, by name. */
  const services = () =>
    Object.fromEntries(
      docker(['service', 'ls', '--format', '{{.Name}}'])
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((name) => {
          const [id = '', version = ''] = docker(['service', 'inspect', name, '--format', '{{.ID}} {{.Version.Index}}'])
            .trim()
            .split(' ');
          return [name, { id, version }];
        }),
    );
  /** Nodes (hostnames) of a service's tasks that are meant to run and do. */
  const running = (name: string) =>
    docker(['service', 'ps', name, '--filter', 'desired-state=running', '--format', '{{.Node}} {{.CurrentState}}'])
      .trim()
      .split('\n')
      .filter((l) => l.includes(' Running'))
      .map((l) => l.split(' ')[0] ?? '')
      .sort();
  const nodeIndex = (hostname: string | undefined) => rig.nodes.findIndex((n) => n.name === hostname) + 1;
  /** /readyz of the keelson replica on node N, asked inside that node's network namespace. */
  const readyz = (node: number) => {
    const out = execFileSync(
      'ip',
      ['netns', 'exec', `ks3-${ID}-n${node}`, 'curl', '-s', '-m', '5', `http://127.0.0.1:${PORT}/readyz`],
      { encoding: 'utf8' },
    );
    return JSON.parse(out) as { ready: boolean; role?: string; reasons?: string[] };
  };
  /** Service create events the engine of node N saw, by service name. */
  const creates = (node = alive()) => {
    const lines = docker(
      [
        'events',
        '--since',
        '0',
        '--until',
        String(Math.floor(Date.now() / 1000) + 1),
        '--filter',
        'type=service',
        '--filter',
        'event=create',
        '--format',
        '{{.Actor.Attributes.name}}',
      ],
      node,
    )
      .trim()
      .split('\n')
      .filter(Boolean);
    const counts: Record<string, number> = {};
    for (const l of lines) counts[l] = (counts[l] ?? 0) + 1;
    return counts;
  };

  beforeAll(() => {
    rig = startThreeNodeSwarm(ID, NET);
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
    dir = mkdtempSync(`/tmp/${ID}-`);
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
  }, 400_000);

  it('kill -9 of the leader node’s engine: the leader steps down, the standby converges a new commit, nothing is applied twice', async () => {
    const first = push({ 'desired-state/web.yaml': service(`${ID}-web`) });
    const sockets = rig.nodes[0]?.dockerHost.replace('unix://', '').replace(/\/n1\/docker\.sock$/, '') ?? '';
    docker([
      'service',
      'create',
      '--detach',
      '--no-resolve-image',
      '--name',
      `${ID}-keelson`,
      '--replicas',
      '2',
      '--replicas-max-per-node',
      '1',
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
      `KEELSON_CHECKOUT_DIR=${dir}/checkout-{{.Node.Hostname}}-{{.Task.Slot}}`,
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
      `KEELSON_HTTP_PORT=${PORT}`,
      '--env',
      `KEELSON_OWNER=${ID}`,
      image,
    ]);
    await waitFor(() => lastGood() === first && services()[`${ID}-web`], 'the leader to apply the first commit');
    const leader = lease();
    expect(leader?.generation).toBe(1);
    const replicas = await waitFor(() => {
      const r = running(`${ID}-keelson`);
      return r.length === 2 && r;
    }, 'both keelson replicas to run');
    expect(replicas).toContain(leader?.holder);
    const standby = replicas.find((n) => n !== leader?.holder);
    const leaderNode = nodeIndex(leader?.holder);
    const standbyNode = nodeIndex(standby);
    await waitFor(() => readyz(standbyNode).role === 'standby', 'the standby to say so on /readyz');
    const before = services()[`${ID}-web`];

    // The leader's node fails: its dockerd is killed, its keelson container keeps running.
    rig.kill(leaderNode);
    const killedAt = Date.now();
    down.add(leaderNode);
    const second = push({ 'desired-state/web2.yaml': service(`${ID}-web2`) });
    await waitFor(() => lease()?.holder === standby, 'the standby to take the lease');
    const tookOver = Date.now();

    await waitFor(
      () => lastGood() === second && services()[`${ID}-web2`],
      'the standby to take over and converge the new commit',
    );
    // One change of hands, to the standby, long before the old leader's container dies (if ever):
    // the old leader marked its lease as unhealthy (it would otherwise have gone on renewing it
    // from its still running container, and the new commit would never have converged).
    expect(lease()).toEqual({ holder: standby, generation: 2, expiresAt: expect.any(Number) });
    // The old leader is alive, and a standby that says why it is not fit to lead.
    const old = await waitFor(() => {
      const r = readyz(leaderNode);
      return r.role === 'standby' && r;
    }, 'the old leader to be a standby');
    expect(old.ready).toBe(false);
    expect(old.reasons?.join(' ')).toMatch(/unhealthy: swarm: cannot reach the Docker Engine/);
    // Nothing applied twice: the first commit's service is the same object at the same version, and
    // each service was created once.
    const after = services();
    expect(after[`${ID}-web`]).toEqual(before);
    expect(Object.keys(after).sort()).toEqual([`${ID}-keelson`, `${ID}-web`, `${ID}-web2`]);
    expect(creates()).toEqual({ [`${ID}-keelson`]: 1, [`${ID}-web`]: 1, [`${ID}-web2`]: 1 });
    console.log(
      `engine of ${leader?.holder} killed: ${standby} took the lease after ${((tookOver - killedAt) / 1000).toFixed(1)} s ` +
        `(lease TTL 6 s, renewal 2 s), the new commit converged after ${((Date.now() - killedAt) / 1000).toFixed(1)} s`,
    );

    // The engine comes back: the old leader does not take the lease back, the new one goes on.
    rig.restart(leaderNode);
    down.delete(leaderNode);
    await waitFor(
      () =>
        docker(['node', 'ls', '--format', '{{.Hostname}} {{.Status}}'], standbyNode).includes(
          `${leader?.holder} Ready`,
        ),
      'the restarted node to be Ready again',
    );
    const third = push({ 'desired-state/web3.yaml': service(`${ID}-web3`) });
    await waitFor(() => lastGood() === third && services()[`${ID}-web3`], 'the new leader to converge a third commit');
    expect(lease()).toMatchObject({ holder: standby, generation: 2 });
    // The restarted engine stops the old leader's container (no live-restore: dockerd kills the
    // containers it finds running when it starts), and Swarm runs the lost replica again: keelson is
    // back to two replicas, the new one a standby, and the lease stays where it is.
    const again = await waitFor(() => {
      const r = running(`${ID}-keelson`);
      return r.length === 2 && r;
    }, 'keelson to be back to two replicas');
    for (const node of again.filter((n) => n !== standby))
      await waitFor(() => readyz(nodeIndex(node)).role === 'standby', `the replica on ${node} to be a standby`);
    console.log(`after the restart of ${leader?.holder}'s engine, replicas run on ${again.join(', ')}`);
    expect(lease()).toMatchObject({ holder: standby, generation: 2 });
    expect(after[`${ID}-web`]).toEqual(services()[`${ID}-web`]);
  }, 600_000);

  it('drains a node through Git: its services move, the keelson replica on it moves to the third node, keelson converges a later commit', async () => {
    const leader = lease();
    // The replica of the node that failed in the first test may still be on its way elsewhere.
    const replicas = await waitFor(() => {
      const r = running(`${ID}-keelson`);
      return r.length === 2 && r;
    }, 'both keelson replicas to run');
    expect(replicas).toContain(leader?.holder);
    // The standby's node is drained (draining the leader's own node is refused without
    // allowDisruption: test/swarm-node.test.ts); its replica can only move to the third node.
    const drained = replicas.find((n) => n !== leader?.holder) ?? '';
    const third = rig.nodes.map((n) => n.name).find((n) => !replicas.includes(n)) ?? '';
    const spread = push({ 'desired-state/spread.yaml': service(`${ID}-spread`, 3) });
    await waitFor(
      () => lastGood() === spread && running(`${ID}-spread`).length === 3,
      'three tasks of a service spread over the nodes',
    );
    // Swarm spreads a service's tasks over the nodes: one of them is on the node to drain.
    expect(running(`${ID}-spread`)).toContain(drained);
    const before = services();

    const drain = push({
      'desired-state/nodes.yaml': `kind: swarm.Node\nname: ${drained}\nspec:\n  availability: drain\n`,
    });
    // lastGood is written when the revision is verified, before its pass applies it: wait for the node.
    const availability = () => docker(['node', 'inspect', drained, '--format', '{{.Spec.Availability}}']).trim();
    await waitFor(() => lastGood() === drain && availability() === 'drain', 'the leader to apply the drain');
    expect(availability()).toBe('drain');
    // Services move: nothing meant to run is left on the drained node, everything runs elsewhere.
    await waitFor(
      () => docker(['node', 'ps', drained, '--filter', 'desired-state=running', '-q']).trim() === '',
      'every task to leave the drained node',
    );
    await waitFor(() => {
      const s = running(`${ID}-spread`);
      return s.length === 3 && !s.includes(drained);
    }, 'the spread service to run its three tasks on the other nodes');
    const moved = await waitFor(() => {
      const k = running(`${ID}-keelson`);
      return k.length === 2 && !k.includes(drained) && k;
    }, 'the keelson replica of the drained node to run elsewhere');
    expect(moved).toEqual([leader?.holder, third].sort());

    // keelson keeps working: the same leader, ready, converges a later commit; the moved replica is
    // a standby; nothing was made again.
    expect(lease()).toMatchObject({ holder: leader?.holder, generation: leader?.generation });
    const later = push({ 'desired-state/web4.yaml': service(`${ID}-web4`) });
    await waitFor(() => lastGood() === later && services()[`${ID}-web4`], 'keelson to converge a later commit');
    await waitFor(() => readyz(nodeIndex(leader?.holder)).ready, 'the leader to be ready');
    await waitFor(() => readyz(nodeIndex(third)).role === 'standby', 'the moved replica to be a standby');
    const after = services();
    for (const name of Object.keys(before)) expect(after[name]?.id).toBe(before[name]?.id);
    for (const name of [`${ID}-web`, `${ID}-web2`, `${ID}-web3`]) expect(after[name]).toEqual(before[name]);
    expect(lease()).toMatchObject({ holder: leader?.holder, generation: leader?.generation });
  }, 600_000);
});
