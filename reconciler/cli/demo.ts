import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { errorMessage, secretNameProblem } from '../../providers/sdk/index.ts';
import type { ThreeNodeSwarm } from '../../scripts/three-node-swarm.ts';
import { Daemon } from '../app/daemon.ts';
import { formatConfigProblems, loadConfig } from '../config/load-config.ts';
import { createLogger } from '../observability/logger.ts';

/** A service on the local Swarm, so the demo shows something running next to the cloud simulators. */
const DEMO_SERVICE = `# Added by \`keelson demo\`: a small service on the local Swarm. Change replicas, commit, and watch it.
kind: swarm.Service
name: keelson-demo-web
spec:
  image: keelson-test/busybox:1
  args: [sleep, '86400']
  init: true
  stopGracePeriod: 1s
  deploy:
    replicas: 1
`;

const GIT_ENV = {
  GIT_AUTHOR_NAME: 'keelson demo',
  GIT_AUTHOR_EMAIL: 'demo@keelson.invalid',
  GIT_COMMITTER_NAME: 'keelson demo',
  GIT_COMMITTER_EMAIL: 'demo@keelson.invalid',
};

/** Something the demo started and stops on the way out. */
interface Part {
  readonly name: string;
  readonly env: Record<string, string>;
  close(): Promise<void>;
}

const USAGE = `usage: keelson demo [--swarm local|three-node] [--keelson in-process|service]
  --swarm local        the local Docker Engine in swarm mode (default; started like the tests do)
  --swarm three-node   a three-node Swarm on this machine (scripts/three-node-swarm.sh: needs root and
                       network namespaces; falls back to the local engine when it cannot run)
  --keelson service    keelson itself as a Swarm service on the three-node Swarm, from its image
                       (scripts/build-image.sh; the default with --swarm three-node)
  --keelson in-process keelson in this process (the default with the local engine: fastest)
  KEELSON_HTTP_PORT (default 8080), SECRETS_UI_PORT (3000), SECRETS_UI_IDP_PORT (3001) change the ports;
  KEELSON_DEMO_HOME (default .keelson/demo) where the demo keeps its repository, secrets and state;
  KEELSON_DEMO_RIG (default demo) and KEELSON_DEMO_RIG_NET (default 80) name the three-node rig.
`;

/**
 * `keelson demo`: `keelson serve` on its embedded default. Makes a local Git repository from this
 * checkout's example desired state (plus charts/ and workers/), and runs the daemon with the file
 * state store under `.keelson/`, a Swarm (the local Docker Engine, or the three-node rig), the
 * provider simulators and the Secrets UI. A part that cannot start is reported and the others
 * carry on.
 */
