import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ThreeNodeSwarm } from '../../scripts/three-node-swarm.ts';

/** The Swarm service keelson runs as on the demo's rig. */
export const DEMO_SERVICE_NAME = 'keelson';
/** Port keelson listens on inside node 1's network namespace (host networking). */
const SERVICE_PORT = 8080;

export interface KeelsonOnRigOptions {
  readonly rig: ThreeNodeSwarm;
  /** The repository root (scripts/build-image.sh). */
  readonly project: string;
  /** The demo's folder: the bare repository, the secrets and the service's state live under it. */
  readonly home: string;
  /** keelson's environment (source, secrets, simulators' endpoints and tokens), without DOCKER_HOST. */
  readonly env: Readonly<Record<string, string>>;
  /** Port on this machine's loopback that reaches the service (what the status page URL says). */
  readonly localPort: number;
  /** The image tag built on node 1. */
  readonly image: string;
  readonly say: (line: string) => void;
}

export interface KeelsonOnRig {
  /** `http://127.0.0.1:PORT`, relayed to the task. */
  readonly url: string;
  /** The task's own address (`http://10.NET.0.11:8080`), reachable from this machine too. */
  readonly directUrl: string;
  close(): Promise<void>;
}

/**
 * keelson as a Swarm service on the three-node rig: its image built on node 1
 * (scripts/build-image.sh), one replica on node 1 with host networking (the rig has no service VIPs
 * or ingress), driving node 1's engine through its socket, reading the demo's bare repository and
 * secrets folder through bind mounts (the nodes share this machine's file system). The simulators
 * listen on this machine's loopback, which a node cannot reach, so this machine joins the rig's
 * network (10.NET.0.1) and two relays carry each simulator port: node 1's loopback to 10.NET.0.1,
 * and 10.NET.0.1 to this machine's loopback. Every simulator URL (`http://127.0.0.1:PORT`, also the
 * ones the simulators hand out, such as the GCP upload URLs) works unchanged inside the task.
 * keelson's own port is relayed back to this machine's loopback.
 */
