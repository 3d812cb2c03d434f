import { createRequire } from 'node:module';
import type Docker from 'dockerode';
import { KeelsonError } from '../../sdk/index.ts';
import { knownHostKeys } from './known-hosts.ts';

/** The subset of Docker's objects the Swarm handlers read. Field names are the Engine API's (v1.41). */
export interface DockerMeta {
  readonly ID: string;
  readonly Version: { readonly Index: number };
  readonly CreatedAt: string;
  readonly UpdatedAt: string;
}

export interface DockerSecret extends DockerMeta {
  readonly Spec: { readonly Name: string; readonly Labels?: Record<string, string>; readonly Data?: string };
}

export interface DockerNetwork {
  readonly Id: string;
  readonly Name: string;
  readonly Created: string;
  readonly Scope: string;
  readonly Driver: string;
  readonly Internal: boolean;
  readonly Attachable: boolean;
  readonly Ingress: boolean;
  readonly Options: Record<string, string> | null;
  readonly Labels: Record<string, string> | null;
  readonly Containers?: Record<string, unknown>;
  readonly IPAM?: {
    readonly Driver?: string;
    readonly Config?: readonly { Subnet?: string; Gateway?: string; IPRange?: string }[] | null;
  };
}

export interface DockerUpdateStatus {
  readonly State?: string;
  readonly StartedAt?: string;
  readonly CompletedAt?: string;
  readonly Message?: string;
}

/** A Docker ServiceSpec, typed loosely: keelson builds it whole and reads back the parts it manages. */
export type DockerServiceSpec = Record<string, unknown> & {
  readonly Name: string;
  readonly Labels?: Record<string, string>;
  readonly TaskTemplate?: Record<string, unknown>;
};

export interface DockerService extends DockerMeta {
  readonly Spec: DockerServiceSpec;
  readonly PreviousSpec?: DockerServiceSpec;
  readonly UpdateStatus?: DockerUpdateStatus | null;
}

export interface DockerTask extends DockerMeta {
  readonly ServiceID: string;
  readonly Slot?: number;
  readonly NodeID?: string;
  readonly DesiredState: string;
  readonly Spec: Record<string, unknown> & {
    readonly ContainerSpec?: {
      readonly Secrets?: readonly { readonly SecretID: string; readonly SecretName: string }[];
      readonly Configs?: readonly { readonly ConfigID: string; readonly ConfigName: string }[];
    };
  };
  readonly Status: {
    readonly Timestamp: string;
    readonly State: string;
    readonly Message?: string;
    readonly Err?: string;
    readonly ContainerStatus?: { readonly ExitCode?: number };
  };
}

export interface DockerNode extends DockerMeta {
  readonly Spec: {
    readonly Name?: string;
    readonly Labels?: Record<string, string> | null;
    readonly Role: 'manager' | 'worker';
    readonly Availability: 'active' | 'pause' | 'drain';
  };
  readonly Description?: { readonly Hostname?: string };
  readonly Status?: { readonly State?: string; readonly Addr?: string };
  readonly ManagerStatus?: { readonly Leader?: boolean; readonly Reachability?: string };
}

/** Docker list filters (`label`, `name`, `service`, `desired-state`...): each key's values are ORed, keys ANDed. */
export type Filters = Record<string, readonly string[]>;

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The one Docker Engine client a `swarm` provider shares between its handlers: dockerode, with
 * every request counted (writes by method and path) so tests and benchmarks can prove that a
 * converged pass writes nothing, and errors turned into `KeelsonError`s with a class.
 */
export class SwarmClient {
  readonly docker: Docker;
  /** Human description of where the engine is, for messages. */
  readonly endpoint: string;
  #writes = 0;
  #reads = 0;
  readonly #writeLog: string[] = [];