export async function demoCommand(argv: string[]): Promise<number> {
  let swarmKind: 'local' | 'three-node' = 'local';
  let keelsonWhere: 'in-process' | 'service' | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? arg.split(/=(.*)/s) : [arg, undefined];
    const value = inline ?? argv[++i];
    if (flag === '--swarm' && (value === 'local' || value === 'three-node')) swarmKind = value;
    else if (flag === '--keelson' && (value === 'in-process' || value === 'service')) keelsonWhere = value;
    else {
      process.stderr.write(USAGE);
      return 2;
    }
  }
  if (keelsonWhere === 'service' && swarmKind !== 'three-node') {
    process.stderr.write('keelson demo: --keelson service needs --swarm three-node\n');
    return 2;
  }
  const project = findProject(process.cwd());
  const home = resolve(project, process.env.KEELSON_DEMO_HOME || join('.keelson', 'demo'));
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const { bare, work } = prepareRepository(project, home);
  say(`keelson demo: desired state in ${work} (pushes to ${bare})`);

  const parts: Part[] = [];
  const unavailable: string[] = [];
  const attempt = async (name: string, start: () => Promise<Part & { note?: string }>) => {
    try {
      const part = await start();
      parts.push(part);
      say(`  ${name}: ${part.note ?? 'started'}`);
    } catch (error) {
      unavailable.push(`${name}: ${errorMessage(error)}`);
      say(`  ${name}: not available (${errorMessage(error).split('\n')[0]}); the others carry on`);
    }
  };
  if (swarmKind === 'three-node') {
    const { threeNodeSwarmUnavailable } = await import('../../scripts/three-node-swarm.ts');
    const why = threeNodeSwarmUnavailable();
    if (why) {
      say(`  three-node Swarm: cannot run here (${why}); using one local node instead`);
      swarmKind = 'local';
    }
  }
  let rig: ThreeNodeSwarm | undefined;
  if (swarmKind === 'three-node') {
    await attempt('three-node Swarm', async () => {
      const { startThreeNodeSwarm } = await import('../../scripts/three-node-swarm.ts');
      const id = process.env.KEELSON_DEMO_RIG || 'demo';
      const net = Number(process.env.KEELSON_DEMO_RIG_NET || 80);
      rig = startThreeNodeSwarm(id, net);
      const started = rig;
      const first = rig.nodes[0] as { name: string; address: string; dockerHost: string };
      return {
        name: 'swarm',
        note: `started: ${rig.nodes.map((n) => `${n.name} ${n.address}`).join(', ')} (managers; keelson talks to ${first.name}: export DOCKER_HOST=${first.dockerHost})`,
        env: { DOCKER_HOST: first.dockerHost },
        close: async () => started.down(),
      };
    });
  } else {
    await attempt('local Docker Swarm', async () => {
      const { ensureLocalSwarm } = await import('../../scripts/local-swarm.ts');
      const swarm = await ensureLocalSwarm();
      return {
        name: 'swarm',
        // docker service ls needs it: say it whether the engine was started or found running.
        note: `${swarm.started ? 'started' : 'reused the engine already running'} (export DOCKER_HOST=${swarm.dockerHost})`,
        env: { DOCKER_HOST: swarm.dockerHost },
        close: () => (swarm.started ? swarm.stop() : Promise.resolve()),
      };
    });
  }
  await attempt('Hetzner Cloud simulator', async () => {
    const { startHetznerSimulator } = await import('../../providers/hetzner/simulator/server.ts');
    const sim = await startHetznerSimulator({ token: 'demo-token' });
    // The backup function starts servers from this snapshot; desired-state looks it up by label.
    sim.state.addSnapshot('backup server', { role: 'backup-server' });
    return {
      name: 'hetzner',
      env: { HCLOUD_TOKEN: 'demo-token', HCLOUD_ENDPOINT: sim.endpoint },
      close: () => sim.close(),
    };
  });
  await attempt('Google Cloud simulator', async () => {
    const { startGcpSimulator } = await import('../../providers/gcp/simulator/index.ts');
    // Deployed functions run in the Functions Framework; their state lives beside the demo's.
    // The project starts empty, as a new one does (no (default) Firestore database yet).
    const sim = await startGcpSimulator({
      statePath: join(home, 'gcp-simulator.json'),
      firestoreDefaultDatabase: false,
    });
    // The company's (default) Firestore database exists before keelson (desired-state/gcp adopts
    // it), in the company's location: made here, as the project's owner would have made it.
    const made = await fetch(`${sim.url}/v1/projects/${sim.projectId}/databases?databaseId=(default)`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sim.env.GCP_ACCESS_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ locationId: 'eur3', type: 'FIRESTORE_NATIVE' }),
    });
    if (!made.ok && made.status !== 409) throw new Error(`cannot make the (default) database: ${made.status}`);
    return { name: 'gcp', env: { ...sim.env }, close: () => sim.close() };
  });
  await attempt('Cloudflare simulator', async () => {
    const { startCloudflareSimulator } = await import('../../providers/cloudflare/simulator/simulator.ts');
    const sim = await startCloudflareSimulator({ zones: zonesIn(work) });
    return { name: 'cloudflare', env: sim.env(), close: () => sim.close() };
  });

  const onRig = rig !== undefined && (keelsonWhere ?? 'service') === 'service';
  const httpPort = port(process.env.KEELSON_HTTP_PORT, 8080);
  const uiPort = port(process.env.SECRETS_UI_PORT, 3000);
  const uiUrl = `http://localhost:${uiPort}/`;
  const secretsDir = writeDemoSecrets(work, join(home, 'secrets'));
  // What keelson needs, wherever it runs: the source, the secrets, the simulators' endpoints and tokens.
  const keelsonEnv: Record<string, string> = {
    KEELSON_SOURCE_URL: `file://${bare}`,
    KEELSON_SOURCE_PATH: 'desired-state',
    KEELSON_POLL_INTERVAL_SECONDS: '10',
    KEELSON_WEBHOOK_SECRET: 'demo',
    KEELSON_OWNER: 'keelson-demo',
    KEELSON_SECRET_SOURCE: 'dir',
    KEELSON_SECRETS_DIR: secretsDir,
    KEELSON_STATUS_LINKS: `Secrets UI=${uiUrl}`,
    ...Object.assign({}, ...parts.filter((p) => p.name !== 'swarm').map((p) => p.env)),
  };
  const env: Record<string, string | undefined> = {
    ...keelsonEnv,
    KEELSON_CHECKOUT_DIR: join(home, 'checkout'),
    KEELSON_STATE_PATH: process.env.KEELSON_DEMO_HOME
      ? join(home, 'state.json')
      : join(project, '.keelson', 'state.json'),
    KEELSON_HTTP_HOST: '127.0.0.1',
    ...parts.find((p) => p.name === 'swarm')?.env,
    ...process.env,
    // The rig the demo started, not whatever engine DOCKER_HOST named before.
    ...(swarmKind === 'three-node' ? parts.find((p) => p.name === 'swarm')?.env : {}),
  };
  const loaded = loadConfig({ env, cwd: project });
  if (!loaded.ok) {
    process.stderr.write(`keelson demo: the configuration has problems:\n${formatConfigProblems(loaded.problems)}\n`);
    await Promise.all(parts.map((p) => p.close()));
    return 2;
  }
  let address: string;
  let stopKeelson: () => Promise<void>;
  let unavailableProviders: Readonly<Record<string, string>> = {};
  let where: string;
  if (onRig && rig) {
    try {
      const { startKeelsonOnRig, DEMO_SERVICE_NAME } = await import('./demo-service.ts');
      const service = await startKeelsonOnRig({
        rig,
        project,
        home,
        env: {
          ...keelsonEnv,
          ...(process.env.KEELSON_LOG_LEVEL ? { KEELSON_LOG_LEVEL: process.env.KEELSON_LOG_LEVEL } : {}),
        },
        localPort: httpPort,
        image: `keelson-demo:${process.env.KEELSON_DEMO_RIG || 'demo'}`,
        say,
      });
      address = service.url;
      stopKeelson = () => service.close();
      const node1 = rig.nodes[0];
      where = `as the Swarm service "${DEMO_SERVICE_NAME}" on ${node1?.name} (also at ${service.directUrl}; logs: docker -H ${node1?.dockerHost} service logs -f ${DEMO_SERVICE_NAME})`;
      const status = (await (await fetch(`${address}/status`)).json()) as {
        unavailableProviders?: Record<string, string>;
      };
      unavailableProviders = status.unavailableProviders ?? {};
    } catch (error) {
      process.stderr.write(`keelson demo: keelson could not start on the Swarm: ${errorMessage(error)}\n`);
      for (const part of parts.reverse()) await part.close().catch(() => undefined);
      return 1;
    }
  } else {
    // Readable lines on a terminal (what was applied, drift found and healed, errors), JSON when
    // the output is a file or a pipe, or when KEELSON_LOG_FORMAT=json asks for it.
    const log = createLogger(loaded.config.logLevel, undefined, { sourcePath: 'desired-state' });
    const daemon = new Daemon(loaded.config, log, { env });
    daemon.status.update({ sourcePath: 'desired-state' });
    address = await daemon.start();
    stopKeelson = () => daemon.stop();
    unavailableProviders = daemon.status.data.unavailableProviders;
    where = 'in this process';
  }
  const base = address.replace('127.0.0.1', 'localhost');
  // The Secrets UI on the demo's secrets directory (what keelson reads), asking this keelson to reconcile.
  await attempt('Secrets UI', async () => {
    const { startLocalSecretsUi } = await import('../../secrets-ui/local-demo.ts');
    const ui = await startLocalSecretsUi({
      port: uiPort,
      idpPort: port(process.env.SECRETS_UI_IDP_PORT, 3001),
      secretsDir,
      desiredState: join(work, 'desired-state'),
      root: work,
      keelsonUrl: address,
      webhookSecret: loaded.config.webhook.secret?.reveal() ?? '',
    });
    return {
      name: 'secrets-ui',
      env: { SECRETS_UI_URL: ui.url },
      note: `started (${ui.url})`,
      close: () => ui.close(),
    };
  });
  say('');
  say(`keelson is reconciling ${work} ${where} (${loaded.config.mode} mode, a pass every ~10 s).`);
  say(`  status page  ${base}/`);
  say(`  JSON status  ${base}/status`);
  say(`  metrics      ${base}/metrics`);
  for (const [provider, why] of Object.entries(unavailableProviders)) say(`  provider ${provider} unavailable: ${why}`);
  const dockerHost = parts.find((p) => p.name === 'swarm')?.env.DOCKER_HOST;
  if (dockerHost) say(`  the Swarm    export DOCKER_HOST=${dockerHost}; docker service ls`);
  // What the vendors' own tools need to reach the simulators (hcloud, curl, wrangler, Google's
  // clients): one KEY=VALUE file to source. The tokens in it are the simulators' own, for this demo.
  const envFile = join(home, 'simulators.env');
  writeFileSync(
    envFile,
    parts
      .flatMap((p) => Object.entries(p.env))
      .map(([k, v]) => `${k}=${v}\n`)
      .join(''),
    { mode: 0o600 },
  );
  say(`  simulators   set -a; . ${envFile}; set +a   # then hcloud, curl, docker reach them`);
  const secretsUi = parts.find((p) => p.name === 'secrets-ui')?.env.SECRETS_UI_URL;
  if (secretsUi)
    say(
      `  Secrets UI   ${secretsUi}   (sign in as "demo", any password; rotate a secret, watch it reach its consumers)`,
    );
  say('');
  say('Make a change with git:');
  say(`  cd ${work}`);
  say('  sed -i "s/replicas: 1/replicas: 2/" desired-state/swarm/demo.yaml');
  say('  git commit -am "scale the demo service" && git push');
  say(`  curl -s -X POST -H "X-Gitlab-Token: demo" ${base}/hooks/git   # or wait for the next poll`);
  say(`Stop with Ctrl-C, or kill ${process.pid} (SIGTERM): either stops everything the demo started.`);

  const signal = await new Promise<NodeJS.Signals>((done) => {
    const stop = (s: NodeJS.Signals) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      // A second signal while stopping means "now": leave without the rest of the clean-up.
      const force = () => process.exit(1);
      process.once('SIGINT', force);
      process.once('SIGTERM', force);
      done(s);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  say(`keelson demo: ${signal}, stopping`);
  await stopKeelson();
  for (const part of parts.reverse()) await part.close().catch(() => undefined);
  say('keelson demo: stopped');
  return 0;
}

/** A port from the environment, or the default. */
function port(value: string | undefined, fallback: number): number {
  const n = value === undefined || value === '' ? fallback : Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65_535) throw new Error(`port ${value} is not a port number (1-65535)`);
  return n;
}

