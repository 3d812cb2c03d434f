import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_IMAGE } from '../scripts/local-swarm.ts';
import { until } from './daemon-support.ts';
import { startThreeNodeSwarm, type ThreeNodeSwarm, threeNodeSwarmUnavailable } from './support/three-node-swarm.ts';

/**
 * The rig itself: three Docker Engines in their own network namespaces form a Swarm of three
 * managers, spread a service over all three nodes, and survive a node's engine being killed.
 */
const unavailable = threeNodeSwarmUnavailable();
if (unavailable) console.log(`three-node Swarm tests NOT run: ${unavailable}`);

describe.skipIf(unavailable !== undefined)('the three-node Swarm rig', () => {
  let rig: ThreeNodeSwarm;
  beforeAll(() => {
    rig = startThreeNodeSwarm('vt', 98);
  }, 180_000);
  afterAll(() => rig?.down(), 60_000);

  const nodeStates = () =>
    rig.docker(['node', 'ls', '--format', '{{.Hostname}} {{.Status}} {{.ManagerStatus}}']).trim().split('\n').sort();

  it('forms a Swarm of three managers, one per namespace, each with its own hostname', () => {
    expect(rig.nodes.map((n) => n.address)).toEqual(['10.98.0.11', '10.98.0.12', '10.98.0.13']);
    expect(nodeStates()).toEqual(['node1 Ready Leader', 'node2 Ready Reachable', 'node3 Ready Reachable']);
  });

  it('spreads a service over the three nodes (images imported on each, never pulled)', async () => {
    rig.docker([
      'service',
      'create',
      '--detach',
      '--no-resolve-image',
      '--name',
      'ks3-spread',
      '--replicas',
      '3',
      '--replicas-max-per-node',
      '1',
      '--endpoint-mode',
      'dnsrr',
      '--stop-signal',
      'KILL',
      TEST_IMAGE,
      'sleep',
      '3600',
    ]);
    const running = async () => {
      const lines = rig
        .docker([
          'service',
          'ps',
          'ks3-spread',
          '--filter',
          'desired-state=running',
          '--format',
          '{{.Node}} {{.CurrentState}}',
        ])
        .trim()
        .split('\n');
      return lines.length === 3 && lines.every((l) => l.includes('Running'))
        ? lines.map((l) => l.split(' ')[0]).sort()
        : false;
    };
    expect(await until(running, 'three running tasks', 120_000)).toEqual(['node1', 'node2', 'node3']);
    rig.docker(['service', 'rm', 'ks3-spread']);
  }, 180_000);

  it('sees a node whose engine was killed go Down, and Ready again once it is restarted', async () => {
    rig.kill(3);
    await until(() => nodeStates().includes('node3 Down Unreachable'), 'node3 reported Down', 120_000);
    rig.restart(3);
    await until(() => nodeStates().includes('node3 Ready Reachable'), 'node3 back', 120_000);
  }, 300_000);
});