  constructor(dockerHost: string | undefined, ssh: SshAccess = {}) {
    this.endpoint = dockerHost ?? 'unix:///var/run/docker.sock';
    // Required here, not at import: validating or planning a tree without Swarm never loads dockerode.
    const DockerClient = createRequire(import.meta.url)('dockerode') as typeof Docker;
    this.docker = new DockerClient(dockerOptions(dockerHost, ssh));
    const modem = this.docker.modem as unknown as {
      dial(options: { method?: string; path?: string }, callback: unknown): unknown;
    };
    const dial = modem.dial.bind(modem);
    modem.dial = (options, callback) => {
      const method = (options.method ?? 'GET').toUpperCase();
      if (WRITE_METHODS.has(method)) {
        this.#writes++;
        if (this.#writeLog.length < 10_000)
          this.#writeLog.push(`${method} ${(options.path ?? '').replace(/\?.*$/, '')}`);
      } else {
        this.#reads++;
      }
      return dial(options, callback);
    };
  }

  /** Write calls (POST/PUT/PATCH/DELETE) sent to the engine so far. */
  writeCount(): number {
    return this.#writes;
  }

  /** Read calls (GET/HEAD) sent to the engine so far. */
  readCount(): number {
    return this.#reads;
  }

  /** `METHOD /path` of every write so far (oldest first), to say what a pass wrote. */
  writes(): readonly string[] {
    return this.#writeLog;
  }

  async ping(timeoutMs = 3_000): Promise<void> {
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs).unref(),
    );
    try {
      await Promise.race([this.docker.ping(), timeout]);
    } catch (error) {
      throw new KeelsonError(`cannot reach the Docker Engine at ${this.endpoint}: ${describe(error)}`, {
        code: 'UNAVAILABLE',
        class: 'transient',
        cause: error,
      });
    }
    const info = (await this.call('read the engine info', () => this.docker.info())) as {
      Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean };
    };
    if (info.Swarm?.LocalNodeState !== 'active' || info.Swarm.ControlAvailable !== true) {
      throw new KeelsonError(
        `the Docker Engine at ${this.endpoint} is not a Swarm manager (swarm state: ${info.Swarm?.LocalNodeState ?? 'unknown'}); run "docker swarm init" or point DOCKER_HOST at a manager`,
        { code: 'UNAVAILABLE', class: 'terminal' },
      );
    }
  }

  /**
   * Whether this engine is fit for a leader (`Provider.localHealth`): it must answer its ping
   * within `timeoutMs`, and, when its info comes back in that time too, be an active Swarm
   * manager. An info that is merely slow (every manager waits while the Swarm elects a Raft
   * leader) does not count against this engine: the others are no better off.
   */
  async localHealth(timeoutMs = 3_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const within = <T>(p: Promise<T>, ms: number): Promise<T | 'late'> => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), Math.max(0, ms));
      });
      return Promise.race([p, late]).finally(() => clearTimeout(timer));
    };
    try {
      if ((await within(this.docker.ping(), timeoutMs)) === 'late') throw new Error(`no answer within ${timeoutMs} ms`);
    } catch (error) {
      throw new KeelsonError(`cannot reach the Docker Engine at ${this.endpoint}: ${describe(error)}`, {
        code: 'UNAVAILABLE',
        class: 'transient',
        cause: error,
      });
    }
    const info = (await within(
      this.call('read the engine info', () => this.docker.info()),
      deadline - Date.now(),
    )) as 'late' | { Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean } };
    if (info !== 'late' && (info.Swarm?.LocalNodeState !== 'active' || info.Swarm.ControlAvailable !== true)) {
      throw new KeelsonError(
        `the Docker Engine at ${this.endpoint} is not a Swarm manager (swarm state: ${info.Swarm?.LocalNodeState ?? 'unknown'})`,
        { code: 'UNAVAILABLE', class: 'transient' },
      );
    }
  }

  listServices(filters: Filters): Promise<DockerService[]> {
    return this.call(
      'list services',
      async () => (await this.docker.listServices({ filters: plain(filters) })) as unknown as DockerService[],
    );
  }

  inspectService(id: string): Promise<DockerService | undefined> {
    return this.orUndefined(
      this.call(`inspect service ${id}`, () => this.docker.getService(id).inspect() as Promise<DockerService>),
    );
  }

  async createService(spec: DockerServiceSpec): Promise<string> {
    const created = (await this.call(`create service ${spec.Name}`, () =>
      this.docker.createService(spec as unknown as Docker.CreateServiceOptions),
    )) as { ID?: string; id?: string };
    return created.ID ?? created.id ?? '';
  }

  async updateService(id: string, version: number, spec: DockerServiceSpec): Promise<void> {
    await this.call(`update service ${spec.Name}`, () =>
      this.docker.getService(id).update({ _query: { version }, _body: spec } as never),
    );
  }

  async removeService(id: string): Promise<void> {
    await this.ignoreMissing(this.call(`remove service ${id}`, () => this.docker.getService(id).remove()));
  }

  listNodes(): Promise<DockerNode[]> {
    return this.call('list nodes', () => this.docker.listNodes()) as Promise<DockerNode[]>;
  }

  async updateNode(id: string, version: number, spec: DockerNode['Spec']): Promise<void> {
    await this.call(
      `update node ${id}`,
      () =>
        this.docker.getNode(id).update({ _query: { version }, _body: spec } as never) as unknown as Promise<unknown>,
    );
  }

  /** The id of the Swarm node whose engine this client talks to (where keelson runs, in production). */
  async localNodeId(): Promise<string | undefined> {
    const info = (await this.call('read the engine info', () => this.docker.info())) as { Swarm?: { NodeID?: string } };
    return info.Swarm?.NodeID || undefined;
  }

  listTasks(filters: Filters): Promise<DockerTask[]> {
    return this.call('list tasks', () => this.docker.listTasks({ filters: plain(filters) })) as Promise<DockerTask[]>;
  }

  listNetworks(filters: Filters): Promise<DockerNetwork[]> {
    return this.call('list networks', () => this.docker.listNetworks({ filters: plain(filters) })) as Promise<
      DockerNetwork[]
    >;
  }

  async createNetwork(options: Record<string, unknown>): Promise<string> {
    const created = (await this.call(`create network ${String(options.Name)}`, () =>
      this.docker.createNetwork(options as unknown as Docker.NetworkCreateOptions),
    )) as { id?: string; Id?: string };
    return created.id ?? created.Id ?? '';
  }

  async removeNetwork(id: string): Promise<void> {
    await this.ignoreMissing(this.call(`remove network ${id}`, () => this.docker.getNetwork(id).remove()));
  }

  /** Secrets and configs share one API shape; `objects('secrets')` or `objects('configs')`. */
  objects(type: 'secrets' | 'configs'): SwarmObjectApi {
    const docker = this.docker;
    const one = type === 'secrets' ? 'secret' : 'config';
    return {
      type,
      list: (filters) =>
        this.call(`list ${type}`, async () =>
          type === 'secrets'
            ? ((await docker.listSecrets({ filters: plain(filters) })) as unknown as DockerSecret[])
            : ((await docker.listConfigs({ filters: plain(filters) })) as unknown as DockerSecret[]),
        ),
      create: async (spec) => {
        const created = (await this.call(`create ${one} ${spec.Name}`, () =>
          type === 'secrets' ? docker.createSecret(spec as never) : docker.createConfig(spec as never),
        )) as { ID?: string; id?: string };
        return created.ID ?? created.id ?? '';
      },
      updateLabels: async (object, labels) => {
        const body = { ...object.Spec, Labels: labels };
        await this.call(`update ${one} ${object.Spec.Name}`, () =>
          type === 'secrets'
            ? (docker.getSecret(object.ID).update({
                _query: { version: object.Version.Index },
                _body: body,
              } as never) as unknown as Promise<unknown>)
            : (docker.getConfig(object.ID).update({
                _query: { version: object.Version.Index },
                _body: body,
              } as never) as unknown as Promise<unknown>),
        );
      },
      remove: async (id) => {
        await this.ignoreMissing(
          this.call(`remove ${one} ${id}`, () =>
            type === 'secrets'
              ? docker.getSecret(id).remove()
              : (docker.getConfig(id).remove() as unknown as Promise<unknown>),
          ),
        );
      },
    };
  }

  /** Local image inspect: `undefined` when the engine does not have it. */
  inspectImage(name: string): Promise<{ RepoDigests?: string[] } | undefined> {
    return this.orUndefined(this.call(`inspect image ${name}`, () => this.docker.getImage(name).inspect()));
  }

  /** Registry digest of an image, asked through the engine (`GET /distribution/{name}/json`). */
  async distributionDigest(name: string): Promise<string | undefined> {
    const modem = this.docker.modem as unknown as {
      dial(options: Record<string, unknown>, cb: (err: unknown, data: unknown) => void): void;
    };
    const data = await new Promise<unknown>((resolve) => {
      modem.dial(
        {
          path: `/distribution/${name}/json?`,
          method: 'GET',
          options: {},
          statusCodes: { 200: true, 401: 'unauthorized', 403: 'forbidden', 500: 'server error' },
        },
        (err, out) => resolve(err ? undefined : out),
      );
    });
    const digest = (data as { Descriptor?: { digest?: string } } | undefined)?.Descriptor?.digest;
    return typeof digest === 'string' && digest.startsWith('sha256:') ? digest : undefined;
  }

  async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw toKeelsonError(`cannot ${what}`, error);
    }
  }

  private async orUndefined<T>(p: Promise<T>): Promise<T | undefined> {
    try {
      return await p;
    } catch (error) {
      if (error instanceof KeelsonError && error.code === 'NOT_FOUND') return undefined;
      throw error;
    }
  }

  private async ignoreMissing(p: Promise<unknown>): Promise<void> {
    try {
      await p;
    } catch (error) {
      if (error instanceof KeelsonError && error.code === 'NOT_FOUND') return;
      throw error;
    }
  }
}

