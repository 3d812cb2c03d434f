import { createHmac, timingSafeEqual } from 'node:crypto';
import type { SecretValue } from '../../providers/sdk/index.ts';

/** How far a signed read's timestamp may be from keelson's clock. */
const SKEW_MS = 5 * 60_000;

type Headers = Readonly<Record<string, string | string[] | undefined>>;

/**
 * Headers that authenticate a read of `path` with the webhook secret, without sending it:
 * `X-Keelson-Timestamp: <ms>` and `X-Keelson-Signature-256: sha256=<hex HMAC(secret, "GET <path>\n<ms>")>`.
 */
export function signRead(secret: string, path: string, now = Date.now()): Record<string, string> {
  const mac = createHmac('sha256', secret).update(`GET ${path}\n${now}`).digest('hex');
  return { 'x-keelson-timestamp': String(now), 'x-keelson-signature-256': `sha256=${mac}` };
}

/** Why a signed read is refused, or undefined when it is good. No secret configured: always refused. */
export function signedReadProblem(
  headers: Headers,
  path: string,
  secret: SecretValue | undefined,
  now = Date.now(),
): string | undefined {
  if (!secret) return 'no webhook secret is configured (webhook.secret)';
  const one = (name: string) => {
    const v = headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const at = Number(one('x-keelson-timestamp'));
  if (!Number.isFinite(at) || Math.abs(now - at) > SKEW_MS) return 'X-Keelson-Timestamp is missing or too far off';
  const given = /^sha256=([0-9a-f]{64})$/i.exec(one('x-keelson-signature-256') ?? '')?.[1];
  const expected = createHmac('sha256', secret.reveal()).update(`GET ${path}\n${at}`).digest();
  if (!given || !timingSafeEqual(Buffer.from(given, 'hex'), expected)) return 'X-Keelson-Signature-256 does not match';
  return undefined;
}
