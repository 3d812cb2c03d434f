/**
 * The three-node Swarm rig (scripts/three-node-swarm.sh) for the tests and `keelson demo --swarm
 * three-node`: three Docker Engines in network namespaces of their own, joined as managers, each
 * with the busybox test images imported.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ensureImages } from './local-swarm.ts';

const script = join(import.meta.dirname, 'three-node-swarm.sh');

export interface SwarmNode {
  readonly name: string;
  readonly address: string;
  /** `unix:///…/docker.sock`, for DOCKER_HOST or dockerode. */
  readonly dockerHost: string;
}

export interface ThreeNodeSwarm {
  readonly nodes: readonly SwarmNode[];
  /** `docker` against one node (default node1), returning stdout. */
  docker(args: readonly string[], node?: number): string;
  /** kill -9 of a node's dockerd: a node failure. */
  kill(node: number): void;
  restart(node: number): void;
  /** This machine joins the rig's network as 10.NET.0.1 (returned): the nodes reach it, it reaches them. */
  hostLink(): string;
  /** The network namespace of a node (for `ip netns exec`). */
  namespace(node: number): string;
  down(): void;
}

/** Why the rig cannot run here, or undefined when it can (root, iproute2, containerd, dockerd). */
export function threeNodeSwarmUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'the three-node Swarm rig needs root (network namespaces)';
  for (const tool of ['ip', 'containerd', 'dockerd', 'nsenter', 'unshare']) {
    try {
      execFileSync('which', [tool], { stdio: 'ignore' });
    } catch {
      return `the three-node Swarm rig needs ${tool} (scripts/setup.sh installs it)`;
    }
  }
  return undefined;
}

export interface ThreeNodeSwarmOptions {
  /** Form the Swarm (node1 initialises, the others join as managers). Default true; false leaves three lone engines. */
  readonly swarm?: boolean;
}

export function startThreeNodeSwarm(id: string, net = 99, options: ThreeNodeSwarmOptions = {}): ThreeNodeSwarm {
  const run = (args: string[]) =>
    execFileSync('bash', [script, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  run(['down', id]);
  let out: string;
  try {
    out = run(['up', id, String(net), ...(options.swarm === false ? ['--no-swarm'] : [])]);
  } catch (error) {
    run(['down', id]);
    throw error;
  }
  const nodes = out
    .trim()
    .split('\n')
    .map((line) => {
      const [name = '', address = '', dockerHost = ''] = line.split(' ');
      return { name, address, dockerHost };
    });
  for (const n of nodes) ensureImages(n.dockerHost);
  return {
    nodes,
    docker(args, node = 1) {
      const host = nodes[node - 1]?.dockerHost ?? '';
      return execFileSync('docker', ['-H', host, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    },
    kill: (node) => run(['kill', id, String(node)]),
    restart: (node) => run(['restart', id, String(node)]),
    hostLink: () => run(['host-link', id, String(net)]).trim(),
    namespace: (node) => `ks3-${id}-n${node}`,
    down: () => run(['down', id]),
  };
}
