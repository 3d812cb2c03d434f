import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloudflareModule } from '../providers/cloudflare/index.ts';
import { type CloudflareSimulator, startCloudflareSimulator } from '../providers/cloudflare/simulator/index.ts';
import { type GcpSimulator, startGcpSimulator } from '../providers/gcp/simulator/index.ts';
import { swarmModule } from '../providers/swarm/index.ts';
import { sweep, TEST_IMAGE, testClient, testDockerHost } from '../providers/swarm/test-support.ts';
import { Daemon } from '../reconciler/app/daemon.ts';
import { loadConfig } from '../reconciler/config/load-config.ts';
import { googleClientOptions } from '../reconciler/engine/secret-manager-source.ts';
import { signRead } from '../reconciler/http/signed-read.ts';
import { createLogger } from '../reconciler/observability/logger.ts';
import { buildSecretsUi } from '../secrets-ui/app.ts';
import { FirestoreAuditTrail } from '../secrets-ui/audit.ts';
import { readInventory } from '../secrets-ui/inventory.ts';
import { KeelsonClient } from '../secrets-ui/keelson-client.ts';
import { startIdentityProvider, type Users } from '../secrets-ui/local-idp.ts';
import { OidcClient } from '../secrets-ui/oidc.ts';
import { SecretManagerStore } from '../secrets-ui/secret-store.ts';
import { CookieSealer } from '../secrets-ui/session.ts';
import { freePort, until } from './daemon-support.ts';

const require = createRequire(import.meta.url);
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = resolve(import.meta.dirname, '../.keelson/artifacts/secrets-ui');
const PREFIX = `sui${process.pid}-`;
const SECRET = 'api-token';
const WEBHOOK = 'secrets-ui-webhook-key';
const SESSION_SECRET = 'a-session-secret-of-at-least-32-characters';
const INITIAL = 'initial-value-7f3c0d9e2b';
const TYPED = 'typed-value-Q9z!x2Lm8wR4';
const TYPED_AGAIN = 'second-typed-value-Zq81mW0pLx';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** A Worker that answers with the SHA-256 of its API_TOKEN binding: the test sees which value it has without it travelling. */
const PROBE_WORKER = `export default {
  async fetch(request, env) {
    const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(env.API_TOKEN ?? ''));
    return new Response([...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join(''));
  },
};
`;

const desiredState = `kind: cloudflare.WorkerScript
name: ${PREFIX}probe
spec:
  source: workers/probe
  main: src/index.js
  compatibilityDate: '2024-09-23'
  secrets:
    API_TOKEN: { secretRef: ${SECRET} }
---
kind: cloudflare.WorkerRoute
name: ${PREFIX}probe
spec:
  zone: example.com
  pattern: hooks.example.com/${PREFIX}probe*
  script: { ref: cloudflare.WorkerScript/${PREFIX}probe, output: name }
---
kind: swarm.Secret
name: ${PREFIX}token
spec:
  data: { secretRef: ${SECRET} }
---
kind: swarm.Service
name: ${PREFIX}app
spec:
  image: ${TEST_IMAGE}
  args: [sleep, '3600']
  init: true
  stopGracePeriod: 1s
  secrets:
    - source: { ref: swarm.Secret/${PREFIX}token, output: name }
      target: token
  deploy:
    replicas: 1
    restartPolicy: { delay: 1s }
    updateConfig: { monitor: 1s }
    rollbackConfig: { monitor: 1s }
`;

const browserMissing = !existsSync(CHROMIUM);
if (browserMissing) console.log(`Secrets UI browser test skipped: ${CHROMIUM} is missing (apt-get install chromium)`);

/**
 * The Secrets UI end to end in Chromium: oidc-provider standing in for Keycloak, Secret Manager and
 * Firestore in the GCP simulator, keelson serving with the Secret Manager source, a Worker in the
 * Cloudflare simulator (workerd) and a service on the test Swarm consuming the secret.
 */
