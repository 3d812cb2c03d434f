import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { envSecretSource } from './secrets.ts';

/** Secret names come from Git: each case says what a hostile name or file must not reach. */
describe('envSecretSource with a secrets directory', () => {
  const root = mkdtempSync(join(tmpdir(), 'keelson-secrets-'));
  const dir = join(root, 'secrets');
  mkdirSync(dir);
  writeFileSync(join(dir, 'db-password'), 'hunter2\n');
  writeFileSync(join(root, 'outside'), 'not yours');
  symlinkSync(join(root, 'outside'), join(dir, 'escape'));
  symlinkSync(join(dir, 'db-password'), join(dir, 'alias'));
  execFileSync('mkfifo', [join(dir, 'pipe')]);
  const source = envSecretSource({ KEELSON_SECRET_API_TOKEN: 'from-env' }, dir);

  it('reads a file of the directory (without its final newline) and an environment variable', () => {
    expect(source.get('db-password')?.reveal()).toBe('hunter2');
    expect(source.get('api.token')?.reveal()).toBe('from-env');
  });

  it.each([
    ['a path out of the directory', '../outside'],
    ['the daemon environment through /proc', '../../../../../proc/self/environ'],
    ['an absolute path', '/etc/passwd'],
    ['a link inside the directory that points out of it', 'escape'],
    ['a FIFO (reading it would hang the daemon)', 'pipe'],
    ['a name that is not there', 'nope'],
  ])('gives nothing for %s', (_why, name) => {
    expect(source.get(name)).toBeUndefined();
  });

  it('follows a link that stays inside the directory (as Kubernetes-style mounts do)', () => {
    expect(source.get('alias')?.reveal()).toBe('hunter2');
  });
});
