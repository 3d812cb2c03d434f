/**
 * `scripts/dev.sh demo` behaves like a service: it says which DOCKER_HOST to use (and that it
 * reused the running engine), its status shows the revision applying and then applied with the
 * resources it manages, the Secrets UI it started is linked from the status page and signs the
 * demo user in (real Chromium) onto the demo's secrets, and one SIGTERM to the process it started
 * (what a supervisor or `timeout` sends) stops everything: the process exits 0 and the ports are
 * free again.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
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
/** The README's demo walkthrough: one change per provider (what a newcomer types in the demo's work tree). */
const WALKTHROUGH = `
sed -i "s/replicas: 1/replicas: 2/" desired-state/swarm/demo.yaml
sed -i "s/description: https }/description: https to Traefik }/" desired-state/hetzner/access.yaml
sed -i "0,/ttl: 300/s//ttl: 600/" desired-state/cloudflare/dns.yaml
sed -i "0,/messageRetentionDuration: 604800s/s//messageRetentionDuration: 86400s/" desired-state/gcp/pubsub.yaml
git commit -qam "one change per provider" && git push -q
`;

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 150_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('scripts/dev.sh demo', { timeout: 400_000 }, () => {
  let child: ChildProcess | undefined;
  let out = '';
  // Its own demo folder (repository, secrets, state): the walkthrough commits there.
  const home = mkdtempSync(join(tmpdir(), 'keelson-demo-'));

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    const client = testClient();
    for (const s of await client.listServices({ name: ['keelson-demo-web'] }))
      if (s.Spec.Name === 'keelson-demo-web') await client.removeService(s.ID);
    rmSync(home, { recursive: true, force: true });
  });

  it('starts, applies, and stops everything on one SIGTERM', async () => {
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

    // The README's walkthrough: one change per provider in one commit, pushed, and a webhook.
    const work = join(home, 'work');
    const sh = (script: string) =>
      execFileSync('bash', ['-c', script], {
        cwd: work,
        env: {
          ...process.env,
          GIT_AUTHOR_NAME: 't',
          GIT_AUTHOR_EMAIL: 't@example.com',
          GIT_COMMITTER_NAME: 't',
          GIT_COMMITTER_EMAIL: 't@example.com',
        },
        encoding: 'utf8',
      });
    sh(WALKTHROUGH);
    const head = sh('git rev-parse HEAD').trim();
    const hook = await fetch(`${base}/hooks/git`, { method: 'POST', headers: { 'X-Gitlab-Token': 'demo' } });
    expect(hook.status).toBe(202);
    const changed = await until('the walkthrough commit to be applied', async () => {
      const s = (await (await fetch(`${base}/status`)).json()) as {
        revision: string;
        revisionState: string;
        passes: number;
        lastChange: { revision: string; changes: { key: string; state: string }[] } | null;
      };
      return s.revision === head && s.revisionState === 'applied' && s.lastChange?.revision === head ? s : undefined;
    });
    expect(Object.fromEntries(changed.lastChange?.changes.map((c) => [c.key, c.state]) ?? [])).toEqual({
      'swarm.Service/keelson-demo-web': 'updated',
      'hetzner.Firewall/swarm': 'updated',
      'cloudflare.DnsRecord/swarm-1': 'updated',
      'gcp.PubSubTopic/rocketchat-messages': 'updated',
    });
    // ... and the next pass finds nothing to do.
    const next = await until('a pass after the change', async () => {
      await fetch(`${base}/hooks/git`, { method: 'POST', headers: { 'X-Gitlab-Token': 'demo' } });
      const s = (await (await fetch(`${base}/status`)).json()) as {
        passes: number;
        lastPlan: { changes: { key: string; action: string }[] };
      };
      return s.passes > changed.passes ? s : undefined;
    });
    expect(next.lastPlan.changes).toEqual([]);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(out).toContain('keelson demo: stopped');
    // The value never reached keelson's log (nor the demo's output).
    expect(out).not.toContain(ROTATED);
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
    await expect(fetch(uiUrl)).rejects.toThrow();
    await expect(fetch(`http://127.0.0.1:${IDP_PORT}/`)).rejects.toThrow();
  });
});
