import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KeelsonError, SecretValue } from '../../providers/sdk/index.ts';
import { silentLogger } from '../../providers/sdk/testing.ts';
import { gitEnvironment } from './git-credentials.ts';
import { GitSource } from './git-source.ts';

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@t',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@t',
};
function git(cwd: string, args: string[], env: NodeJS.ProcessEnv = GIT_ENV): string {
  return execFileSync('git', args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
    .toString()
    .trim();
}

/** A bare repository with a working clone to push from, as a forge would have. */
function repo(): {
  bare: string;
  work: string;
  commit: (file: string, text: string, extra?: string[], env?: NodeJS.ProcessEnv) => string;
} {
  const root = mkdtempSync(join(tmpdir(), 'keelson-git-'));
  const bare = join(root, 'infra.git');
  const work = join(root, 'work');
  git(root, ['init', '-q', '--bare', '-b', 'main', bare]);
  git(root, ['clone', '-q', bare, work]);
  git(work, ['checkout', '-q', '-b', 'main']);
  const commit = (file: string, text: string, extra: string[] = [], env: NodeJS.ProcessEnv = GIT_ENV) => {
    mkdirSync(join(work, file, '..'), { recursive: true });
    writeFileSync(join(work, file), text);
    git(work, ['add', '-A']);
    git(work, ['commit', '-q', '-m', `change ${file}`, ...extra], env);
    git(work, ['push', '-q', 'origin', 'HEAD:main']);
    return git(work, ['rev-parse', 'HEAD']);
  };
  return { bare, work, commit };
}

const checkout = () => join(mkdtempSync(join(tmpdir(), 'keelson-checkout-')), 'checkout');

describe('GitSource against a real bare repository', () => {
  it('clones over file://, follows the branch and sub-path, and a fetch of the same revision is a no-op', async () => {
    const r = repo();
    const first = r.commit('desired-state/web.yaml', 'kind: swarm.Service\n');
    const source = new GitSource({
      url: `file://${r.bare}`,
      branch: 'main',
      path: 'desired-state',
      checkoutDir: checkout(),
      log: silentLogger,
    });
    const a = await source.sync();
    expect(a).toMatchObject({ revision: first, changed: true });
    expect(readFileSync(join(a.dir, 'web.yaml'), 'utf8')).toContain('swarm.Service');
    expect(await source.sync()).toMatchObject({ revision: first, changed: false });
    const second = r.commit('desired-state/web.yaml', 'kind: swarm.Service # v2\n');
    const b = await source.sync();
    expect(b).toMatchObject({ revision: second, changed: true });
    expect(readFileSync(join(b.dir, 'web.yaml'), 'utf8')).toContain('v2');
  });

  it('a restarted source finds its existing checkout and does not count it as new', async () => {
    const r = repo();
    const first = r.commit('a.yaml', 'x: 1\n');
    const dir = checkout();
    await new GitSource({ url: r.bare, branch: 'main', path: '.', checkoutDir: dir, log: silentLogger }).sync();
    const again = await new GitSource({
      url: r.bare,
      branch: 'main',
      path: '.',
      checkoutDir: dir,
      log: silentLogger,
    }).sync();
    expect(again).toMatchObject({ revision: first, changed: false });
  });

  it('a missing remote is a transient error whose message carries no credentials', async () => {
    const source = new GitSource({
      url: 'https://user:hunter2@127.0.0.1:9/nothing.git',
      branch: 'main',
      path: '.',
      checkoutDir: checkout(),
      credentials: { token: new SecretValue('tok-secret', 'token') },
      log: silentLogger,
    });
    const error = await source.sync().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeelsonError);
    expect((error as KeelsonError).class).toBe('transient');
    expect((error as Error).message).not.toMatch(/hunter2|tok-secret/);
    expect(source.description).toBe('https://127.0.0.1:9/nothing.git#main');
  });

  it('passes an https token as a header through git environment variables only', () => {
    const env = gitEnvironment({ username: 'bot', token: new SecretValue('t0k', 'token') });
    expect(env.GIT_CONFIG_KEY_0).toBe('http.extraHeader');
    expect(env.GIT_CONFIG_VALUE_0).toBe(`Authorization: Basic ${Buffer.from('bot:t0k').toString('base64')}`);
    expect(gitEnvironment({ sshKeyFile: '/k', knownHostsFile: '/kh' }).GIT_SSH_COMMAND).toContain(
      'StrictHostKeyChecking=yes',
    );
  });
});

