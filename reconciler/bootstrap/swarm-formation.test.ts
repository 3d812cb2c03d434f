import { describe, expect, it } from 'vitest';
import { BootstrapError } from './bootstrap-error.ts';
import {
  formSwarm,
  planSwarmFormation,
  type SwarmMembership,
  type SwarmNodeEngine,
  type SwarmNodeView,
} from './swarm-formation.ts';

const inactive: SwarmMembership = { state: 'inactive', manager: false };
const manager = (cluster: string, id: string): SwarmMembership => ({
  state: 'active',
  manager: true,
  clusterId: cluster,
  nodeId: id,
  nodeAddr: `10.0.1.${id}`,
});
const worker: SwarmMembership = { state: 'active', manager: false, nodeId: 'w' };
const nodes = (...m: SwarmMembership[]) => m.map((membership, i) => ({ name: `swarm-${i + 1}`, membership }));

describe('planSwarmFormation', () => {
  const cases: {
    why: string;
    given: ReturnType<typeof nodes>;
    expected: ReturnType<typeof planSwarmFormation>;
  }[] = [
    {
      why: 'no node is in a Swarm: the first initialises, the others join through it',
      given: nodes(inactive, inactive, inactive),
      expected: {
        type: 'form',
        via: 'swarm-1',
        nodes: [
          { node: 'swarm-1', action: 'init' },
          { node: 'swarm-2', action: 'join', via: 'swarm-1' },
          { node: 'swarm-3', action: 'join', via: 'swarm-1' },
        ],
      },
    },
    {
      why: "cloud-init's handover already formed it: every node is left alone (a re-run is a no-op)",
      given: nodes(manager('c', '11'), manager('c', '12'), manager('c', '13')),
      expected: {
        type: 'form',
        via: 'swarm-1',
        nodes: [
          { node: 'swarm-1', action: 'member', role: 'manager' },
          { node: 'swarm-2', action: 'member', role: 'manager' },
          { node: 'swarm-3', action: 'member', role: 'manager' },
        ],
      },
    },
    {
      why: 'a replaced server (swarm-1 new and empty): it joins through the first manager found, nobody re-inits',
      given: nodes(inactive, manager('c', '12'), manager('c', '13')),
      expected: {
        type: 'form',
        via: 'swarm-2',
        nodes: [
          { node: 'swarm-1', action: 'join', via: 'swarm-2' },
          { node: 'swarm-2', action: 'member', role: 'manager' },
          { node: 'swarm-3', action: 'member', role: 'manager' },
        ],
      },
    },
    {
      why: 'a worker already in the Swarm stays a worker (promotion is swarm.Node role, not bootstrap)',
      given: nodes(manager('c', '11'), worker, inactive),
      expected: {
        type: 'form',
        via: 'swarm-1',
        nodes: [
          { node: 'swarm-1', action: 'member', role: 'manager' },
          { node: 'swarm-2', action: 'member', role: 'worker' },
          { node: 'swarm-3', action: 'join', via: 'swarm-1' },
        ],
      },
    },
  ];
  for (const c of cases) it(c.why, () => expect(planSwarmFormation(c.given)).toEqual(c.expected));

  const refusals: { why: string; given: ReturnType<typeof nodes>; node: string; says: RegExp }[] = [
    {
      why: 'two Swarms: joining would need the other to leave and lose its services, a person decides',
      given: nodes(manager('a', '11'), manager('b', '12'), inactive),
      node: 'swarm-2',
      says: /another Swarm \(cluster b\)/,
    },
    {
      why: 'only workers: no join token can be read from a worker',
      given: nodes(worker, inactive, inactive),
      node: 'swarm-1',
      says: /no node here is a manager/,
    },
    {
      why: 'a locked Swarm needs its unlock key',
      given: nodes(inactive, { state: 'locked', manager: false }),
      node: 'swarm-2',
      says: /locked/,
    },
    {
      why: 'an engine in Swarm error is repaired by a person',
      given: nodes({ state: 'error', manager: false, error: 'raft: no quorum' }),
      node: 'swarm-1',
      says: /raft: no quorum/,
    },
  ];
  for (const r of refusals)
    it(`refuses: ${r.why}`, () => {
      const plan = planSwarmFormation(r.given);
      expect(plan.type).toBe('refuse');
      if (plan.type === 'refuse') {
        expect(plan.node).toBe(r.node);
        expect(plan.message).toMatch(r.says);
        expect(plan.hint).not.toBe('');
      }
    });
});