describe.skipIf(browserMissing)('the Secrets UI in a real browser', { timeout: 400_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'keelson-secrets-ui-'));
  const users: Users = new Map([
    ['alice', { groups: ['/secrets-admin', 'staff'] }],
    ['bob', { groups: ['staff'] }],
  ]);
  const uiLog: string[] = [];
  const keelsonLog: string[] = [];
  const responses: string[] = [];
  let gcp: GcpSimulator;
  let cf: CloudflareSimulator;
  let daemon: Daemon;
  let keelsonUrl: string;
  let ui: FastifyInstance;
  let uiUrl: string;
  let idp: Awaited<ReturnType<typeof startIdentityProvider>>;
  let browser: Browser;
  let alice: BrowserContext;
  let page: Page;
  let admin: import('@google-cloud/secret-manager').SecretManagerServiceClient;
  const swarm = testClient();
  const host = testDockerHost();
  let generated = '';

  const shot = (p: Page, name: string) => p.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  const record = (p: Page) =>
    p.on('response', (r) => {
      if (!r.url().startsWith(uiUrl)) return;
      r.text().then(
        (t) => responses.push(`${r.status()} ${r.url()}\n${JSON.stringify(r.headers())}\n${t}`),
        () => {},
      );
    });
  const serviceSecretNames = async () => {
    const [svc] = await swarm.listServices({ name: [`${PREFIX}app`] });
    const spec = svc?.Spec.TaskTemplate as { ContainerSpec?: { Secrets?: { SecretName: string }[] } } | undefined;
    return (spec?.ContainerSpec?.Secrets ?? []).map((s) => s.SecretName);
  };
  const workerDigest = async () => (await cf.fetchRoute(`https://hooks.example.com/${PREFIX}probe`)).text();
  /** Waits (across the page's own refreshes) until every consumer shows `state`. */
  const consumersAre = (p: Page, state: string, what: string) =>
    until(
      async () => {
        try {
          const states = await p
            .locator('[data-consumer]')
            .evaluateAll((els) => els.map((e) => e.getAttribute('data-state')));
          return states.length === 3 && states.every((s) => s === state);
        } catch {
          return false; // the page was refreshing
        }
      },
      what,
      240_000,
    );

  async function signIn(context: BrowserContext, login: string): Promise<Page> {
    const p = await context.newPage();
    record(p);
    await p.goto(`${uiUrl}/`);
    await p.locator('input[name="login"]').fill(login);
    await p.locator('input[name="password"]').fill('any');
    await p.locator('button[type="submit"]').click();
    await p.waitForLoadState();
    // oidc-provider's development consent page
    const consent = p.locator('button[type="submit"]', { hasText: /continue/i });
    if (await consent.count()) await consent.click();
    // The callback answers a same-site page that moves on to / (the Strict cookie's first use).
    await p.waitForURL((u) => u.href.startsWith(uiUrl));
    await until(async () => {
      if (new URL(p.url()).pathname !== '/auth/callback') return true;
      return (await p.title().catch(() => '')).startsWith('Not allowed');
    }, 'the page after the callback');
    await p.waitForLoadState('load');
    return p;
  }

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    mkdirSync(join(root, 'desired-state'), { recursive: true });
    mkdirSync(join(root, 'workers/probe/src'), { recursive: true });
    writeFileSync(join(root, 'workers/probe/src/index.js'), PROBE_WORKER);
    writeFileSync(join(root, 'desired-state/app.yaml'), desiredState);
    await sweep(swarm, PREFIX);

    gcp = await startGcpSimulator({ runFunctions: false });
    const { SecretManagerServiceClient } = require('@google-cloud/secret-manager');
    admin = new SecretManagerServiceClient(googleClientOptions(gcp.env));
    await admin.createSecret({
      parent: `projects/${gcp.projectId}`,
      secretId: SECRET,
      secret: { replication: { automatic: {} } },
    });
    await admin.addSecretVersion({
      parent: `projects/${gcp.projectId}/secrets/${SECRET}`,
      payload: { data: Buffer.from(INITIAL) },
    });
    cf = await startCloudflareSimulator();

    const loaded = loadConfig({
      env: {
        KEELSON_SOURCE_DIRECTORY: join(root, 'desired-state'),
        KEELSON_STATE_PATH: join(root, 'state.json'),
        KEELSON_HTTP_HOST: '127.0.0.1',
        KEELSON_HTTP_PORT: '0',
        KEELSON_POLL_INTERVAL_SECONDS: '3600',
        KEELSON_WEBHOOK_SECRET: WEBHOOK,
        KEELSON_OWNER: `keelson-${PREFIX}`,
        KEELSON_SECRET_SOURCE: 'secret-manager',
        KEELSON_SECRET_MANAGER_PROJECT: gcp.projectId,
      },
      cwd: root,
    });
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
    const sink = new Writable({
      write(chunk, _enc, done) {
        keelsonLog.push(String(chunk));
        done();
      },
    });
    daemon = new Daemon(loaded.config, createLogger('debug', sink), {
      modules: [cloudflareModule, swarmModule],
      env: {
        ...gcp.env,
        ...cf.env(),
        DOCKER_HOST: host,
        KEELSON_REPO_ROOT: root,
        KEELSON_SWARM_TASK_START_MS: '60000',
      },
    });
    keelsonUrl = (await daemon.start()).replace('0.0.0.0', '127.0.0.1');
    await until(() => daemon.status.data.passes >= 1, 'keelson’s first pass', 240_000);
    expect(daemon.status.data.lastErrors).toEqual([]);

    const port = await freePort();
    uiUrl = `http://localhost:${port}`;
    idp = await startIdentityProvider({
      users,
      redirectUri: `${uiUrl}/auth/callback`,
      clientId: 'secrets-ui',
      clientSecret: 'secrets-ui-client-secret',
    });
    ui = buildSecretsUi({
      publicUrl: uiUrl,
      sessionSecret: SESSION_SECRET,
      oidc: new OidcClient({
        issuer: idp.issuer,
        clientId: 'secrets-ui',
        clientSecret: 'secrets-ui-client-secret',
        redirectUri: `${uiUrl}/auth/callback`,
        group: 'secrets-admin',
      }),
      store: new SecretManagerStore(gcp.projectId, gcp.env),
      audit: FirestoreAuditTrail.connect(gcp.projectId, gcp.env),
      keelson: new KeelsonClient(keelsonUrl, WEBHOOK),
      inventory: () => readInventory(join(root, 'desired-state'), root),
      log: (e) => uiLog.push(JSON.stringify(e)),
    });
    await ui.listen({ host: '127.0.0.1', port });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    alice = await browser.newContext();
    page = await signIn(alice, 'alice');
  });

  afterAll(async () => {
    writeFileSync(join(ARTIFACTS, 'ui-log.jsonl'), `${uiLog.join('\n')}\n`);
    writeFileSync(join(ARTIFACTS, 'responses.txt'), responses.map((r) => r.split('\n')[0]).join('\n'));
    await browser?.close();
    await ui?.close();
    await idp?.close();
    await daemon?.stop();
    await cf?.close();
    await gcp?.close();
    await sweep(swarm, PREFIX);
    rmSync(root, { recursive: true, force: true });
  });

  it('a member of secrets-admin signs in and sees the secret, every consumer and its version', async () => {
    expect(new URL(page.url()).pathname).toBe('/');
    expect(await page.locator('h1').textContent()).toBe('Secrets');
    const text = await page.locator('main').textContent();
    expect(text).toContain(SECRET);
    expect(text).toContain(`Worker ${PREFIX}probe, binding API_TOKEN`);
    expect(text).toContain(`Swarm secret ${PREFIX}token`);
    expect(text).toContain(`Swarm service ${PREFIX}app`);
    expect(text).toMatch(/version 1, rotated/);
    await consumersAre(page, 'current', 'all consumers current at version 1');
    const cookies = await alice.cookies();
    const session = cookies.find((c) => c.name === '__Host-secrets-ui-session');
    expect(session).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict', path: '/' });
    await shot(page, '1-list');
  });

  it('pages carry a strict CSP and the keyboard reaches the skip link first; the list is readable on a phone', async () => {
    const res = await page.request.get(`${uiUrl}/`);
    expect(res.headers()['content-security-policy']).toBe(
      "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    await page.goto(`${uiUrl}/`);
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Skip to content');
    const phone = await alice.newPage();
    await phone.setViewportSize({ width: 360, height: 740 });
    await phone.goto(`${uiUrl}/secrets/${SECRET}`);
    expect(await phone.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
    await shot(phone, '2-secret-on-a-phone');
    await phone.close();
  });

  let replay: { url: string; body: string } | undefined;

  it('a typed value is written as version 2 and reaches the Worker and the Swarm service; each consumer turns green', async () => {
    await page.goto(`${uiUrl}/secrets/${SECRET}`);
    await shot(page, '3-secret');
    page.once('request', (r) => {
      if (r.method() === 'POST') replay = { url: r.url(), body: r.postData() ?? '' };
    });
    await page.getByLabel('Type a value').check();
    await page.getByLabel('Value (when typing)').fill(TYPED);
    await page.getByRole('button', { name: 'Write new version and reconcile' }).click();
    await page.waitForURL(/rotated=2/);
    expect(await page.locator('[role=status]').textContent()).toContain('Version 2 written');
    expect(await page.getByLabel('Value (when typing)').inputValue()).toBe('');
    await consumersAre(page, 'current', 'all consumers current at version 2');
    await shot(page, '4-rotated');
    expect(await workerDigest()).toBe(sha256(TYPED));
    expect(await serviceSecretNames()).toEqual([`${PREFIX}token-${sha256(TYPED).slice(0, 12)}`]);
  });

  it('the audit trail in Firestore and on the page says who changed which secret when, never the value', async () => {
    await page.goto(`${uiUrl}/audit`);
    const row = page.locator(`tr[data-audit-secret="${SECRET}"]`).first();
    expect(await row.textContent()).toContain('alice');
    expect(await row.textContent()).toContain('typed');
    expect(await row.textContent()).toContain('reconcile requested');
    await shot(page, '5-audit');
    const entries = await FirestoreAuditTrail.connect(gcp.projectId, gcp.env).list(10);
    expect(entries[0]).toMatchObject({ secret: SECRET, actor: 'alice', version: '2', how: 'typed' });
    expect(Object.keys(entries[0] ?? {}).sort()).toEqual([
      'action',
      'actor',
      'at',
      'how',
      'keelson',
      'secret',
      'version',
    ]);
  });

  it('a replayed, a forged and a cross-site form post are refused and change nothing', async () => {
    expect(replay).toBeDefined();
    const { url, body } = replay as { url: string; body: string };
    const headers = { 'content-type': 'application/x-www-form-urlencoded', origin: uiUrl };
    const again = await page.request.post(url, { headers, data: body, maxRedirects: 0 });
    expect(again.status()).toBe(409);
    const forged = await page.request.post(url, {
      headers,
      data: body.replace(/csrf=[^&]+/, 'csrf=guessed'),
      maxRedirects: 0,
    });
    expect(forged.status()).toBe(403);
    const crossSite = await page.request.post(url, {
      headers: { ...headers, origin: 'https://evil.example' },
      data: body,
      maxRedirects: 0,
    });
    expect(crossSite.status()).toBe(403);
    const stranger = await browser.newContext();
    const noSession = await stranger.request.post(url, { headers, data: body, maxRedirects: 0 });
    expect(noSession.status()).toBe(403);
    await stranger.close();
    const [latest] = await admin.getSecretVersion({
      name: `projects/${gcp.projectId}/secrets/${SECRET}/versions/latest`,
    });
    expect(latest.name).toMatch(/versions\/2$/);
  });

  it('a generated value (48 hex characters) is written as version 3 and propagates', async () => {
    await page.goto(`${uiUrl}/secrets/${SECRET}`);
    await page.getByLabel('Generate a random value').check();
    await page.getByLabel('Length (16–256)').fill('48');
    await page.getByLabel('Alphabet').selectOption('hex');
    await page.getByRole('button', { name: 'Write new version and reconcile' }).click();
    await page.waitForURL(/rotated=3/);
    await consumersAre(page, 'current', 'all consumers current at version 3');
    const [v] = await admin.accessSecretVersion({ name: `projects/${gcp.projectId}/secrets/${SECRET}/versions/3` });
    generated = Buffer.from(v.payload?.data as Uint8Array).toString('utf8');
    expect(generated).toMatch(/^[0-9a-f]{48}$/);
    expect(await workerDigest()).toBe(sha256(generated));
    expect(await serviceSecretNames()).toEqual([`${PREFIX}token-${sha256(generated).slice(0, 12)}`]);
    const html = await page.content();
    expect(html).not.toContain(generated);
  });

  it('someone outside the group is refused with a clear message, and so is a member removed from it mid-session', async () => {
    const bobContext = await browser.newContext();
    const bob = await signIn(bobContext, 'bob');
    expect(await bob.locator('h1').textContent()).toBe('Not allowed');
    expect(await bob.locator('[role=alert]').textContent()).toContain('not a member of the group "secrets-admin"');
    await shot(bob, '6-refused');
    const direct = await bob.request.get(`${uiUrl}/secrets/${SECRET}`, { maxRedirects: 0 });
    expect(direct.status()).not.toBe(200);
    await bobContext.close();
    // Alice leaves the group at the identity provider: her next request is refused.
    users.set('alice', { groups: ['staff'] });
    const res = await page.goto(`${uiUrl}/`);
    expect(res?.status()).toBe(403);
    expect(await page.locator('[role=alert]').textContent()).toContain('not a member');
    users.set('alice', { groups: ['/secrets-admin'] });
  });

  it("a consumer keelson cannot update shows keelson's error while the others turn green", async () => {
    cf.injectFault({
      method: 'PUT',
      path: `/workers/scripts/${PREFIX}probe`,
      status: 400,
      code: 10021,
      message: 'simulated: the script upload was rejected',
      times: 1000,
    });
    await page.goto(`${uiUrl}/secrets/${SECRET}`);
    await page.getByLabel('Type a value').check();
    await page.getByLabel('Value (when typing)').fill(TYPED_AGAIN);
    await page.getByRole('button', { name: 'Write new version and reconcile' }).click();
    await page.waitForURL(/rotated=4/);
    const worker = `[data-consumer="cloudflare.WorkerScript/${PREFIX}probe"]`;
    await until(
      async () =>
        (await page
          .locator(`${worker}[data-state="failed"]`)
          .count()
          .catch(() => 0)) > 0,
      'the Worker consumer marked failed',
      240_000,
    );
    expect(await page.locator(worker).textContent()).toContain('simulated: the script upload was rejected');
    await until(
      async () =>
        (await page
          .locator(`[data-consumer^="swarm."][data-state="current"]`)
          .count()
          .catch(() => 0)) === 2,
      'the Swarm consumers current at version 4',
      240_000,
    );
    await shot(page, '7-consumer-failed');
    expect(await workerDigest()).toBe(sha256(generated));
  });

  it('an expired access token is refreshed without a new sign-in; when the session is ended at the provider, the person is signed out', async () => {
    const sealer = new CookieSealer(SESSION_SECRET);
    const session = async () => {
      const value = (await alice.cookies()).find((c) => c.name === '__Host-secrets-ui-session')?.value;
      return (await sealer.open(value, 'session')) as Record<string, string> | undefined;
    };
    const before = await session();
    expect(before?.refreshToken).toBeTruthy();
    // An access token the provider no longer accepts, as after its lifetime (5 minutes in Keycloak).
    const stale = await sealer.seal({ ...before, accessToken: 'no-longer-valid' }, 'session', 600);
    await alice.addCookies([
      {
        name: '__Host-secrets-ui-session',
        value: stale,
        domain: 'localhost',
        path: '/',
        secure: true,
        httpOnly: true,
        sameSite: 'Strict',
      },
    ]);
    const signIns = uiLog.filter((l) => l.includes('"signed in"')).length;
    const res = await page.goto(`${uiUrl}/`);
    expect(res?.status()).toBe(200);
    expect(await page.locator('h1').textContent()).toBe('Secrets');
    expect(uiLog.filter((l) => l.includes('"signed in"')).length, 'refreshed, not signed in again').toBe(signIns);
    const after = await session();
    expect(after?.accessToken).not.toBe('no-longer-valid');
    // The session is ended at the provider: its refresh token (and with it the grant's tokens) revoked.
    const revoked = await fetch(`${idp.issuer}/token/revocation`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from('secrets-ui:secrets-ui-client-secret').toString('base64')}`,
      },
      body: new URLSearchParams({ token: after?.refreshToken as string }),
    });
    expect(revoked.status).toBe(200);
    // Without following redirects: the provider still has its own login session and would sign her in again at once.
    const out = await page.request.get(`${uiUrl}/`, { maxRedirects: 0 });
    expect([out.status(), out.headers().location]).toEqual([302, '/auth/login']);
    expect(out.headers()['set-cookie']).toMatch(/__Host-secrets-ui-session=; Path=\/; Max-Age=0/);
    expect(await session()).toBeUndefined();
    expect(uiLog.at(-1)).toContain('"session ended"');
  });

  it('no value appears in any UI response or log, keelson log, status, metric, or audit entry', async () => {
    const metrics = await (await fetch(`${keelsonUrl}/metrics`)).text();
    const status = await (await fetch(`${keelsonUrl}/status`)).text();
    expect((await fetch(`${keelsonUrl}/status/secrets`)).status).toBe(401);
    const versions = await (
      await fetch(`${keelsonUrl}/status/secrets`, { headers: signRead(WEBHOOK, '/status/secrets') })
    ).text();
    expect(JSON.parse(versions)).toMatchObject({ source: 'secret-manager', versions: { [SECRET]: '4' }, pinned: {} });
    const audit = JSON.stringify(await FirestoreAuditTrail.connect(gcp.projectId, gcp.env).list(100));
    const places: Record<string, string> = {
      'UI responses': responses.join('\n'),
      'UI log': uiLog.join('\n'),
      'keelson log': keelsonLog.join(''),
      'keelson /metrics': metrics,
      'keelson /status': status,
      'keelson /status/secrets': versions,
      'audit trail': audit,
    };
    expect(responses.length).toBeGreaterThan(10);
    expect(keelsonLog.length).toBeGreaterThan(0);
    expect(uiLog.some((l) => l.includes('"rotated"'))).toBe(true);
    for (const value of [INITIAL, TYPED, TYPED_AGAIN, generated]) {
      expect(value.length).toBeGreaterThan(10);
      for (const [where, text] of Object.entries(places))
        expect(text.includes(value), `${where} holds a value`).toBe(false);
    }
    writeFileSync(join(ARTIFACTS, 'ui-log.jsonl'), `${uiLog.join('\n')}\n`);
  });
});
