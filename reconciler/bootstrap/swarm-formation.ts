import { errorMessage } from '../../providers/sdk/index.ts';
import { BootstrapError } from './bootstrap-error.ts';

/** What a node's engine says about its Swarm membership (`GET /info`, `.Swarm`). */
export interface SwarmMembership {
  /** Docker's `LocalNodeState`: `inactive`, `pending`, `active`, `error` or `locked`. */
  readonly state: string;
  readonly nodeId?: string;
  /** The address the node advertises in the Swarm (`NodeAddr`). */
  readonly nodeAddr?: string;
  /** The Swarm's id; only a manager knows it. */
  readonly clusterId?: string;
  /** A manager (`ControlAvailable`). */
  readonly manager: boolean;
  /** The engine's own words when the state is `error`. */
  readonly error?: string;
}

/** A node's engine as the Swarm step needs it (production: over SSH; tests: a unix socket). */
export interface SwarmNodeEngine {
  /** The server's name, which is also the node's hostname. */
  readonly name: string;
  /** Where the engine is reached, for messages. */
  readonly endpoint: string;
  /** The private address the node listens, advertises and carries overlay traffic on. */
  readonly advertiseAddr: string;
  membership(): Promise<SwarmMembership>;
  /** `docker swarm init` on this node. */
  init(advertiseAddr: string): Promise<void>;
  /** `docker swarm join` of this node through the manager at `remote` (host:port). */
  join(advertiseAddr: string, remote: string, token: string): Promise<void>;
  /** The manager join token (this node must be a manager). Never logged. */
  managerToken(): Promise<string>;
  /** The Swarm's nodes as this manager sees them. */
  swarmNodes(): Promise<readonly SwarmNodeView[]>;
}

export interface SwarmNodeView {
  readonly id: string;
  readonly hostname: string;
  /** `ready`, `down`, `unknown`, `disconnected`. */
  readonly state: string;
  readonly role: 'manager' | 'worker';
  /** For managers: `reachable`, `unreachable`, `unknown`. */
  readonly reachability?: string;
}

/** What to do with one node. `member`: already in the Swarm, left alone. */
export type NodeFormation =
  | { readonly node: string; readonly action: 'init' }
  | { readonly node: string; readonly action: 'join'; readonly via: string }
  | { readonly node: string; readonly action: 'member'; readonly role: 'manager' | 'worker' };

export type FormationPlan =
  | { readonly type: 'form'; readonly via: string; readonly nodes: readonly NodeFormation[] }
  | { readonly type: 'refuse'; readonly node: string; readonly message: string; readonly hint: string };

/**
 * Decides, from each node's membership, how the Swarm is formed (pure). Nodes come in order: the
 * first one initialises a Swarm when no node is in one. A node already in the Swarm is left alone
 * (so this is a no-op after cloud-init's own join handover did the job); nodes in no Swarm join as
 * managers through the first manager found. A node that is in another Swarm, locked, in error or
 * still joining is refused, never changed: leaving a Swarm loses its services, which only a person
 * should decide.
 */