const gpg = (() => {
  try {
    execFileSync('gpg', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!gpg) console.log('commit signature tests skipped: gpg is not installed (apt-get install gnupg)');

describe.skipIf(!gpg)('commit signature verification with a real gpg key', () => {
  const homes: string[] = [];
  // gpg starts an agent per home directory; stop the ones this test started.
  afterAll(() => {
    for (const dir of homes)
      execFileSync('gpgconf', ['--kill', 'all'], { env: { ...process.env, GNUPGHOME: dir }, stdio: 'ignore' });
  });
  it('uses a commit signed by an allowed key, refuses an unsigned one and one signed by another key', async () => {
    const home = (name: string) => {
      const dir = mkdtempSync(join(tmpdir(), `keelson-gnupg-${name}-`));
      execFileSync(
        'gpg',
        [
          '--batch',
          '--passphrase',
          '',
          '--quick-gen-key',
          `${name} <${name}@keelson.test>`,
          'ed25519',
          'sign',
          'never',
        ],
        {
          env: { ...process.env, GNUPGHOME: dir },
          stdio: 'ignore',
        },
      );
      const fpr = /^fpr:+([0-9A-F]+):/m.exec(
        execFileSync('gpg', ['--with-colons', '--list-keys'], { env: { ...process.env, GNUPGHOME: dir } }).toString(),
      )?.[1];
      return { dir, fpr: fpr ?? '' };
    };
    const signer = home('signer');
    const stranger = home('stranger');
    homes.push(signer.dir, stranger.dir);
    // The keyring keelson trusts holds only the signer's public key.
    const keyring = mkdtempSync(join(tmpdir(), 'keelson-keyring-'));
    homes.push(keyring);
    const pub = execFileSync('gpg', ['--armor', '--export', signer.fpr], {
      env: { ...process.env, GNUPGHOME: signer.dir },
    });
    execFileSync('gpg', ['--batch', '--import'], {
      env: { ...process.env, GNUPGHOME: keyring },
      input: pub,
      stdio: ['pipe', 'ignore', 'ignore'],
    });

    const r = repo();
    const signed = (who: { dir: string; fpr: string }) => ['-S', `--gpg-sign=${who.fpr}`];
    const good = r.commit('a.yaml', 'v: 1\n', signed(signer), { ...GIT_ENV, GNUPGHOME: signer.dir });
    const dir = checkout();
    const source = new GitSource({
      url: r.bare,
      branch: 'main',
      path: '.',
      checkoutDir: dir,
      verify: { keyringDir: keyring, allowedKeys: [signer.fpr] },
      log: silentLogger,
    });
    expect(await source.sync()).toMatchObject({ revision: good, changed: true });

    r.commit('a.yaml', 'v: 2\n');
    await expect(source.sync()).rejects.toThrow(/not signed/);
    r.commit('a.yaml', 'v: 3\n', signed(stranger), { ...GIT_ENV, GNUPGHOME: stranger.dir });
    await expect(source.sync()).rejects.toThrow(/not in the keyring/);
    // The refused commits never reached the working copy.
    expect(readFileSync(join(dir, 'a.yaml'), 'utf8')).toBe('v: 1\n');

    const narrow = new GitSource({
      url: r.bare,
      branch: 'main',
      path: '.',
      checkoutDir: checkout(),
      verify: { keyringDir: keyring, allowedKeys: ['0000000000000000000000000000000000000000'] },
      log: silentLogger,
    });
    const fresh = r.commit('a.yaml', 'v: 4\n', signed(signer), { ...GIT_ENV, GNUPGHOME: signer.dir });
    await expect(narrow.sync()).rejects.toThrow(/not in source.allowedKeys/);
    expect(existsSync(join(dir, 'a.yaml'))).toBe(true);
    expect(await source.sync()).toMatchObject({ revision: fresh });
  });
});

/**
 * A real smart-HTTP git server on loopback (`git http-backend` behind node:http) that demands
 * Basic credentials, to check that the token travels as a header and that a wrong one fails.
 */
async function httpGitServer(projectRoot: string, user: string, password: string) {
  const { createServer } = await import('node:http');
  const { spawn } = await import('node:child_process');
  const seen: { url: string; authorized: boolean }[] = [];
  const server = createServer((req, res) => {
    const expected = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    const authorized = req.headers.authorization === expected;
    seen.push({ url: req.url ?? '', authorized });
    if (!authorized) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="git"' }).end();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://x');
    const cgi = spawn('git', ['http-backend'], {
      env: {
        PATH: process.env.PATH,
        GIT_PROJECT_ROOT: projectRoot,
        GIT_HTTP_EXPORT_ALL: '1',
        PATH_INFO: url.pathname,
        QUERY_STRING: url.search.slice(1),
        REQUEST_METHOD: req.method ?? 'GET',
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        REMOTE_USER: user,
      },
    });
    req.pipe(cgi.stdin);
    const chunks: Buffer[] = [];
    cgi.stdout.on('data', (c: Buffer) => chunks.push(c));
    cgi.on('close', () => {
      const out = Buffer.concat(chunks);
      const split = out.indexOf('\r\n\r\n');
      const head = out.subarray(0, split).toString().split('\r\n');
      const headers: Record<string, string> = {};
      let status = 200;
      for (const line of head) {
        const [k, ...v] = line.split(':');
        if (!k) continue;
        if (k.toLowerCase() === 'status') status = Number.parseInt(v.join(':').trim(), 10);
        else headers[k] = v.join(':').trim();
      }
      res.writeHead(status, headers).end(out.subarray(split + 4));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as import('node:net').AddressInfo;
  return { url: `http://127.0.0.1:${port}`, seen, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('GitSource over smart HTTP with a token', () => {
  it('authenticates with the token as a header (never in the URL), and a wrong token is a clear transient error', async () => {
    const r = repo();
    const sha = r.commit('a.yaml', 'x: 1\n');
    const server = await httpGitServer(join(r.bare, '..'), 'deploy', 's3cret-token');
    try {
      const url = `${server.url}/infra.git`;
      const ok = new GitSource({
        url,
        branch: 'main',
        path: '.',
        checkoutDir: checkout(),
        credentials: { username: 'deploy', token: new SecretValue('s3cret-token', 'token') },
        log: silentLogger,
      });
      expect(await ok.sync()).toMatchObject({ revision: sha, changed: true });
      // extraHeader sends the credentials on every request: no anonymous round trip first.
      expect(server.seen.length).toBeGreaterThan(0);
      expect(server.seen.every((s) => s.authorized)).toBe(true);
      expect(server.seen.every((s) => !s.url.includes('s3cret'))).toBe(true);

      const wrong = new GitSource({
        url,
        branch: 'main',
        path: '.',
        checkoutDir: checkout(),
        credentials: { username: 'deploy', token: new SecretValue('wrong-token', 'token') },
        log: silentLogger,
      });
      const error = await wrong.sync().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(KeelsonError);
      expect((error as Error).message).not.toContain('wrong-token');
    } finally {
      await server.close();
    }
  });
});