export interface SwarmObjectApi {
  readonly type: 'secrets' | 'configs';
  list(filters: Filters): Promise<DockerSecret[]>;
  create(spec: { Name: string; Labels: Record<string, string>; Data: string }): Promise<string>;
  updateLabels(object: DockerSecret, labels: Record<string, string>): Promise<void>;
  remove(id: string): Promise<void>;
}

function plain(filters: Filters): string {
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(filters)) if (v.length > 0) out[k] = [...v];
  return JSON.stringify(out);
}

/** How an `ssh://` engine is logged in to: the SSH agent (default `$SSH_AUTH_SOCK`) and/or a private key. */
export interface SshAccess {
  readonly agent?: string;
  /** A private key (OpenSSH PEM text), e.g. read from `--ssh-key FILE`. */
  readonly privateKey?: string;
  /**
   * An OpenSSH known_hosts text: when given, a host whose key it does not list for that host (and
   * port) is refused before anything is sent. Without it any host key is accepted, as a first
   * `ssh` to a new server does.
   */
  readonly knownHosts?: string;
}

/**
 * `DOCKER_HOST` (unix://, tcp:// or ssh://user@host[:port]) to dockerode options; unset means the
 * default socket. Over ssh, docker-modem opens an SSH session per connection and runs
 * `docker system dial-stdio` on the host (as the docker CLI does), so the host needs the docker CLI.
 */