function findProject(from: string): string {
  let dir = resolve(from);
  for (;;) {
    if (existsSync(join(dir, 'desired-state')) && existsSync(join(dir, 'package.json'))) return dir;
    const parent = resolve(dir, '..');
    if (parent === dir)
      throw new Error('keelson demo: run it inside the keelson repository (desired-state/ not found)');
    dir = parent;
  }
}

/** The demo repository is made once; later runs reuse it (and what was committed to it). */
function prepareRepository(project: string, home: string): { bare: string; work: string } {
  const bare = join(home, 'infra.git');
  const work = join(home, 'work');
  if (existsSync(join(work, '.git'))) return { bare, work };
  mkdirSync(home, { recursive: true });
  const git = (cwd: string, args: string[]) =>
    execFileSync('git', args, { cwd, env: { ...process.env, ...GIT_ENV }, stdio: 'ignore' });
  git(home, ['init', '-q', '--bare', '-b', 'main', bare]);
  git(home, ['clone', '-q', bare, work]);
  git(work, ['checkout', '-q', '-b', 'main']);
  const skip = (src: string) => !/(^|\/)(node_modules|\.wrangler|\.git)(\/|$)/.test(src);
  for (const dir of ['desired-state', 'charts', 'workers', 'functions', 'services']) {
    if (existsSync(join(project, dir))) cpSync(join(project, dir), join(work, dir), { recursive: true, filter: skip });
  }
  // The company's stacks (Traefik, MongoDB, RocketChat, ...) need images from registries and a
  // 3-node cluster; on the local Swarm the demo runs one small service instead.
  rmSync(join(work, 'desired-state', 'swarm'), { recursive: true, force: true });
  mkdirSync(join(work, 'desired-state', 'swarm'), { recursive: true });
  writeFileSync(join(work, 'desired-state', 'swarm', 'demo.yaml'), DEMO_SERVICE);
  git(work, ['add', '-A']);
  git(work, ['commit', '-q', '-m', 'Example desired state (keelson demo)']);
  git(work, ['push', '-q', 'origin', 'HEAD:main']);
  return { bare, work };
}

function yamlFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? yamlFiles(path) : /\.ya?ml$/.test(name) ? [path] : [];
  });
}

/**
 * Demo values for every `secretRef`, as files in the demo's secrets directory (secrets never come
 * from Git). Files, not environment variables: the environment wins over the directory, and the
 * Secrets UI (`node secrets-ui/demo.ts`) rotates a secret by writing its file. A file that is
 * already there (rotated before) is kept. Returns the directory.
 */
function writeDemoSecrets(work: string, dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const file of yamlFiles(join(work, 'desired-state'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/secretRef:\s*([\w.-]+)/g)) {
      const name = m[1] ?? '';
      const path = join(dir, name);
      if (!secretNameProblem(name) && !existsSync(path)) writeFileSync(path, `demo-${name}\n`, { mode: 0o600 });
    }
  }
  return dir;
}

/** Zones the example DNS records use, so the Cloudflare simulator has them. */
function zonesIn(work: string): string[] {
  const zones = new Set<string>(['example.com']);
  for (const file of yamlFiles(join(work, 'desired-state'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/^\s+zone:\s*([\w.-]+)\s*$/gm)) if (m[1]) zones.add(m[1]);
  }
  return [...zones];
}
