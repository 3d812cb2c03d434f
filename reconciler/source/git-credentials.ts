import type { SecretValue } from '../../providers/sdk/index.ts';

/** How git authenticates, as environment for the git child process only: never argv, never the URL. */
export interface GitCredentials {
  readonly username?: string;
  readonly token?: SecretValue;
  readonly sshKeyFile?: string;
  readonly knownHostsFile?: string;
}

/**
 * Environment variables for git. An https token travels as an `http.extraHeader` set through
 * `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n` (visible to the git process only, never on a command line
 * that `ps` shows, never in `.git/config`); an ssh key through `GIT_SSH_COMMAND` with strict host
 * key checking.
 */
export function gitEnvironment(credentials: GitCredentials): Record<string, string> {
  const env: Record<string, string> = { GIT_TERMINAL_PROMPT: '0' };
  if (credentials.token) {
    const basic = Buffer.from(`${credentials.username ?? 'git'}:${credentials.token.reveal()}`).toString('base64');
    env.GIT_CONFIG_COUNT = '1';
    env.GIT_CONFIG_KEY_0 = 'http.extraHeader';
    env.GIT_CONFIG_VALUE_0 = `Authorization: Basic ${basic}`;
  }
  if (credentials.sshKeyFile) {
    const parts = [
      'ssh',
      '-i',
      quote(credentials.sshKeyFile),
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      'BatchMode=yes',
      '-o',
      'StrictHostKeyChecking=yes',
    ];
    if (credentials.knownHostsFile) parts.push('-o', `UserKnownHostsFile=${quote(credentials.knownHostsFile)}`);
    env.GIT_SSH_COMMAND = parts.join(' ');
  } else if (credentials.knownHostsFile) {
    env.GIT_SSH_COMMAND = `ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=${quote(credentials.knownHostsFile)}`;
  }
  return env;
}

function quote(path: string): string {
  return `'${path.replace(/'/g, `'\\''`)}'`;
}
