/**
 * `scripts/dev.sh demo` behaves like a service: it says which DOCKER_HOST to use (and that it
 * reused the running engine), its status shows the revision applying and then applied with the
 * resources it manages, and one SIGTERM to the process it started (what a supervisor or
 * `timeout` sends) stops everything: the process exits 0 and the port is free again.
 *
 * In between, the README's walkthrough runs as written: each shell block marked
 * `<!-- walkthrough:NAME -->` (one change per provider, and drift made by hand) runs in bash in
 * the demo's repository, after the README's setup block, and what the block claims is checked
 * through the vendors' APIs (Docker, Hetzner's `hcloud`, Cloudflare's and Google's REST APIs).
 * The Secrets UI the demo starts is linked from the status page and signs the demo user in (real
 * Chromium) onto the demo's secrets; a rotation there reaches the Worker that binds the secret,
 * and its value never reaches the demo's output.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { testClient } from '../providers/swarm/test-support.ts';

const repo = resolve(import.meta.dirname, '..');
const PORT = 18_000 + (process.pid % 1000);
const base = `http://127.0.0.1:${PORT}`;
const UI_PORT = PORT + 1000;
const IDP_PORT = PORT + 2000;
const CHROMIUM = '/usr/bin/chromium';
const ROTATED = `rotated-in-the-demo-${process.pid}-Xq81`;
const home = mkdtempSync(join(tmpdir(), 'keelson-demo-test-'));
const work = join(home, 'work');

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 150_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The README's walkthrough: its setup block and the blocks marked for the test, by name. */
function walkthrough(): { setup: string; blocks: Map<string, string> } {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  const start = readme.indexOf('## Walkthrough');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 3));
  const setup = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  const blocks = new Map<string, string>();
  for (const m of section.matchAll(/<!-- walkthrough:(\w+) -->\n```sh\n([\s\S]*?)```/g))
    blocks.set(m[1] ?? '', m[2] ?? '');
  return { setup, blocks };
}

interface Status {
  revision?: string;
  revisionState: string;
  resources: { key: string; state: string }[];
}

const status = async () => (await (await fetch(`${base}/status`)).json()) as Status;
const head = () => execFileSync('git', ['rev-parse', 'HEAD'], { cwd: work, encoding: 'utf8' }).trim();