export function planSwarmFormation(
  nodes: readonly { readonly name: string; readonly membership: SwarmMembership }[],
): FormationPlan {
  const first = nodes[0];
  if (!first)
    return { type: 'refuse', node: 'nodes', message: 'no node to form a Swarm from', hint: 'declare the servers' };
  for (const { name, membership: m } of nodes) {
    if (m.state === 'locked')
      return {
        type: 'refuse',
        node: name,
        message: 'its Swarm is locked (autolock)',
        hint: `unlock it with "docker swarm unlock" on ${name}, then run keelson bootstrap again`,
      };
    if (m.state === 'error')
      return {
        type: 'refuse',
        node: name,
        message: `its engine reports a Swarm error${m.error ? ` (${m.error})` : ''}`,
        hint: `repair it, or make it leave with "docker swarm leave --force" on ${name}, then run keelson bootstrap again`,
      };
    if (m.state === 'pending')
      return {
        type: 'refuse',
        node: name,
        message: 'it is joining a Swarm right now (pending)',
        hint: 'wait until it has joined (docker info), then run keelson bootstrap again',
      };
    if (m.state !== 'active' && m.state !== 'inactive')
      return {
        type: 'refuse',
        node: name,
        message: `its Swarm state is "${m.state}", which keelson does not know`,
        hint: 'check "docker info" on it',
      };
  }
  const managers = nodes.filter((n) => n.membership.state === 'active' && n.membership.manager);
  const members = nodes.filter((n) => n.membership.state === 'active');
  if (members.length > 0 && managers.length === 0) {
    return {
      type: 'refuse',
      node: members.map((n) => n.name).join(', '),
      message: 'these nodes are Swarm workers and no node here is a manager, so no join token can be read',
      hint: 'map at least one manager of that Swarm with --node, or promote one (docker node promote)',
    };
  }
  const via = managers[0] ?? first;
  const cluster = via.membership.clusterId;
  for (const m of managers) {
    if (cluster !== undefined && m.membership.clusterId !== undefined && m.membership.clusterId !== cluster) {
      return {
        type: 'refuse',
        node: m.name,
        message: `it is a manager of another Swarm (cluster ${m.membership.clusterId}) than ${via.name} (cluster ${cluster})`,
        hint: `make it leave that Swarm ("docker swarm leave --force" on ${m.name}: its services there are lost), then run keelson bootstrap again`,
      };
    }
  }
  const plan: NodeFormation[] = nodes.map(({ name, membership: m }) => {
    if (m.state === 'active') return { node: name, action: 'member', role: m.manager ? 'manager' : 'worker' };
    if (managers.length === 0 && name === first.name) return { node: name, action: 'init' };
    return { node: name, action: 'join', via: via.name };
  });
  return { type: 'form', via: via.name, nodes: plan };
}

/** One line of the Swarm step's report. */
export interface FormationLine {
  readonly node: string;
  readonly status: 'initialised' | 'joined' | 'already there';
  readonly detail: string;
}

export interface FormSwarmOptions {
  /** Give up waiting (for pending nodes, for every node to be Ready) after this time (epoch ms). */
  readonly deadline: number;
  /** How to wait between looks (default: setTimeout). Tests may pass a function that resolves at once. */
  readonly pause?: (ms: number) => Promise<void>;
}

/**
 * Forms the Swarm on the nodes' engines as `planSwarmFormation` decides: init on the first node,
 * then each other node joins as a manager with the manager token read from the first through the
 * Docker API (one at a time, so Raft grows by one member each time). Ends when every node is
 * Ready and every manager reachable. Returns one line per node.
 */
