/**
 * Shared by the Swarm tests (they run against the real engine that `npm test` brings up): a
 * client on DOCKER_HOST, unique name prefixes, and a sweep that removes what a test file made.
 */
import { existsSync } from 'node:fs';
import { SwarmClient } from './client/client.ts';

/** Images `scripts/local-swarm.ts` makes with `docker import` (busybox, no registry digest). */
export const TEST_IMAGE = 'keelson-test/busybox:1';
export const TEST_IMAGE_V2 = 'keelson-test/busybox:2';

/** The engine the tests use; throws a clear error when none was brought up. */
export function testDockerHost(): string {
  const host = process.env.DOCKER_HOST;
  const socket = host?.startsWith('unix://') ? host.slice(7) : host ? undefined : '/var/run/docker.sock';
  if (!host && !existsSync('/var/run/docker.sock')) {
    throw new Error(
      'no Docker Engine for the Swarm tests: run them through `npm test`, which starts one (or set DOCKER_HOST)',
    );
  }
  if (socket && !existsSync(socket))
    throw new Error(`DOCKER_HOST=${host} does not exist: run the tests through \`npm test\``);
  return host ?? 'unix:///var/run/docker.sock';
}

export function testClient(): SwarmClient {
  return new SwarmClient(testDockerHost());
}

/** A quick-stopping, quick-rolling service spec for tests (init so `sleep` stops on SIGTERM). */
export function sleeperSpec(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    image: TEST_IMAGE,
    args: ['sleep', '3600'],
    init: true,
    stopGracePeriod: '1s',
    ...extra,
    deploy: {
      replicas: 1,
      restartPolicy: { delay: '1s' },
      updateConfig: { monitor: '2s' },
      rollbackConfig: { monitor: '2s' },
      ...((extra.deploy as Record<string, unknown> | undefined) ?? {}),
    },
  };
}

/** Removes every service, then secret, config and network whose name starts with `prefix`. */
export async function sweep(client: SwarmClient, prefix: string): Promise<void> {
  const mine = (name: string) => name.startsWith(prefix);
  for (const s of await client.listServices({ name: [prefix] }))
    if (mine(s.Spec.Name)) await client.removeService(s.ID);
  for (const type of ['secrets', 'configs'] as const) {
    const api = client.objects(type);
    for (const o of await api.list({ name: [prefix] }))
      if (mine(o.Spec.Name)) await api.remove(o.ID).catch(() => undefined);
  }
  const deadline = Date.now() + 30_000;
  for (const n of await client.listNetworks({ name: [prefix] })) {
    if (!mine(n.Name)) continue;
    for (;;) {
      try {
        await client.removeNetwork(n.Id);
        break;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }
}
