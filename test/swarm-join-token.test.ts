import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { testDockerHost } from '../providers/swarm/test-support.ts';
import { loadDesiredState } from '../reconciler/desired/load.ts';
import { builtinModules } from '../reconciler/providers/builtin.ts';
import { ProviderRegistry } from '../reconciler/providers/registry.ts';
import { freePort, until } from './daemon-support.ts';

// The join-token handover of swarm-1's cloud-init (desired-state/hetzner/node-1.yaml), run for real:
// the Python server from the user data, the real docker CLI against the test Swarm. Loopback stands
// in for the private network (127.0.0.1 is the first node and a peer, 127.0.0.3 is a stranger).
// The test Swarm has one node, so the server never sees "every peer joined" and never rotates the
// shared engine's token.
const root = join(import.meta.dirname, '..');
let server: ChildProcess;
let port: number;

function get(path: string, localAddress: string): Promise<{ status: number; body: string }> {
  return new Promise((done, fail) => {
    const req = request({ host: '127.0.0.1', port, path, localAddress }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () => done({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', fail);
    req.end();
  });
}

beforeAll(async () => {
  const loaded = loadDesiredState(join(root, 'desired-state'), new ProviderRegistry(builtinModules), { root });
  const userData = String(loaded.resources.find((r) => r.key === 'hetzner.Server/swarm-1')?.spec.userData);
  const files = (parse(userData) as { write_files: { path: string; content: string }[] }).write_files;
  const script = files.find((f) => f.path === '/usr/local/sbin/keelson-join-token')?.content as string;
  const dir = mkdtempSync(join(tmpdir(), 'keelson-join-token-'));
  writeFileSync(join(dir, 'keelson-join-token'), script);
  port = await freePort();
  server = spawn('python3', [join(dir, 'keelson-join-token')], {
    env: {
      ...process.env,
      DOCKER_HOST: testDockerHost(),
      NODE_IP: '127.0.0.1',
      PEER_IPS: '127.0.0.1,127.0.0.2',
      TOKEN_PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await until(
    async () => (await get('/', '127.0.0.1').catch(() => undefined)) !== undefined,
    'the token server',
    30_000,
  );
}, 60_000);

afterAll(() => {
  if (server && server.exitCode === null) server.kill('SIGTERM');
});

describe("swarm-1's join-token handover (cloud-init), with the real docker CLI", () => {
  it("gives a peer the Swarm's manager join token", async () => {
    const answer = await get('/manager', '127.0.0.1');
    expect(answer.status).toBe(200);
    const token = execFileSync('docker', ['swarm', 'join-token', '-q', 'manager'], {
      env: { ...process.env, DOCKER_HOST: testDockerHost() },
      encoding: 'utf8',
    }).trim();
    expect(answer.body).toMatch(/^SWMTKN-1-/);
    expect(answer.body === token).toBe(true); // compared, never printed
  });

  it('refuses any other address and any other path', async () => {
    const stranger = await get('/manager', '127.0.0.3');
    expect(stranger.status).toBe(403);
    expect(stranger.body).not.toContain('SWMTKN');
    const other = await get('/worker', '127.0.0.1');
    expect(other.status).toBe(403);
    expect(other.body).not.toContain('SWMTKN');
  });
});
