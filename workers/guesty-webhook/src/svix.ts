import { hmacSha256Base64, timingSafeEqual } from '../../shared/verify.ts';

/** How far a webhook's timestamp may be from now before it is refused as a replay. */
const TOLERANCE_SECONDS = 5 * 60;

/**
 * Verifies a Svix-signed webhook (Guesty delivers its webhooks through Svix): the signature is
 * `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">` keyed with the base64 part of the
 * `whsec_...` secret; several space-separated signatures may be sent during a key rotation.
 */
/** A `whsec_...` secret as key bytes, or why it is not one (a configuration error). */
export function svixKey(secret: string | undefined): Uint8Array | { problem: string } {
  if (!secret) return { problem: 'GUESTY_WEBHOOK_SECRET is not set' };
  const body = secret.replace(/^whsec_/, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body) || body.length % 4 !== 0)
    return { problem: 'GUESTY_WEBHOOK_SECRET is not a Svix signing secret (whsec_ followed by base64)' };
  const key = Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
  if (key.length < 16) return { problem: 'GUESTY_WEBHOOK_SECRET is too short for a Svix signing secret' };
  return key;
}

export async function verifySvix(
  key: Uint8Array,
  headers: { id: string | null; timestamp: string | null; signature: string | null },
  body: string,
  nowSeconds: number,
): Promise<'ok' | 'missing-headers' | 'stale' | 'bad-signature'> {
  if (!headers.id || !headers.timestamp || !headers.signature) return 'missing-headers';
  const ts = Number(headers.timestamp);
  if (!Number.isInteger(ts) || Math.abs(nowSeconds - ts) > TOLERANCE_SECONDS) return 'stale';
  const expected = await hmacSha256Base64(key, `${headers.id}.${headers.timestamp}.${body}`);
  for (const part of headers.signature.split(' ')) {
    const [version, sig] = part.split(',');
    if (version === 'v1' && sig !== undefined && timingSafeEqual(sig, expected)) return 'ok';
  }
  return 'bad-signature';
}
