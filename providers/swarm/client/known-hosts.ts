import { createHmac } from 'node:crypto';

/**
 * The host keys an OpenSSH `known_hosts` text lists for `host` on `port` (base64 key blobs, as
 * the second field of a line holds them). Host names are matched as ssh does: `host` for port 22,
 * `[host]:port` otherwise; plain names, `*`/`?` patterns, `!negations`, and hashed names
 * (`|1|salt|hmac`, what `ssh-keygen -H` writes). `@revoked` keys are left out; `@cert-authority`
 * lines are not host keys and are skipped.
 */
export function knownHostKeys(text: string, host: string, port = 22): Set<string> {
  const name = port === 22 ? host : `[${host}]:${port}`;
  const keys = new Set<string>();
  const revoked = new Set<string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    const marker = fields[0]?.startsWith('@') ? fields.shift() : undefined;
    const [patterns = '', , blob] = fields;
    if (!blob || marker === '@cert-authority') continue;
    if (!matches(patterns, name)) continue;
    (marker === '@revoked' ? revoked : keys).add(blob);
  }
  for (const r of revoked) keys.delete(r);
  return keys;
}

function matches(patterns: string, name: string): boolean {
  if (patterns.startsWith('|1|')) {
    const [, , salt = '', hash = ''] = patterns.split('|');
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  let found = false;
  for (const p of patterns.split(',')) {
    const negated = p.startsWith('!');
    const pattern = negated ? p.slice(1) : p;
    if (!glob(pattern).test(name)) continue;
    if (negated) return false;
    found = true;
  }
  return found;
}

function glob(pattern: string): RegExp {
  const body = pattern
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`, 'i');
}