export function dockerOptions(dockerHost: string | undefined, ssh: SshAccess = {}): Docker.DockerOptions {
  if (!dockerHost) return { socketPath: '/var/run/docker.sock', version: 'v1.41' };
  if (dockerHost.startsWith('unix://')) return { socketPath: dockerHost.slice('unix://'.length), version: 'v1.41' };
  if (dockerHost.startsWith('npipe://')) return { socketPath: dockerHost.slice('npipe://'.length), version: 'v1.41' };
  if (dockerHost.startsWith('ssh://')) {
    const url = new URL(dockerHost);
    const agent = ssh.agent ?? process.env.SSH_AUTH_SOCK;
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const port = Number(url.port || 22);
    const known = ssh.knownHosts;
    return {
      protocol: 'ssh',
      host,
      port,
      username: decodeURIComponent(url.username || 'root'),
      sshOptions: {
        ...(agent ? { agent } : {}),
        ...(ssh.privateKey ? { privateKey: ssh.privateKey } : {}),
        ...(known === undefined
          ? {}
          : { hostVerifier: (key: Buffer) => knownHostKeys(known, host, port).has(key.toString('base64')) }),
        readyTimeout: 20_000,
      },
      version: 'v1.41',
    };
  }
  const url = new URL(dockerHost.replace(/^tcp:/, 'http:'));
  return {
    host: url.hostname,
    port: Number(url.port || 2375),
    protocol: url.protocol === 'https:' ? 'https' : 'http',
    version: 'v1.41',
  };
}

/** The engine's message from a dockerode error (`json.message`), else the error's own. */
export function describe(error: unknown): string {
  const e = error as { json?: { message?: string }; reason?: string; message?: string; code?: string };
  const fromJson = e?.json && typeof e.json === 'object' ? e.json.message : undefined;
  return String(fromJson ?? e?.message ?? error).trim();
}

/**
 * Classifies a Docker Engine error: 404 not found, 409 conflict and 400 invalid are terminal;
 * a dropped or refused connection and 5xx answers are transient.
 */
export function toKeelsonError(prefix: string, error: unknown): KeelsonError {
  if (error instanceof KeelsonError) return error;
  const status = (error as { statusCode?: number }).statusCode;
  const message = `${prefix}: ${describe(error)}`;
  if (status === 404) return new KeelsonError(message, { code: 'NOT_FOUND', class: 'terminal', status, cause: error });
  if (status === 409) return new KeelsonError(message, { code: 'API_ERROR', class: 'terminal', status, cause: error });
  if (status === 400 || status === 403 || status === 406)
    return new KeelsonError(message, { code: 'INVALID_SPEC', class: 'terminal', status, cause: error });
  if (status === undefined) {
    return new KeelsonError(message, { code: 'UNAVAILABLE', class: 'transient', cause: error });
  }
  return new KeelsonError(message, { code: 'API_ERROR', class: 'transient', status, cause: error });
}
