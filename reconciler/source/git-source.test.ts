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
