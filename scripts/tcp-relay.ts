/**
 * TCP relays for `keelson demo --swarm three-node --keelson service`: keelson runs in a task on a
 * rig node (host networking in the node's network namespace), the simulators on this machine's
 * loopback. A relay listens on `listenHost:port` and passes each connection to `targetHost:port`.
 *
 * As a program (started in a node's namespace with `ip netns exec`):
 *   node scripts/tcp-relay.ts LISTEN_HOST TARGET_HOST PORT...
 * prints `ready` once every port listens, and stops on SIGTERM.
 */
import { connect, createServer, type Server } from 'node:net';

export interface Relay {
  readonly port: number;
  close(): Promise<void>;
}

/** Relays `listenHost:port` to `targetHost:targetPort` (default the same port). */
export async function startRelay(
  listenHost: string,
  port: number,
  targetHost: string,
  targetPort = port,
): Promise<Relay> {
  const sockets = new Set<import('node:net').Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, targetHost);
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, listenHost, () => resolve());
  });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

if (import.meta.main) {
  const [listenHost, targetHost, ...ports] = process.argv.slice(2);
  if (!listenHost || !targetHost || ports.length === 0 || ports.some((p) => !/^\d+$/.test(p))) {
    process.stderr.write('usage: node scripts/tcp-relay.ts LISTEN_HOST TARGET_HOST PORT...\n');
    process.exit(2);
  }
  const relays = await Promise.all(ports.map((p) => startRelay(listenHost, Number(p), targetHost)));
  process.stdout.write('ready\n');
  process.once('SIGTERM', async () => {
    await Promise.all(relays.map((r) => r.close()));
    process.exit(0);
  });
}
