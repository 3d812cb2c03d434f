import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CloudflareSimulator, startCloudflareSimulator } from '../providers/cloudflare/simulator/index.ts';

/**
 * Apply exactly the plan that was shown: `keelson plan DIR --out plan.json` and
 * `keelson apply plan.json`, through the real command line against the Cloudflare simulator.
 * Each case says why its result is right.
 */
const ROOT = join(import.meta.dirname, '..');
let sim: CloudflareSimulator;
beforeAll(async () => {
  sim = await startCloudflareSimulator({ zones: ['example.com'] });
});
afterAll(async () => sim?.close());

function workspace(): { dir: string; state: string; write(ttl: number, content?: string): void } {
  const root = mkdtempSync(join(tmpdir(), 'keelson-saved-plan-'));
  mkdirSync(join(root, '.git'));
  const dir = join(root, 'desired-state');
  mkdirSync(dir);
  return {
    dir,
    state: join(root, 'state', 'state.json'),
    write(ttl, content = '192.0.2.10') {
      writeFileSync(
        join(dir, 'dns.yaml'),
        `kind: cloudflare.DnsRecord\nname: www\nspec:\n  zone: example.com\n  name: www\n  type: A\n  content: ${content}\n  ttl: ${ttl}\n`,
      );
    },
  };
}

/** The CLI in a child process (asynchronously: the simulator answers from this process). */
function keelson(args: string[], state: string): Promise<{ status: number | null; out: string }> {
  const child = spawn(process.execPath, ['bin/keelson.js', ...args, '--state', state], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      CLOUDFLARE_API_BASE_URL: sim.url,
      CLOUDFLARE_API_TOKEN: sim.token,
      CLOUDFLARE_ACCOUNT_ID: sim.state.accountId,
      METADATA_SERVER_DETECTION: 'none',
    },
  });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (out += c));
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, out })));
}

const record = () => [...sim.state.records.values()].find((r) => r.name === 'www.example.com');

describe('saved plans', () => {
  it('applies a saved plan when nothing changed since, without asking', async () => {
    const w = workspace();
    w.write(300);
    const plan = join(w.dir, '..', 'plan.json');
    const planned = await keelson(['plan', w.dir, '--out', plan], w.state);
    expect(planned.status).toBe(0);
    expect(planned.out).toContain(`keelson apply ${plan}`);
    const applied = await keelson(['apply', plan], w.state);
    expect(applied.out).not.toContain('PLAN_STALE');
    expect(applied.status).toBe(0);
    expect(record()).toMatchObject({ content: '192.0.2.10', ttl: 300 });
  });

  it('refuses a saved plan when the live state of a resource in it changed since (someone edited the record by hand)', async () => {
    // Why: what changed in between would be applied unseen.
    const w = workspace();
    w.write(300);
    await keelson(['apply', w.dir, '--auto-approve'], w.state);
    w.write(600);
    const plan = join(w.dir, '..', 'plan.json');
    expect((await keelson(['plan', w.dir, '--out', plan], w.state)).status).toBe(0);
    const live = record();
    if (!live) throw new Error('the record is not there');
    live.content = '192.0.2.99';
    const applied = await keelson(['apply', plan], w.state);
    expect(applied.status).toBe(1);
    expect(applied.out).toMatch(/changed since the plan was shown; nothing is applied/);
    expect(record()).toMatchObject({ content: '192.0.2.99', ttl: 300 });
  });

  it('refuses a saved plan when the desired state changed since, saying which revision', async () => {
    const w = workspace();
    w.write(300);
    const plan = join(w.dir, '..', 'plan.json');
    expect((await keelson(['plan', w.dir, '--out', plan], w.state)).status).toBe(0);
    w.write(900);
    const applied = await keelson(['apply', plan], w.state);
    expect(applied.status).toBe(1);
    expect(applied.out).toMatch(/the desired state in .* changed \(revision .* when the plan was saved, .* now\)/);
  });

  it('a saved plan holds no secret value and no bare digest of one', async () => {
    const w = workspace();
    w.write(300);
    const plan = join(w.dir, '..', 'plan.json');
    await keelson(['plan', w.dir, '--out', plan], w.state);
    const text = readFileSync(plan, 'utf8');
    expect(text).not.toContain(sim.token);
    expect(JSON.parse(text)).toMatchObject({
      kind: 'keelson-saved-plan',
      digest: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
  });
});
