/**
 * `scripts/dev.sh demo` behaves like a service: it says which DOCKER_HOST to use (and that it
 * reused the running engine), its status shows the revision applying and then applied with the
 * resources it manages, and one SIGTERM to the process it started (what a supervisor or
 * `timeout` sends) stops everything: the process exits 0 and the port is free again.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { testClient } from '../providers/swarm/test-support.ts';

const repo = resolve(import.meta.dirname, '..');
const PORT = 18_000 + (process.pid % 1000);
const base = `http://127.0.0.1:${PORT}`;

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 150_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('scripts/dev.sh demo', { timeout: 240_000 }, () => {
  let child: ChildProcess | undefined;
  let out = '';

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    const client = testClient();
    for (const s of await client.listServices({ name: ['keelson-demo-web'] }))
      if (s.Spec.Name === 'keelson-demo-web') await client.removeService(s.ID);
  });

  it('starts, applies, and stops everything on one SIGTERM', async () => {
    child = spawn('scripts/dev.sh', ['demo'], {
      cwd: repo,
      env: { ...process.env, KEELSON_HTTP_PORT: String(PORT), KEELSON_LOG_FORMAT: 'json' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
    });
    child.stderr?.on('data', (b: Buffer) => {
      out += b.toString();
    });
    const exited = new Promise<number | null>((done) => child?.on('exit', (code) => done(code)));
    await until('the demo to be ready', async () => (out.includes('Stop with Ctrl-C') ? true : undefined));
    // the engine the tests run on is already there: reused, and the variable to use is named
    expect(out).toMatch(/local Docker Swarm: reused the engine already running \(export DOCKER_HOST=unix:\/\/\S+\)/);
    expect(out).toContain(`kill ${child.pid}`);

    const status = await until('the first revision to be applied', async () => {
      const s = (await (await fetch(`${base}/status`)).json()) as {
        revisionState: string;
        resources: { key: string; state: string }[];
      };
      return s.revisionState === 'applied' ? s : undefined;
    });
    expect(status.resources.map((r) => r.key)).toContain('swarm.Service/keelson-demo-web');

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(out).toContain('keelson demo: stopped');
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });
});