describe('scripts/dev.sh demo', { timeout: 400_000 }, () => {
  let child: ChildProcess | undefined;
  let out = '';
  let exited: Promise<number | null> | undefined;
  const { setup, blocks } = walkthrough();
  let simEnv: Record<string, string> = {};

  /** Runs a walkthrough block as the README has it (after its setup block, in the demo's repository). */
  const run = (name: string): string => {
    const block = blocks.get(name);
    if (!block) throw new Error(`README.md has no walkthrough block "${name}"`);
    const prelude = setup
      .replace('cd .keelson/demo/work', `cd ${JSON.stringify(work)}`)
      .replace('K=http://localhost:8080', `K=${base}`);
    expect(prelude).not.toBe(setup);
    return execFileSync('bash', ['-euo', 'pipefail', '-c', `${prelude}\n${block}`], {
      cwd: repo,
      encoding: 'utf8',
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 't',
        GIT_AUTHOR_EMAIL: 't@example.com',
        GIT_COMMITTER_NAME: 't',
        GIT_COMMITTER_EMAIL: 't@example.com',
      },
    });
  };
  /** Waits until the demo has applied the repository's HEAD. */
  const applied = (what: string) => {
    const want = head();
    return until(what, async () => {
      const s = await status();
      return s.revision === want && s.revisionState === 'applied' ? s : undefined;
    });
  };
  const replicas = async () => {
    const [svc] = (await testClient().listServices({ name: ['keelson-demo-web'] })).filter(
      (s) => s.Spec.Name === 'keelson-demo-web',
    );
    const mode = svc?.Spec.Mode as { Replicated?: { Replicas?: number } } | undefined;
    return { replicas: mode?.Replicated?.Replicas, version: svc?.Version.Index ?? 0 };
  };

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    const client = testClient();
    for (const s of await client.listServices({ name: ['keelson-demo-web'] }))
      if (s.Spec.Name === 'keelson-demo-web') await client.removeService(s.ID);
    rmSync(home, { recursive: true, force: true });
  });

  it('starts and applies the embedded default', async () => {
    child = spawn('scripts/dev.sh', ['demo'], {
      cwd: repo,
      env: {
        ...process.env,
        KEELSON_HTTP_PORT: String(PORT),
        SECRETS_UI_PORT: String(UI_PORT),
        SECRETS_UI_IDP_PORT: String(IDP_PORT),
        KEELSON_DEMO_HOME: home,
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
    exited = new Promise<number | null>((done) => child?.on('exit', (code) => done(code)));
    await until('the demo to be ready', async () => (out.includes('Stop with Ctrl-C') ? true : undefined));
    // the engine the tests run on is already there: reused, and the variable to use is named
    expect(out).toMatch(/local Docker Swarm: reused the engine already running \(export DOCKER_HOST=unix:\/\/\S+\)/);
    expect(out).toContain(`kill ${child.pid}`);
    expect(out).toContain(`. ${join(home, 'simulators.env')}`);
    simEnv = Object.fromEntries(
      readFileSync(join(home, 'simulators.env'), 'utf8')
        .trim()
        .split('\n')
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    expect(Object.keys(simEnv)).toEqual(
      expect.arrayContaining(['DOCKER_HOST', 'HCLOUD_ENDPOINT', 'CLOUDFLARE_API_BASE_URL', 'GCP_API_ENDPOINT']),
    );

    const first = await until('the first revision to be applied', async () => {
      const s = await status();
      return s.revisionState === 'applied' ? s : undefined;
    });
    expect(first.resources.map((r) => r.key)).toContain('swarm.Service/keelson-demo-web');
  });

  it('starts the Secrets UI, linked from the status page; a rotation reaches its Worker', async () => {
    // The Secrets UI: printed, linked from the status page, and the demo user gets in.
    const uiUrl = `http://localhost:${UI_PORT}/`;
    expect(out).toContain(`Secrets UI   ${uiUrl}`);
    expect(await (await fetch(`${base}/`)).text()).toContain(`<a href="${uiUrl}">Secrets UI</a>`);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
    try {
      const page = await (await browser.newContext()).newPage();
      await page.goto(uiUrl);
      await page.locator('input[name="login"]').fill('demo');
      await page.locator('input[name="password"]').fill('any');
      await page.locator('button[type="submit"]').click();
      await page.waitForLoadState();
      const consent = page.locator('button[type="submit"]', { hasText: /continue/i });
      if (await consent.count()) await consent.click();
      await page.waitForURL((u) => u.href.startsWith(uiUrl) && new URL(u.href).pathname === '/');
      // The inventory is the demo's desired state: the Workers' secrets are listed with their consumers.
      const body = await until('the inventory page', async () => {
        const text = (await page.locator('main').textContent()) ?? '';
        return text.includes('groq-api-key') ? text : undefined;
      });
      expect(body).toContain('Worker llm-query, binding GROQ_API_KEY');

      // A rotation: the value goes to the demo's secrets folder, keelson reconciles at once and
      // reports the version it used (the directory source reads the store's version files), so
      // the Worker that binds the secret turns current.
      await page.goto(`${uiUrl}secrets/aircall-webhook-token`);
      await page.getByLabel('Type a value').check();
      await page.getByLabel('Value (when typing)').fill(ROTATED);
      await page.getByRole('button', { name: 'Write new version and reconcile' }).click();
      await page.waitForURL(/rotated=\d+/);
      await until(
        'the Worker to have the new version',
        async () => {
          const states = await page
            .locator('[data-consumer]')
            .evaluateAll((els) => els.map((e) => e.getAttribute('data-state')));
          return states.length > 0 && states.every((s) => s === 'current') ? true : undefined;
        },
        120_000,
      );
    } finally {
      await browser.close();
    }
  });

  it('walkthrough, Docker Swarm: two replicas after a push', async () => {
    expect((await replicas()).replicas).toBe(1);
    run('swarm');
    await applied('the Swarm change to be applied');
    expect((await replicas()).replicas).toBe(2);
  });

  it('walkthrough, drift: a scale by hand is put back', async () => {
    const before = await replicas();
    run('drift');
    // Scaled to 1 by hand (one update), then put back to 2 by keelson (another).
    const after = await until('the drift to be healed', async () => {
      const r = await replicas();
      return r.replicas === 2 && r.version >= before.version + 2 ? r : undefined;
    });
    expect(after.replicas).toBe(2);
  });

  it('walkthrough, Hetzner Cloud: a server label read back with hcloud', async () => {
    const said = run('hetzner');
    await applied('the Hetzner change to be applied');
    const labels = JSON.parse(
      execFileSync('hcloud', ['server', 'describe', 'swarm-1', '-o', 'json'], {
        encoding: 'utf8',
        env: { ...process.env, HCLOUD_ENDPOINT: simEnv.HCLOUD_ENDPOINT, HCLOUD_TOKEN: simEnv.HCLOUD_TOKEN },
      }),
    ).labels as Record<string, string>;
    expect(labels).toMatchObject({ role: 'swarm', team: 'ops' });
    expect(said).toContain('"role":"swarm"');
  });

  it('walkthrough, Cloudflare: a TXT record read back through the API', async () => {
    run('cloudflare');
    await applied('the Cloudflare change to be applied');
    const cf = async (path: string) =>
      (await (
        await fetch(`${simEnv.CLOUDFLARE_API_BASE_URL}${path}`, {
          headers: { authorization: `Bearer ${simEnv.CLOUDFLARE_API_TOKEN}` },
        })
      ).json()) as { result: { id: string; name: string; content: string }[] };
    const [zone] = (await cf('/zones?name=example.com')).result;
    const records = (await cf(`/zones/${zone?.id}/dns_records?type=TXT&name=hello.example.com`)).result;
    expect(records.map((r) => [r.name, r.content])).toEqual([['hello.example.com', '"hello from git"']]);
  });

  it('walkthrough, Google Cloud: the Scheduler job read back through the API', async () => {
    run('gcp');
    await applied('the Google Cloud change to be applied');
    const job = (await (
      await fetch(
        `${simEnv.GCP_API_ENDPOINT}/v1/projects/${simEnv.GCP_PROJECT_ID}/locations/${simEnv.GCP_REGION}/jobs/daily-backup`,
        { headers: { authorization: `Bearer ${simEnv.GCP_ACCESS_TOKEN}` } },
      )
    ).json()) as { schedule: string };
    expect(job.schedule).toBe('30 2 * * *');
  });

  it('stops everything on one SIGTERM', async () => {
    child?.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(out).toContain('keelson demo: stopped');
    // The value never reached keelson's log (nor the demo's output).
    expect(out).not.toContain(ROTATED);
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
    await expect(fetch(`http://localhost:${UI_PORT}/`)).rejects.toThrow();
    await expect(fetch(`http://127.0.0.1:${IDP_PORT}/`)).rejects.toThrow();
  });
});