/** An engine as a plain object: its membership changes when init/join are called. */
function fakeEngine(
  name: string,
  swarm: FakeSwarm,
  membership: SwarmMembership = inactive,
): SwarmNodeEngine & {
  calls: string[];
} {
  let m = membership;
  const calls: string[] = [];
  const id = name.replace(/\D/g, '');
  return {
    name,
    endpoint: `unix:///fake/${name}.sock`,
    advertiseAddr: `10.0.1.1${id}`,
    calls,
    async membership() {
      return m;
    },
    async init(addr) {
      calls.push(`init ${addr}`);
      m = { state: 'active', manager: true, clusterId: 'new', nodeId: id, nodeAddr: addr };
      swarm.members.set(id, name);
    },
    async join(addr, remote, token) {
      calls.push(`join ${addr} ${remote} ${token === swarm.token ? 'manager-token' : 'wrong-token'}`);
      if (swarm.failJoin === name) throw new Error(`rpc error: ${token} rejected`);
      m = { state: 'active', manager: true, clusterId: 'new', nodeId: id, nodeAddr: addr };
      swarm.members.set(id, name);
    },
    async managerToken() {
      calls.push('token');
      return swarm.token;
    },
    async swarmNodes(): Promise<SwarmNodeView[]> {
      return [...swarm.members].map(([nid, hostname]) => ({
        id: nid,
        hostname,
        state: 'ready',
        role: 'manager',
        reachability: 'reachable',
      }));
    },
  };
}

interface FakeSwarm {
  readonly members: Map<string, string>;
  readonly token: string;
  failJoin?: string;
}

describe('formSwarm', () => {
  const options = { deadline: Number.POSITIVE_INFINITY, pause: async () => {} };

  it('inits on the first node, joins the others with the manager token through its address, and reports each', async () => {
    const swarm: FakeSwarm = { members: new Map(), token: 'SWMTKN-1-secret' };
    const engines = [fakeEngine('swarm-1', swarm), fakeEngine('swarm-2', swarm), fakeEngine('swarm-3', swarm)];
    const { lines, via } = await formSwarm(engines, options);
    expect(via.name).toBe('swarm-1');
    expect(engines.map((e) => e.calls)).toEqual([
      ['init 10.0.1.11', 'token'],
      ['join 10.0.1.12 10.0.1.11:2377 manager-token'],
      ['join 10.0.1.13 10.0.1.11:2377 manager-token'],
    ]);
    expect(lines.map((l) => `${l.node} ${l.status}`)).toEqual([
      'swarm-1 initialised',
      'swarm-2 joined',
      'swarm-3 joined',
    ]);
  });

  it('changes nothing when every node is already in the Swarm', async () => {
    const swarm: FakeSwarm = {
      members: new Map([
        ['1', 'swarm-1'],
        ['2', 'swarm-2'],
      ]),
      token: 't',
    };
    const engines = [fakeEngine('swarm-1', swarm, manager('c', '1')), fakeEngine('swarm-2', swarm, manager('c', '2'))];
    const { lines } = await formSwarm(engines, options);
    expect(engines.flatMap((e) => e.calls)).toEqual([]);
    expect(lines.map((l) => l.status)).toEqual(['already there', 'already there']);
  });

  it('a failed join names the step and the node, and never prints the join token', async () => {
    const swarm: FakeSwarm = { members: new Map(), token: 'SWMTKN-1-secret', failJoin: 'swarm-2' };
    const engines = [fakeEngine('swarm-1', swarm), fakeEngine('swarm-2', swarm)];
    const error = await formSwarm(engines, options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BootstrapError);
    expect((error as BootstrapError).message).toMatch(
      /^step swarm, node swarm-2 \(unix:\/\/\/fake\/swarm-2\.sock\): cannot join/,
    );
    expect((error as BootstrapError).message).not.toContain('SWMTKN-1-secret');
  });

  it("takes a Swarm that the first node's cloud-init initialised a moment before bootstrap's init", async () => {
    const swarm: FakeSwarm = { members: new Map(), token: 't' };
    const first = fakeEngine('swarm-1', swarm);
    const init = first.init.bind(first);
    // The engine refuses bootstrap's init because its own script got there first.
    first.init = async (addr) => {
      await init(addr);
      throw new Error('This node is already part of a swarm');
    };
    const engines = [first, fakeEngine('swarm-2', swarm)];
    const { lines } = await formSwarm(engines, options);
    expect(lines.map((l) => `${l.node} ${l.status}`)).toEqual(['swarm-1 already there', 'swarm-2 joined']);
  });

  it('takes a node that joined by the handover while bootstrap was joining it', async () => {
    const swarm: FakeSwarm = { members: new Map(), token: 't' };
    const second = fakeEngine('swarm-2', swarm);
    const join = second.join.bind(second);
    second.join = async (addr, remote, token) => {
      await join(addr, remote, token);
      throw new Error('This node is already part of a swarm');
    };
    const { lines } = await formSwarm([fakeEngine('swarm-1', swarm), second], options);
    expect(lines.map((l) => `${l.node} ${l.status}`)).toEqual(['swarm-1 initialised', 'swarm-2 already there']);
  });

  it('gives up waiting for a node that never shows Ready, naming it', async () => {
    const swarm: FakeSwarm = { members: new Map(), token: 't' };
    const lonely = fakeEngine('swarm-2', swarm);
    // swarm-2 says it joined, but the manager never lists it.
    let joined = false;
    lonely.join = async () => {
      joined = true;
    };
    lonely.membership = async () =>
      joined ? { state: 'active', manager: true, clusterId: 'new', nodeId: '99' } : inactive;
    const first = fakeEngine('swarm-1', swarm);
    const error = await formSwarm([first, lonely], { deadline: 0, pause: async () => {} }).catch((e: unknown) => e);
    expect((error as BootstrapError).message).toMatch(/step swarm, node swarm-2 \(not in the node list\)/);
  });
});
