import { execFile } from 'node:child_process';
import { KeelsonError } from '../../providers/sdk/index.ts';

/** Which signatures are acceptable: keys in a GnuPG home, optionally narrowed to some fingerprints. */
export interface SignaturePolicy {
  /** GnuPG home directory holding the allowed public keys. */
  readonly keyringDir: string;
  /** Full fingerprints (or long key ids) allowed to sign; empty means any key in the keyring. */
  readonly allowedKeys: readonly string[];
}

/**
 * Checks a commit's signature with `git verify-commit --raw` against the keyring. Resolves with
 * the signing key's fingerprint; throws a terminal `KeelsonError` when the commit is unsigned,
 * badly signed, or signed by a key that is not allowed (a new commit is needed, retrying cannot help).
 */
export async function verifyCommit(repoDir: string, revision: string, policy: SignaturePolicy): Promise<string> {
  const status = await new Promise<string>((resolve) => {
    execFile(
      'git',
      ['verify-commit', '--raw', revision],
      { cwd: repoDir, env: { ...process.env, GNUPGHOME: policy.keyringDir } },
      (_error, _stdout, stderr) => resolve(String(stderr)),
    );
  });
  const valid = /^\[GNUPG:\] VALIDSIG ([0-9A-F]+) .* ([0-9A-F]+)$/m.exec(status);
  const good = /^\[GNUPG:\] GOODSIG ([0-9A-F]+) /m.exec(status);
  const reject = (why: string): never => {
    throw new KeelsonError(`cannot use commit ${revision.slice(0, 12)}: ${why}`, {
      code: 'INVALID_SPEC',
      class: 'terminal',
    });
  };
  if (!valid || !good) {
    if (/NO_PUBKEY|ERRSIG/.test(status))
      return reject('it is signed by a key that is not in the keyring (source.keyringDir)');
    if (/BADSIG/.test(status)) return reject('its signature does not match its content');
    return reject('it is not signed, and source.verifySignatures requires a signature');
  }
  const fingerprint = valid[1] ?? '';
  const primary = valid[2] ?? fingerprint;
  if (policy.allowedKeys.length > 0) {
    const allowed = policy.allowedKeys.map((k) => k.replace(/\s/g, '').toUpperCase());
    const matches = (k: string) => [fingerprint, primary].some((f) => f === k || f.endsWith(k));
    if (!allowed.some(matches)) return reject(`it is signed by key ${fingerprint}, which is not in source.allowedKeys`);
  }
  return fingerprint;
}
