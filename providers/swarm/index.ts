import { existsSync } from 'node:fs';
import type { ProviderModule, ProviderOptions } from '../../reconciler/providers/registry.ts';
import type { HandlerContext, Provider, ProviderKind } from '../sdk/index.ts';
import { SwarmClient } from './client.ts';
import { configSchema, SwarmConfigHandler } from './config.ts';
import { networkSchema, SwarmNetworkHandler } from './network.ts';
import { SwarmSecretHandler, secretSchema } from './secret.ts';
import { SwarmServiceHandler } from './service.ts';
import { serviceSchema } from './service-schema.ts';
import { stackExpander, stackSchema } from './stack.ts';

export { SwarmClient } from './client.ts';
export { ChartError, expandChart } from './compose-stack.ts';
export { SwarmConfigHandler } from './config.ts';
export { SwarmNetworkHandler } from './network.ts';
export { SwarmSecretHandler } from './secret.ts';
export { SwarmServiceHandler } from './service.ts';
export { configSchema, networkSchema, secretSchema, serviceSchema, stackSchema };

export interface SwarmProviderOptions {
  /** Engine address, as DOCKER_HOST (`unix:///path` or `tcp://host:port`); default the local socket. */
  readonly dockerHost?: string;
  /** Concurrent changes (default 8). */
  readonly concurrency?: number;
  /** Versions of a secret or config kept for rollback, the current one included (default 3). */
  readonly keepVersions?: number;
  /** Allowance for one task to start, which bounds waiting for a rollout (default 60 s). */
  readonly taskStartMs?: number;
}

/** The `swarm` provider with its client exposed (tests and benchmarks read its write counter). */
export interface SwarmProvider extends Provider {
  readonly client: SwarmClient;
}

export function createSwarmProvider(options: SwarmProviderOptions = {}): SwarmProvider {
  const client = new SwarmClient(options.dockerHost);
  const versioned = { keepVersions: options.keepVersions };
  const kinds: ProviderKind[] = [
    { schema: networkSchema, handler: new SwarmNetworkHandler(client) },
    { schema: secretSchema, handler: new SwarmSecretHandler(client, versioned) },
    { schema: configSchema, handler: new SwarmConfigHandler(client, versioned) },
    { schema: serviceSchema, handler: new SwarmServiceHandler(client, { taskStartMs: options.taskStartMs }) },
    { schema: stackSchema, expander: stackExpander },
  ];
  return {
    name: 'swarm',
    kinds,
    concurrency: options.concurrency ?? 8,
    client,
    async connect(_ctx: HandlerContext) {
      await client.ping();
    },
  };
}

function positive(value: string | undefined): number | undefined {
  const n = Number(value);
  return value !== undefined && Number.isFinite(n) && n > 0 ? n : undefined;
}

/**
 * `swarm`: Docker Swarm through the Engine API at DOCKER_HOST. Unavailable, with the reason, when
 * no socket is there; an engine that does not answer or is not a manager is reported by `connect`.
 */
export const swarmModule: ProviderModule = {
  name: 'swarm',
  schemas: [networkSchema, secretSchema, configSchema, serviceSchema, stackSchema],
  expanders: { [stackSchema.kind]: stackExpander },
  create(options: ProviderOptions) {
    const dockerHost = options.env.DOCKER_HOST || undefined;
    const socket =
      dockerHost === undefined
        ? '/var/run/docker.sock'
        : dockerHost.startsWith('unix://')
          ? dockerHost.slice(7)
          : undefined;
    if (socket !== undefined && !existsSync(socket)) {
      return {
        unavailable: dockerHost
          ? `no Docker Engine at DOCKER_HOST=${dockerHost} (${socket} does not exist)`
          : 'no Docker Engine: DOCKER_HOST is not set and /var/run/docker.sock does not exist',
      };
    }
    return createSwarmProvider({
      dockerHost,
      concurrency: positive(options.env.KEELSON_SWARM_CONCURRENCY),
      keepVersions: positive(options.env.KEELSON_SWARM_KEEP_VERSIONS),
      taskStartMs: positive(options.env.KEELSON_SWARM_TASK_START_MS),
    });
  },
};
