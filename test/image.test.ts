/**
 * keelson's image, built here by scripts/build-image.sh (no pull) on the test Swarm's engine:
 * what is in it, `keelson validate` of the company tree, `keelson serve` by a plain `docker run`
 * with a fresh volume, and `keelson serve` as a Swarm service (host network) following a Git
 * repository over file://, answering /healthz and /readyz.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECKOUT_TAG, testDockerHost } from '../providers/swarm/test-support.ts';

const root = resolve(import.meta.dirname, '..');
const prefix = `k${CHECKOUT_TAG}img`;
const image = `${prefix}/keelson:test`;
let host = '';
let repo = '';

function docker(args: string[]): string {
  return execFileSync('docker', args, {
    env: { ...process.env, DOCKER_HOST: host },
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  }).toString();
}

function git(cwd: string, args: string[]): void {
  execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], { cwd, stdio: 'ignore' });
}

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? ok(address.port) : fail(new Error('no port'))));
    });
  });
}

/** Polls until `check` returns a value (states, not durations; the bound only ends a hung test). */
async function waitFor<T>(what: string, check: () => Promise<T | undefined>, boundMs = 90_000): Promise<T> {
  const end = Date.now() + boundMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

async function ready(port: number): Promise<{ healthz: number; readyz: { ready: boolean } } | undefined> {
  const healthz = await fetch(`http://127.0.0.1:${port}/healthz`);
  const readyz = await fetch(`http://127.0.0.1:${port}/readyz`);
  const body = (await readyz.json()) as { ready: boolean };
  return readyz.status === 200 && body.ready ? { healthz: healthz.status, readyz: body } : undefined;
}

function cleanup(): void {
  for (const id of docker(['service', 'ls', '-q', '--filter', `name=${prefix}`])
    .split('\n')
    .filter(Boolean))
    docker(['service', 'rm', id]);
  for (const id of docker(['ps', '-aq', '--filter', `name=${prefix}`])
    .split('\n')
    .filter(Boolean))
    docker(['rm', '-f', id]);
}

function removeVolume(name: string): void {
  try {
    docker(['volume', 'rm', '-f', name]);
  } catch {
    // a service task may still hold it for a moment; the next run's names differ anyway
  }
}

beforeAll(() => {
  host = testDockerHost();
  cleanup();
  execFileSync('bash', [join(root, 'scripts/build-image.sh'), image], {
    env: { ...process.env, DOCKER_HOST: host },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // The desired-state repository the daemon follows over file://; owned by the image's user, as
  // git refuses a repository owned by someone else.
  repo = mkdtempSync(join(tmpdir(), `${prefix}-repo-`));
  mkdirSync(join(repo, 'desired-state'));
  writeFileSync(join(repo, 'desired-state', 'empty.yaml'), '# nothing yet\n');
  git(repo, ['init', '-q', '-b', 'main']);
  git(repo, ['add', '-A']);
  git(repo, ['commit', '-qm', 'init']);
  execFileSync('chown', ['-R', '1000:1000', repo]);
  execFileSync('chmod', ['-R', 'a+rX', repo]);
}, 300_000);

afterAll(() => {
  if (!host) return;
  cleanup();
  removeVolume(`${prefix}-svc-state`);
  if (repo) rmSync(repo, { recursive: true, force: true });
});

describe('the image built without pulling', { timeout: 180_000 }, () => {
  it('runs as uid 1000, owns its state folder, and carries no simulator or test dependency', () => {
    const script = `
      const fs = require('node:fs');
      const exists = (p) => fs.existsSync(p);
      const sims = fs.readdirSync('/opt/keelson/providers').filter((p) => exists('/opt/keelson/providers/' + p + '/simulator'));
      console.log(JSON.stringify({
        uid: process.getuid(), stateOwner: fs.statSync('/var/lib/keelson').uid,
        statePath: process.env.KEELSON_STATE_PATH, sims,
        vitest: exists('/opt/keelson/node_modules/vitest'), miniflare: exists('/opt/keelson/node_modules/miniflare'),
        workerd: exists('/opt/keelson/node_modules/workerd'), tests: exists('/opt/keelson/reconciler/engine/pass.test.ts'),
        git: exists('/usr/bin/git'), certs: exists('/etc/ssl/certs/ca-certificates.crt'),
      }));`;
    const out = JSON.parse(docker(['run', '--rm', '--entrypoint', '/usr/local/bin/node', image, '-e', script]));
    expect(out).toEqual({
      uid: 1000,
      stateOwner: 1000,
      statePath: '/var/lib/keelson/state.json',
      sims: [],
      vitest: false,
      miniflare: false,
      workerd: false,
      tests: false,
      git: true,
      certs: true,
    });
    expect(docker(['run', '--rm', '--entrypoint', '/usr/bin/git', image, '--version'])).toMatch(/^git version/);
  });

  it('validates the company tree', () => {
    const out = docker(['run', '--rm', '-v', `${root}:/src:ro`, image, 'validate', '/src/desired-state']);
    expect(out).toMatch(/resources in \d+ files are valid/);
  });

  it('serves from a plain docker run with a fresh volume, and writes its state there', async () => {
    const port = await freePort();
    const volume = `${prefix}-run-state`;
    removeVolume(volume);
    docker([
      'run',
      '-d',
      '--name',
      `${prefix}-run`,
      '--network',
      'host',
      '-v',
      `${volume}:/var/lib/keelson`,
      '-v',
      `${repo}:/repo:ro`,
      '-e',
      'KEELSON_SOURCE_URL=file:///repo',
      '-e',
      'KEELSON_SOURCE_PATH=desired-state',
      '-e',
      `KEELSON_HTTP_PORT=${port}`,
      image,
    ]);
    const answer = await waitFor('the container to be ready', () => ready(port));
    expect(answer.healthz).toBe(200);
    const state = await waitFor('the state file', async () => {
      try {
        return docker([
          'exec',
          `${prefix}-run`,
          '/usr/local/bin/node',
          '-e',
          'process.stdout.write(require("node:fs").readFileSync("/var/lib/keelson/state.json","utf8"))',
        ]);
      } catch {
        return undefined;
      }
    });
    expect(JSON.parse(state)).toHaveProperty('inventory');
    docker(['rm', '-f', `${prefix}-run`]);
    removeVolume(volume);
  });

  it('runs keelson serve as a Swarm service on the host network', async () => {
    const port = await freePort();
    const name = `${prefix}-svc`;
    docker([
      'service',
      'create',
      '--detach',
      '--name',
      name,
      '--network',
      'host',
      '--mount',
      `type=volume,src=${name}-state,dst=/var/lib/keelson`,
      '--mount',
      `type=bind,src=${repo},dst=/repo,readonly`,
      '--env',
      'KEELSON_SOURCE_URL=file:///repo',
      '--env',
      'KEELSON_SOURCE_PATH=desired-state',
      '--env',
      `KEELSON_HTTP_PORT=${port}`,
      image,
    ]);
    const answer = await waitFor('the service to be ready', () => ready(port));
    expect(answer).toEqual({ healthz: 200, readyz: { ready: true, reasons: [], role: 'leader' } });
    const status = (await (await fetch(`http://127.0.0.1:${port}/status`)).json()) as Record<string, unknown>;
    expect(JSON.stringify(status)).toMatch(/[0-9a-f]{40}/);
    docker(['service', 'rm', name]);
  });
});
