import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * A per-installation secret key for keyed digests (saved plans), kept outside the state: the file
 * `KEELSON_INSTALLATION_KEY_FILE`, or `installation.key` beside the state file. Made (32 random
 * bytes, mode 0600) the first time it is needed. Whoever can read the state alone cannot use a
 * digest to guess what it was made from.
 */
export function installationKey(statePath: string, env: Readonly<Record<string, string | undefined>>): Buffer {
  const file = env.KEELSON_INSTALLATION_KEY_FILE ?? join(dirname(statePath), 'installation.key');
  try {
    const key = readFileSync(file);
    if (key.length >= 32) return key;
    throw new Error(`the installation key ${file} is shorter than 32 bytes; remove it to have a new one made`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dirname(file), { recursive: true });
  const key = randomBytes(32);
  writeFileSync(file, key, { mode: 0o600, flag: 'wx' });
  return key;
}
