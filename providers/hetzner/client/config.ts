import { readFileSync } from 'node:fs';
import { SecretValue } from '../../sdk/index.ts';

/** Default Hetzner Cloud API endpoint (override with `HCLOUD_ENDPOINT`, e.g. the simulator's). */
export const DEFAULT_ENDPOINT = 'https://api.hetzner.cloud/v1';

export interface HetznerConfig {
  readonly token: SecretValue;
  readonly endpoint: string;
}

/** Reads `HCLOUD_TOKEN` (or the file named by `HCLOUD_TOKEN_FILE`) and `HCLOUD_ENDPOINT`. */
export function readHetznerConfig(
  env: Readonly<Record<string, string | undefined>>,
): HetznerConfig | { unavailable: string } {
  let token = env.HCLOUD_TOKEN;
  let source = 'HCLOUD_TOKEN';
  if ((token === undefined || token === '') && env.HCLOUD_TOKEN_FILE) {
    try {
      token = readFileSync(env.HCLOUD_TOKEN_FILE, 'utf8').trim();
      source = 'HCLOUD_TOKEN_FILE';
    } catch (e) {
      return {
        unavailable: `HCLOUD_TOKEN_FILE ${env.HCLOUD_TOKEN_FILE} cannot be read: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
      };
    }
  }
  if (token === undefined || token === '') return { unavailable: 'HCLOUD_TOKEN (or HCLOUD_TOKEN_FILE) is not set' };
  const endpoint = (env.HCLOUD_ENDPOINT || DEFAULT_ENDPOINT).replace(/\/+$/, '');
  return { token: new SecretValue(token, source), endpoint };
}
