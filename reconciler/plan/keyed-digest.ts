import { createHmac } from 'node:crypto';

/**
 * Keyed digests: what keelson writes to its state instead of a bare sha256 of anything derived
 * from a secret (HMAC-SHA256 with the per-installation key, `state/installation-key.ts`, kept
 * outside the state). Whoever reads the state file alone cannot test guesses of a short secret.
 */
export const KEYED_PREFIX = 'hmac-sha256:';

export function keyedDigest(key: Buffer, text: string): string {
  return `${KEYED_PREFIX}${createHmac('sha256', key).update(text).digest('hex')}`;
}
