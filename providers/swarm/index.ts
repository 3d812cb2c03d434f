import { statSync } from 'node:fs';
import {
  buildKinds,
  expandersOf,
  type HandlerContext,
  type KindEntry,
  type Provider,
  type ProviderModule,
  type ProviderOptions,
  schemasOf,
} from '../sdk/index.ts';
import { type SshAccess, SwarmClient } from './client/client.ts';
import { ConfigHandler, configSchema } from './kinds/config.ts';
import { NetworkHandler, networkSchema } from './kinds/network.ts';
import { NodeHandler, nodeSchema } from './kinds/node.ts';
import { SecretHandler, secretSchema } from './kinds/secret.ts';
import { ServiceHandler } from './kinds/service.ts';
import { serviceSchema } from './kinds/service-schema.ts';
import { stackExpander, stackSchema } from './kinds/stack.ts';

export { type SshAccess, SwarmClient } from './client/client.ts';
export { ChartError, expandChart } from './compose/compose-stack.ts';
export { ConfigHandler } from './kinds/config.ts';
export { NetworkHandler } from './kinds/network.ts';
export { NodeHandler } from './kinds/node.ts';
export { SecretHandler } from './kinds/secret.ts';
export { ServiceHandler } from './kinds/service.ts';
export { configSchema, networkSchema, nodeSchema, secretSchema, serviceSchema, stackSchema };

export interface SwarmProviderOptions {
  /** Engine address, as DOCKER_HOST (`unix:///path`, `tcp://host:port` or `ssh://user@host`); default the local socket. */
  readonly dockerHost?: string;
  /** Login for an `ssh://` engine (default: the SSH agent at `$SSH_AUTH_SOCK`). */
  readonly ssh?: SshAccess;
  /** Concurrent changes (default 32: a wave's services are created, and settle, together). */
  readonly concurrency?: number;
  /** Versions of a secret or config kept for rollback, the current one included (default 3). */
  readonly keepVersions?: number;
  /** Allowance for one task to start, which bounds waiting for a rollout (default 60 s). */
  readonly taskStartMs?: number;
  /** How long new tasks must keep running before a service counts as converged (default 1 s; 0 allowed). */
  readonly stableMs?: number;
  /** The service this keelson runs in (`KEELSON_SELF_SERVICE`): its updates are not waited for. */
  readonly selfService?: string;
}

/** What the Swarm handlers share: one Engine API client and the provider's options. */
interface SwarmShared {
  readonly client: SwarmClient;
  readonly options: SwarmProviderOptions;
}

/** Every Swarm kind; `swarm.Stack` is a composite expanded at load time. */
const swarmKinds: readonly KindEntry<SwarmShared>[] = [
  { schema: networkSchema, handler: (s) => new NetworkHandler(s.client) },
  { schema: secretSchema, handler: (s) => new SecretHandler(s.client, { keepVersions: s.options.keepVersions }) },
  { schema: configSchema, handler: (s) => new ConfigHandler(s.client, { keepVersions: s.options.keepVersions }) },
  {
    schema: serviceSchema,
    handler: (s) =>
      new ServiceHandler(s.client, {
        taskStartMs: s.options.taskStartMs,
        stableMs: s.options.stableMs,
        selfService: s.options.selfService,
      }),
  },
  { schema: nodeSchema, handler: (s) => new NodeHandler(s.client) },
  { schema: stackSchema, expander: stackExpander },
];

/** The `swarm` provider with its client exposed (tests and benchmarks read its write counter). */
export interface SwarmProvider extends Provider {
  readonly client: SwarmClient;
}

export function createSwarmProvider(options: SwarmProviderOptions = {}): SwarmProvider {
  const client = new SwarmClient(options.dockerHost, options.ssh);
  return {
    name: 'swarm',
    kinds: buildKinds(swarmKinds, { client, options }),
    concurrency: options.concurrency ?? 32,
    client,
    async connect(_ctx: HandlerContext) {
      await client.ping();
    },
    // Each replica talks to the engine of the node it runs on: when that engine is gone (its
    // dockerd killed, the container left running under containerd), another replica's is not.
    localHealth: (timeoutMs) => client.localHealth(timeoutMs),
  };
}

function positive(value: string | undefined): number | undefined {
  const n = Number(value);
  return value !== undefined && Number.isFinite(n) && n > 0 ? n : undefined;
}

function nonNegative(value: string | undefined): number | undefined {
  const n = Number(value);
  return value !== undefined && value.trim() !== '' && Number.isFinite(n) && n >= 0 ? n : undefined;
}

/**
 * `swarm`: Docker Swarm through the Engine API at DOCKER_HOST. Unavailable, with the reason, when
 * no socket is there; an engine that does not answer or is not a manager is reported by `connect`.
 */
export const swarmModule: ProviderModule = {
  name: 'swarm',
  schemas: schemasOf(swarmKinds),
  expanders: expandersOf(swarmKinds),
  create(options: ProviderOptions) {
    const dockerHost = options.env.DOCKER_HOST || undefined;
    const socket =
      dockerHost === undefined
        ? '/var/run/docker.sock'
        : dockerHost.startsWith('unix://')
          ? dockerHost.slice(7)
          : undefined;
    const problem = socket === undefined ? undefined : socketProblem(socket);
    if (problem !== undefined) {
      return {
        unavailable: dockerHost
          ? `no Docker Engine at DOCKER_HOST=${dockerHost} (${socket} ${problem})`
          : `no Docker Engine: DOCKER_HOST is not set and /var/run/docker.sock ${problem}`,
      };
    }
    return createSwarmProvider({
      dockerHost,
      concurrency: positive(options.env.KEELSON_SWARM_CONCURRENCY),
      keepVersions: positive(options.env.KEELSON_SWARM_KEEP_VERSIONS),
      taskStartMs: positive(options.env.KEELSON_SWARM_TASK_START_MS),
      stableMs: nonNegative(options.env.KEELSON_SWARM_STABLE_MS),
      selfService: options.env.KEELSON_SELF_SERVICE || undefined,
    });
  },
};

/** Why a path cannot be a Docker Engine's socket (missing, or a plain file left behind), or undefined. */
function socketProblem(path: string): string | undefined {
  try {
    return statSync(path).isSocket() ? undefined : 'is not a socket';
  } catch {
    return 'does not exist';
  }
}
