/**
 * `scripts/dev.sh demo --swarm three-node`: the demo on the three-node Swarm rig (rig `dmo`, NET 84)
 * instead of the local engine, with keelson itself running there as a Swarm service (its image
 * built by scripts/build-image.sh on node 1, host networking, the simulators reached through
 * relays). Every simulator and the Secrets UI as in the default demo; the status page shows all
 * four providers. A `git push` that scales the demo service to three replicas lands one task on
 * each node; one SIGTERM stops everything, the rig included.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { threeNodeSwarmUnavailable } from './support/three-node-swarm.ts';

const repo = resolve(import.meta.dirname, '..');
const RIG = 'dmo';
const NET = 84;
const PORT = 19_000 + (process.pid % 1000);
const base = `http://127.0.0.1:${PORT}`;
const node1 = `unix:///tmp/ks3-${RIG}/n1/docker.sock`;

const unavailable = threeNodeSwarmUnavailable();
if (unavailable) console.log(`keelson demo --swarm three-node NOT run: ${unavailable}`);

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 240_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('keelson demo arguments', () => {
  const demo = (...args: string[]) =>
    spawnSync(process.execPath, [join(repo, 'bin/keelson.js'), 'demo', ...args], { cwd: repo, encoding: 'utf8' });

  it('refuses an unknown --swarm or --keelson with the usage', () => {
    for (const args of [['--swarm', 'five-node'], ['--keelson=elsewhere'], ['--swarm']]) {
      const result = demo(...args);
      expect(result.status, args.join(' ')).toBe(2);
      expect(result.stderr).toContain('usage: keelson demo [--swarm local|three-node] [--keelson in-process|service]');
    }
  });

  it('runs keelson as a service only on the three-node Swarm', () => {
    const result = demo('--keelson', 'service');
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('--keelson service needs --swarm three-node');
  });
});

describe.skipIf(unavailable !== undefined)('scripts/dev.sh demo --swarm three-node', { timeout: 600_000 }, () => {
  let child: ChildProcess | undefined;
  let out = '';
  const home = mkdtempSync(join(tmpdir(), 'keelson-dmo-'));

  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    // Whatever happened, the rig goes.
    execFileSync('bash', [join(repo, 'scripts/three-node-swarm.sh'), 'down', RIG], { stdio: 'ignore' });
    rmSync(home, { recursive: true, force: true });
  }, 120_000);

  it('runs keelson on the three-node Swarm against every simulator, and stops the rig', async () => {
    child = spawn('scripts/dev.sh', ['demo', '--swarm', 'three-node'], {
      cwd: repo,
      env: {
        ...process.env,
        KEELSON_DEMO_HOME: home,
        KEELSON_DEMO_RIG: RIG,
        KEELSON_DEMO_RIG_NET: String(NET),
        KEELSON_HTTP_PORT: String(PORT),
        SECRETS_UI_PORT: String(PORT + 1000),
        SECRETS_UI_IDP_PORT: String(PORT + 2000),
        KEELSON_LOG_FORMAT: 'json',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
    });
    child.stderr?.on('data', (b: Buffer) => {
      out += b.toString();
    });
    const exited = new Promise<number | null>((done) => child?.on('exit', (code) => done(code)));
    // The image is built on node 1 first (about a minute here, more on a loaded machine).
    await until('the demo to be ready', async () => (out.includes('Stop with Ctrl-C') ? true : undefined), 500_000);
    expect(out).toContain(
      `three-node Swarm: started: node1 10.${NET}.0.11, node2 10.${NET}.0.12, node3 10.${NET}.0.13`,
    );
    expect(out).toContain(`export DOCKER_HOST=${node1}`);
    expect(out).toContain('Secrets UI: started');
    expect(out).toContain('as the Swarm service "keelson" on node1');

    const status = await until('the first revision to be applied', async () => {
      const s = (await (await fetch(`${base}/status`)).json()) as {
        revision: string;
        revisionState: string;
        resources: { key: string }[];
      };
      return s.revisionState === 'applied' ? s : undefined;
    });
    // All four providers on the status page.
    expect(new Set(status.resources.map((r) => r.key.split('.')[0]))).toEqual(
      new Set(['hetzner', 'cloudflare', 'gcp', 'swarm']),
    );
    const docker = (args: string[]) => execFileSync('docker', ['-H', node1, ...args], { encoding: 'utf8' });
    // keelson is the Swarm's own service, from the image built here, on node 1.
    expect(
      docker([
        'service',
        'ps',
        'keelson',
        '--filter',
        'desired-state=running',
        '--format',
        '{{.Node}} {{.Image}}',
      ]).trim(),
    ).toBe(`node1 keelson-demo:${RIG}`);
    expect(await (await fetch(`${base}/`)).text()).toContain(
      `<a href="http://localhost:${PORT + 1000}/">Secrets UI</a>`,
    );
    expect(docker(['node', 'ls', '--format', '{{.Hostname}} {{.Status}}']).trim().split('\n').sort()).toEqual([
      'node1 Ready',
      'node2 Ready',
      'node3 Ready',
    ]);

    // A change through Git: three replicas, one per node.
    const work = join(home, 'work');
    const git = (args: string[]) =>
      execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], {
        cwd: work,
        stdio: 'ignore',
      });
    const file = join(work, 'desired-state', 'swarm', 'demo.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('replicas: 1', 'replicas: 3'));
    git(['commit', '-qam', 'three replicas']);
    git(['push', '-q', 'origin', 'HEAD:main']);
    const pushed = await fetch(`${base}/hooks/git`, { method: 'POST', headers: { 'X-Gitlab-Token': 'demo' } });
    expect(pushed.status).toBe(202);
    const nodes = await until('one demo task running on each node', async () => {
      const running = docker([
        'service',
        'ps',
        'keelson-demo-web',
        '--filter',
        'desired-state=running',
        '--format',
        '{{.Node}} {{.CurrentState}}',
      ])
        .trim()
        .split('\n')
        .filter((l) => l.includes(' Running'))
        .map((l) => l.split(' ')[0])
        .sort();
      return running.length === 3 ? running : undefined;
    });
    expect(nodes).toEqual(['node1', 'node2', 'node3']);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(out).toContain('keelson demo: stopped');
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(`ks3-${RIG}-`);
    // ... and this machine's link into the rig's network.
    expect(spawnSync('ip', ['link', 'show', `k${RIG}h`]).status).not.toBe(0);
  });
});