export async function startKeelsonOnRig(options: KeelsonOnRigOptions): Promise<KeelsonOnRig> {
  const { rig, env, say } = options;
  const closers: (() => Promise<void> | void)[] = [];
  const close = async () => {
    for (const c of closers.reverse()) await Promise.resolve(c()).catch(() => undefined);
  };
  try {
    const hostAddress = rig.hostLink();
    const node1 = rig.nodes[0] as { name: string; address: string; dockerHost: string };
    provideImage(options.project, options.home, options.image, node1, say);

    const ports = simulatorPorts(env);
    const { startRelay } = await import('../../scripts/tcp-relay.ts');
    // this machine: 10.NET.0.1:PORT -> 127.0.0.1:PORT (each simulator)
    for (const p of ports) {
      const relay = await startRelay(hostAddress, p, '127.0.0.1');
      closers.push(() => relay.close());
    }
    // node 1: 127.0.0.1:PORT -> 10.NET.0.1:PORT
    if (ports.length > 0) await startNodeRelay(rig.namespace(1), hostAddress, ports, options.project, closers);
    // this machine: 127.0.0.1:localPort -> the task
    const back = await startRelay('127.0.0.1', options.localPort, node1.address, SERVICE_PORT);
    closers.push(() => back.close());

    const state = join(options.home, 'service');
    mkdirSync(state, { recursive: true });
    const serviceEnv: Record<string, string> = {
      ...env,
      KEELSON_CHECKOUT_DIR: join(state, 'checkout'),
      KEELSON_STATE_PATH: join(state, 'state.json'),
      KEELSON_HTTP_HOST: '0.0.0.0',
      KEELSON_HTTP_PORT: String(SERVICE_PORT),
      DOCKER_HOST: 'unix:///var/run/docker.sock',
    };
    const home = resolve(options.home);
    rig.docker([
      'service',
      'create',
      '--detach',
      '--no-resolve-image',
      '--name',
      DEMO_SERVICE_NAME,
      '--network',
      'host',
      '--constraint',
      `node.hostname==${node1.name}`,
      // root for node 1's engine socket (root-owned) and the demo's files
      '--user',
      '0',
      '--mount',
      `type=bind,src=${home},dst=${home}`,
      '--mount',
      `type=bind,src=${node1.dockerHost.replace('unix://', '')},dst=/var/run/docker.sock`,
      ...Object.entries(serviceEnv).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
      options.image,
    ]);
    closers.push(() => {
      rig.docker(['service', 'rm', DEMO_SERVICE_NAME]);
    });
    const url = `http://127.0.0.1:${options.localPort}`;
    await waitFor(
      async () => (await fetch(`${url}/healthz`)).ok,
      `keelson's task on ${node1.name} to answer (docker -H ${node1.dockerHost} service ps ${DEMO_SERVICE_NAME})`,
      180_000,
    );
    return { url, directUrl: `http://${node1.address}:${SERVICE_PORT}`, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * keelson's image on node 1: loaded from the demo's cache when this checkout's image inputs have
 * not changed since it was saved, else built by scripts/build-image.sh (and saved for next time).
 */
function provideImage(
  project: string,
  home: string,
  image: string,
  node: { name: string; dockerHost: string },
  say: (line: string) => void,
): void {
  const docker = (args: string[]) =>
    execFileSync('docker', ['-H', node.dockerHost, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  const cacheDir = join(home, 'image');
  const cached = join(cacheDir, `${imageFingerprint(project)}.tar`);
  if (existsSync(cached)) {
    say(`  keelson's image: ${image} loaded on ${node.name} from ${cached} (sources unchanged since it was built)`);
    docker(['load', '-i', cached]);
    docker(['tag', 'keelson-demo:cached', image]);
    return;
  }
  say(`  keelson's image: building ${image} on ${node.name} (scripts/build-image.sh, about a minute)`);
  execFileSync('bash', [join(project, 'scripts', 'build-image.sh'), image], {
    env: { ...process.env, DOCKER_HOST: node.dockerHost },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  rmSync(cacheDir, { recursive: true, force: true });
  mkdirSync(cacheDir, { recursive: true });
  docker(['tag', image, 'keelson-demo:cached']);
  docker(['save', '-o', `${cached}.part`, 'keelson-demo:cached']);
  renameSync(`${cached}.part`, cached);
}

/** What scripts/build-image.sh puts in the image, hashed (with the script itself and Node's version). */
export function imageFingerprint(project: string): string {
  const hash = createHash('sha256').update(process.version);
  const add = (path: string) => {
    const full = join(project, path);
    if (!existsSync(full)) return;
    if (statSync(full).isDirectory()) {
      for (const name of readdirSync(full).sort())
        if (name !== 'node_modules' && name !== '.wrangler') add(join(path, name));
      return;
    }
    hash.update(`${path}\0`).update(readFileSync(full)).update('\0');
  };
  for (const path of [
    'scripts/build-image.sh',
    'package.json',
    'package-lock.json',
    'bin',
    'reconciler',
    'providers',
    'charts',
    'workers',
  ])
    add(path);
  return hash.digest('hex').slice(0, 16);
}

/** Ports of the simulators keelson talks to: every `127.0.0.1:PORT` / `localhost:PORT` in its environment. */
export function simulatorPorts(env: Readonly<Record<string, string>>): number[] {
  const ports = new Set<number>();
  for (const value of Object.values(env))
    for (const m of value.matchAll(/\/\/(?:127\.0\.0\.1|localhost):(\d+)/g)) ports.add(Number(m[1]));
  return [...ports].sort((a, b) => a - b);
}

/** The relay inside a node's network namespace, until `closers` run. */
async function startNodeRelay(
  namespace: string,
  target: string,
  ports: number[],
  project: string,
  closers: (() => Promise<void> | void)[],
): Promise<void> {
  const child = spawn(
    'ip',
    [
      'netns',
      'exec',
      namespace,
      process.execPath,
      join(project, 'scripts', 'tcp-relay.ts'),
      '127.0.0.1',
      target,
      ...ports.map(String),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  closers.push(
    () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null) return done();
        child.once('exit', () => done());
        child.kill('SIGTERM');
      }),
  );
  let out = '';
  await new Promise<void>((ready, fail) => {
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('ready')) ready();
    });
    child.stderr?.on('data', (b: Buffer) => {
      out += b.toString();
    });
    child.once('exit', (code) => fail(new Error(`the relay in ${namespace} exited (${code}): ${out.trim()}`)));
  });
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