export async function formSwarm<E extends SwarmNodeEngine>(
  engines: readonly E[],
  options: FormSwarmOptions,
): Promise<{ lines: FormationLine[]; via: E }> {
  const pause = options.pause ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const read = async (e: SwarmNodeEngine): Promise<SwarmMembership> => {
    try {
      return await e.membership();
    } catch (error) {
      throw new BootstrapError(
        'swarm',
        `node ${e.name} (${e.endpoint})`,
        `cannot read its Swarm state: ${errorMessage(error)}`,
        'check that its Docker Engine answers (step docker) and run keelson bootstrap again',
      );
    }
  };
  // A node that is joining right now settles in seconds: wait for it rather than refuse.
  let states = await Promise.all(engines.map(read));
  while (states.some((s) => s.state === 'pending') && Date.now() < options.deadline) {
    await pause(1_000);
    states = await Promise.all(engines.map(read));
  }
  const plan = planSwarmFormation(engines.map((e, i) => ({ name: e.name, membership: states[i] as SwarmMembership })));
  if (plan.type === 'refuse') throw new BootstrapError('swarm', `node ${plan.node}`, plan.message, plan.hint);
  const byName = new Map(engines.map((e) => [e.name, e]));
  const via = byName.get(plan.via) as E;
  const lines: FormationLine[] = [];

  const init = plan.nodes.find((n) => n.action === 'init');
  if (init) {
    try {
      await via.init(via.advertiseAddr);
      lines.push({ node: via.name, status: 'initialised', detail: `a new Swarm, advertising ${via.advertiseAddr}` });
    } catch (error) {
      // cloud-init's own script may have initialised it a moment ago: then that is the Swarm.
      const now = await read(via);
      if (now.state === 'active' && now.manager) {
        lines.push({ node: via.name, status: 'already there', detail: 'initialised meanwhile (by its cloud-init)' });
      } else
        throw new BootstrapError(
          'swarm',
          `node ${via.name} (${via.endpoint})`,
          `cannot initialise the Swarm advertising ${via.advertiseAddr}: ${errorMessage(error)}`,
          `check that ${via.advertiseAddr} is an address of ${via.name} (its private network address; --node ${via.name}=...,advertise=ADDR to name another)`,
        );
    }
  }
  const joins = plan.nodes.filter((n) => n.action === 'join');
  if (joins.length > 0) {
    const viaState = await read(via);
    const remote = `${viaState.nodeAddr || via.advertiseAddr}:2377`;
    let token: string;
    try {
      token = await via.managerToken();
    } catch (error) {
      throw new BootstrapError(
        'swarm',
        `node ${via.name} (${via.endpoint})`,
        `cannot read the manager join token: ${errorMessage(error)}`,
        `check that ${via.name} is a Swarm manager ("docker node ls" on it)`,
      );
    }
    for (const j of joins) {
      const engine = byName.get(j.node) as E;
      try {
        await engine.join(engine.advertiseAddr, remote, token);
      } catch (error) {
        // Joined meanwhile (cloud-init's handover): in the same Swarm as the manager, that is fine.
        const now = await read(engine);
        if (now.state === 'active' || now.state === 'pending') {
          lines.push({ node: engine.name, status: 'already there', detail: 'joined meanwhile (by its cloud-init)' });
          continue;
        }
        throw new BootstrapError(
          'swarm',
          `node ${engine.name} (${engine.endpoint})`,
          `cannot join the Swarm through ${via.name} at ${remote}: ${errorMessage(error).replaceAll(token, '<token>')}`,
          `check that ${engine.name} reaches ${remote} (2377/tcp, 7946/tcp+udp, 4789/udp over the private network) and advertises an address of its own (${engine.advertiseAddr})`,
        );
      }
      lines.push({ node: engine.name, status: 'joined', detail: `as a manager through ${via.name} (${remote})` });
    }
  }
  for (const n of plan.nodes)
    if (n.action === 'member')
      lines.push({
        node: n.node,
        status: 'already there',
        detail: `in the Swarm as a ${n.role}${n.role === 'worker' ? ' (left alone: promote it with "docker node promote" or swarm.Node role: manager)' : ''}`,
      });

  await waitUntilFormed(engines, via, read, options.deadline, pause);
  const order = new Map(engines.map((e, i) => [e.name, i]));
  lines.sort((a, b) => (order.get(a.node) ?? 0) - (order.get(b.node) ?? 0));
  return { lines, via };
}

/** Waits until the manager sees every node Ready, and every manager reachable. */
async function waitUntilFormed(
  engines: readonly SwarmNodeEngine[],
  via: SwarmNodeEngine,
  read: (e: SwarmNodeEngine) => Promise<SwarmMembership>,
  deadline: number,
  pause: (ms: number) => Promise<void>,
): Promise<void> {
  const ids = new Map<string, string>();
  for (const e of engines) {
    const m = await read(e);
    if (m.nodeId) ids.set(e.name, m.nodeId);
  }
  let missing: string[] = [];
  for (;;) {
    const seen = new Map((await via.swarmNodes()).map((n) => [n.id, n]));
    missing = engines
      .map((e) => {
        const n = seen.get(ids.get(e.name) ?? '');
        if (!n) return `${e.name} (not in the node list)`;
        if (n.state !== 'ready') return `${e.name} (${n.state})`;
        if (n.role === 'manager' && n.reachability !== 'reachable') return `${e.name} (manager ${n.reachability})`;
        return undefined;
      })
      .filter((m): m is string => m !== undefined);
    if (missing.length === 0) return;
    if (Date.now() >= deadline) break;
    await pause(500);
  }
  throw new BootstrapError(
    'swarm',
    `node ${missing.join(', ')}`,
    `not Ready in the Swarm as ${via.name} sees it`,
    'check "docker node ls" on a manager and the nodes\' dockerd logs, then run keelson bootstrap again',
  );
}
