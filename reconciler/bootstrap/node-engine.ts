import { PassThrough } from 'node:stream';
import { type SshAccess, SwarmClient } from '../../providers/swarm/index.ts';
import type { SwarmMembership, SwarmNodeEngine, SwarmNodeView } from './swarm-formation.ts';

/** How a node's Docker Engine is reached and which address it advertises in the Swarm. */
export interface NodeAccess {
  /** The server's name (and the node's hostname). */
  readonly name: string;
  /** DOCKER_HOST form: `ssh://root@<public ip>` (default), `unix:///…`, `tcp://…`. */
  readonly dockerHost: string;
  /** The private address to listen, advertise and carry overlay traffic on. */
  readonly advertiseAddr: string;
}

/** An answer of keelson's `/readyz` inside a task's container, or why there was none. */
export type ReadyzAnswer =
  | { readonly type: 'answer'; readonly status: number; readonly body: string }
  | { readonly type: 'no-answer'; readonly why: string };

/**
 * A node's Docker Engine through the Engine API (dockerode; over SSH docker-modem runs
 * `docker system dial-stdio` on the node, as the docker CLI does). What the Swarm step and the
 * readiness check need, nothing more.
 */
export class NodeEngine implements SwarmNodeEngine {
  readonly name: string;
  readonly endpoint: string;
  readonly advertiseAddr: string;
  readonly client: SwarmClient;

  constructor(access: NodeAccess, ssh: SshAccess = {}) {
    this.name = access.name;
    this.endpoint = access.dockerHost;
    this.advertiseAddr = access.advertiseAddr;
    this.client = new SwarmClient(access.dockerHost, ssh);
  }

  /** The engine's version when it answers within `timeoutMs`. */
  async version(timeoutMs = 10_000): Promise<string> {
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs).unref(),
    );
    const v = (await Promise.race([
      this.client.call('read the engine version', () => this.client.docker.version()),
      timeout,
    ])) as { Version?: string };
    return v.Version ?? 'unknown';
  }

  async membership(): Promise<SwarmMembership> {
    const info = (await this.client.call('read the engine info', () => this.client.docker.info())) as {
      Swarm?: {
        LocalNodeState?: string;
        NodeID?: string;
        NodeAddr?: string;
        ControlAvailable?: boolean;
        Error?: string;
        Cluster?: { ID?: string };
      };
    };
    const s = info.Swarm ?? {};
    return {
      state: s.LocalNodeState || 'inactive',
      manager: s.ControlAvailable === true,
      ...(s.NodeID ? { nodeId: s.NodeID } : {}),
      ...(s.NodeAddr ? { nodeAddr: s.NodeAddr } : {}),
      ...(s.Cluster?.ID ? { clusterId: s.Cluster.ID } : {}),
      ...(s.Error ? { error: s.Error } : {}),
    };
  }

  async init(advertiseAddr: string): Promise<void> {
    await this.client.call('initialise the Swarm', () =>
      this.client.docker.swarmInit({
        ListenAddr: `${advertiseAddr}:2377`,
        AdvertiseAddr: advertiseAddr,
        DataPathAddr: advertiseAddr,
      }),
    );
  }

  async join(advertiseAddr: string, remote: string, token: string): Promise<void> {
    await this.client.call('join the Swarm', () =>
      this.client.docker.swarmJoin({
        ListenAddr: `${advertiseAddr}:2377`,
        AdvertiseAddr: advertiseAddr,
        DataPathAddr: advertiseAddr,
        RemoteAddrs: [remote],
        JoinToken: token,
      }),
    );
  }

  async managerToken(): Promise<string> {
    const swarm = (await this.client.call('inspect the Swarm', () => this.client.docker.swarmInspect())) as {
      JoinTokens?: { Manager?: string };
    };
    const token = swarm.JoinTokens?.Manager;
    if (!token) throw new Error('the engine answered without a manager join token');
    return token;
  }

  async swarmNodes(): Promise<readonly SwarmNodeView[]> {
    return (await this.client.listNodes()).map((n) => ({
      id: n.ID,
      hostname: n.Description?.Hostname ?? n.Spec.Name ?? n.ID,
      state: n.Status?.State ?? 'unknown',
      role: n.Spec.Role,
      ...(n.ManagerStatus?.Reachability ? { reachability: n.ManagerStatus.Reachability } : {}),
    }));
  }

  /**
   * Asks keelson's `/readyz` from inside one of its containers on this engine (`docker exec` of
   * the image's Node): the answer needs no route from here to the task, and no published port.
   */
  async readyz(containerId: string, port: number, timeoutMs = 15_000): Promise<ReadyzAnswer> {
    const script = `fetch('http://127.0.0.1:${port}/readyz',{signal:AbortSignal.timeout(5000)}).then(async r=>process.stdout.write(JSON.stringify({status:r.status,body:await r.text()})),e=>process.stdout.write(JSON.stringify({error:String(e.cause?.code??e.message)})))`;
    const container = this.client.docker.getContainer(containerId);
    let out = '';
    try {
      const exec = await container.exec({ Cmd: ['node', '-e', script], AttachStdout: true, AttachStderr: true });
      const stream = await exec.start({ hijack: true, stdin: false });
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      stdout.on('data', (c: Buffer) => {
        out += c.toString('utf8');
      });
      stderr.resume();
      this.client.docker.modem.demuxStream(stream, stdout, stderr);
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          stream.destroy();
          reject(new Error(`no answer within ${timeoutMs} ms`));
        }, timeoutMs);
        timer.unref();
        stream.on('end', () => {
          clearTimeout(timer);
          resolve();
        });
        stream.on('close', () => {
          clearTimeout(timer);
          resolve();
        });
        stream.on('error', (e: Error) => {
          clearTimeout(timer);
          reject(e);
        });
      });
    } catch (error) {
      return { type: 'no-answer', why: `docker exec in container ${containerId.slice(0, 12)}: ${String(error)}` };
    }
    try {
      const parsed = JSON.parse(out) as { status?: number; body?: string; error?: string };
      if (typeof parsed.status === 'number') return { type: 'answer', status: parsed.status, body: parsed.body ?? '' };
      return { type: 'no-answer', why: parsed.error ?? 'no status' };
    } catch {
      return { type: 'no-answer', why: out.trim() ? `unexpected output: ${out.trim().slice(0, 200)}` : 'no output' };
    }
  }
}
