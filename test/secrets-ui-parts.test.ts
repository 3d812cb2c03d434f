import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type DesiredResource, SecretValue } from '../providers/sdk/index.ts';
import { envSecretSource } from '../reconciler/engine/secrets.ts';
import { signedReadProblem, signRead } from '../reconciler/http/signed-read.ts';
import { consumerState } from '../secrets-ui/app.ts';
import { generateValue } from '../secrets-ui/generate.ts';
import { consumersBySecret } from '../secrets-ui/inventory.ts';
import type { KeelsonStatus } from '../secrets-ui/keelson-client.ts';
import { DirectoryStore } from '../secrets-ui/secret-store.ts';
import { CookieSealer } from '../secrets-ui/session.ts';

const resource = (kind: string, name: string, spec: Record<string, unknown>): DesiredResource =>
  ({
    key: `${kind}/${name}`,
    kind,
    name,
    provider: kind.split('.')[0],
    spec,
    policy: 'enforce',
    protect: false,
    allowReplace: false,
    adopt: false,
  }) as unknown as DesiredResource;

describe('Secrets UI parts', () => {
  const dirs: string[] = [];
  const servers: Server[] = [];
  afterAll(async () => {
    for (const s of servers) await new Promise((r) => s.close(r));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('lists every consumer, following secret objects to the services and functions that use them', () => {
    const entries = consumersBySecret([
      resource('cloudflare.WorkerScript', 'hook', { secrets: { TOKEN: { secretRef: 'hook-token' } } }),
      resource('swarm.Secret', 'db', { data: { secretRef: 'db-password' } }),
      resource('swarm.Service', 'web', {
        secrets: [{ source: { ref: 'swarm.Secret/db', output: 'name' }, target: 'db' }],
      }),
      resource('gcp.SecretManagerSecret', 'llm-key', { value: { secretRef: 'llm-key' } }),
      resource('gcp.Function', 'query', {
        secrets: { LLM_KEY: { secret: { ref: 'gcp.SecretManagerSecret/llm-key', output: 'id' } } },
      }),
      resource('gcp.RunService', 'api', { env: { KEY: { secretRef: 'hook-token' } } }),
      resource('swarm.Service', 'other', {}),
    ]);
    expect(entries.map((e) => [e.name, e.consumers.map((c) => c.label)])).toEqual([
      ['db-password', ['Swarm secret db', 'Swarm service web']],
      ['hook-token', ['Worker hook, binding TOKEN', 'Run service api, variable KEY']],
      ['llm-key', ['Secret Manager secret llm-key', 'Function query']],
    ]);
    expect(entries[0]?.consumers[1]?.via).toEqual(['swarm.Secret/db']);
  });

  const status = (over: Partial<KeelsonStatus>): KeelsonStatus => ({
    passes: 3,
    mode: 'apply',
    lastErrors: [],
    versions: { t: '2' },
    pinned: {},
    source: 'secret-manager',
    ...over,
  });
  it.each([
    ['current: the last completed pass used the newest version', status({}), '2', { state: 'current' }],
    ['pending: keelson has not used the newest version yet', status({}), '3', { state: 'pending' }],
    [
      "failed: keelson's error on the consumer is shown as is",
      status({ lastErrors: [{ resource: 'k/c', message: 'cannot upload', code: 'X' }] }),
      '2',
      { state: 'failed', error: 'cannot upload' },
    ],
    [
      'failed: an error on the secret object the consumer reads through counts too',
      status({ lastErrors: [{ resource: 'swarm.Secret/s', message: 'boom', code: 'X' }] }),
      '2',
      { state: 'failed', error: 'boom' },
    ],
    [
      'unknown: keelson is pinned to an older version, so waiting would never end',
      status({ pinned: { t: '2' } }),
      '3',
      { state: 'unknown', why: 'keelson is pinned to version 2 (KEELSON_SECRET_MANAGER_VERSIONS)' },
    ],
    [
      "current: keelson's directory source used the directory store's newest version",
      status({ source: 'dir' }),
      '2',
      { state: 'current' },
    ],
    [
      'pending: the directory source has not used it yet',
      status({ source: 'dir', versions: {} }),
      '2',
      { state: 'pending' },
    ],
    [
      'unknown: the env source reports no versions',
      status({ source: 'env', versions: {} }),
      '2',
      { state: 'unknown', why: "keelson's env source reports no versions" },
    ],
  ])('consumer state %s', (_why, s, current, expected) => {
    expect(consumerState('k/c', ['swarm.Secret/s'], 't', current, s)).toEqual(expected);
  });

  it('generates values of the asked length from the asked alphabet and refuses a short one', () => {
    expect(generateValue(64, 'hex')).toMatch(/^[0-9a-f]{64}$/);
    expect(generateValue(16, 'base64url')).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(new Set(Array.from({ length: 20 }, () => generateValue(32, 'alphanumeric'))).size).toBe(20);
    expect(() => generateValue(8, 'hex')).toThrow(/from 16 to 256, got 8/);
  });

  it('sealed cookies cannot be read, changed or reused for another purpose', async () => {
    const sealer = new CookieSealer('x'.repeat(32));
    const sealed = await sealer.seal({ sub: 'alice' }, 'session', 60);
    expect(sealed).not.toContain('alice');
    expect(await sealer.open(sealed, 'session')).toMatchObject({ sub: 'alice' });
    expect(await sealer.open(sealed, 'login')).toBeUndefined();
    expect(await sealer.open(`${sealed.slice(0, -2)}AA`, 'session')).toBeUndefined();
    expect(await new CookieSealer('y'.repeat(32)).open(sealed, 'session')).toBeUndefined();
    expect(() => new CookieSealer('short')).toThrow(/at least 32/);
  });

  it("the demo's directory store writes what keelson's directory source reads, with a version record", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'secrets-ui-dir-'));
    dirs.push(dir);
    const store = new DirectoryStore(dir);
    expect(await store.latest('api-token')).toBeUndefined();
    expect((await store.addVersion('api-token', 'one')).version).toBe('1');
    expect((await store.addVersion('api-token', 'two')).version).toBe('2');
    expect(envSecretSource({}, dir).get('api-token')?.reveal()).toBe('two');
    expect(readFileSync(join(dir, '.versions', 'api-token.json'), 'utf8')).not.toContain('two');
  });

  it('the Vercel Function entry serves the app from its environment: headers on every answer, sign-in required', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'secrets-ui-vercel-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'a.yaml'), 'kind: swarm.Secret\nname: s\nspec:\n  data: { secretRef: s }\n');
    Object.assign(process.env, {
      SECRETS_UI_PUBLIC_URL: 'https://secrets.example.com',
      SECRETS_UI_SESSION_SECRET: 'z'.repeat(40),
      SECRETS_UI_OIDC_ISSUER: 'https://sso.example.com/realms/company',
      SECRETS_UI_OIDC_CLIENT_ID: 'secrets-ui',
      SECRETS_UI_STORE: 'directory',
      SECRETS_UI_SECRETS_DIR: dir,
      SECRETS_UI_AUDIT: 'memory',
      SECRETS_UI_DESIRED_STATE: dir,
      SECRETS_UI_KEELSON_URL: 'http://127.0.0.1:9',
      SECRETS_UI_KEELSON_WEBHOOK_SECRET: 'w',
    });
    const { default: handler } = await import('../secrets-ui/api/index.ts');
    const server = createServer((req, res) => void handler(req, res));
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(health.headers.get('strict-transport-security')).toContain('max-age');
    expect(health.headers.get('content-security-policy')).toContain("default-src 'none'");
    const page = await fetch(`${base}/`, { redirect: 'manual' });
    expect([page.status, page.headers.get('location')]).toEqual([302, '/auth/login']);
    const post = await fetch(`${base}/secrets/s/rotate`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'mode=typed&value=x',
    });
    expect(post.status).toBe(403);
  });
});

describe("keelson's signed read of /status/secrets", () => {
  const secret = new SecretValue('hook-secret', 'webhook');
  const path = '/status/secrets';
  const now = 1_700_000_000_000;
  it.each([
    ['a fresh signature is accepted', signRead('hook-secret', path, now), undefined],
    ['another key is refused', signRead('other', path, now), /does not match/],
    ['another path is refused', signRead('hook-secret', '/status', now), /does not match/],
    [
      'an old signature is refused (replay window of five minutes)',
      signRead('hook-secret', path, now - 301_000),
      /too far off/,
    ],
    ['no headers are refused', {}, /missing/],
  ])('%s', (_why, headers, expected) => {
    const problem = signedReadProblem(headers, path, secret, now);
    if (expected === undefined) expect(problem).toBeUndefined();
    else expect(problem).toMatch(expected);
  });
  it('without a configured webhook secret every read is refused', () => {
    expect(signedReadProblem(signRead('x', path, now), path, undefined, now)).toMatch(/no webhook secret/);
  });
});
