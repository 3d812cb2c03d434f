/**
 * Google credentials for a Worker (no Google client libraries run in workerd): from a service
 * account key, mint a self-signed JWT (RS256, WebCrypto) that Google APIs accept as a bearer token
 * for their audience (`https://firestore.googleapis.com/`). Tokens live an hour; one is cached per
 * isolate and replaced five minutes before it expires, so most requests sign nothing.
 */

/** The fields of a service account key file that signing needs. */
export interface ServiceAccountKey {
  readonly client_email: string;
  readonly private_key: string;
  readonly private_key_id?: string;
}

/** A key that cannot be used: a configuration error (the message never contains key material). */
export class CredentialsError extends Error {}

const LIFETIME_SECONDS = 3600;
const RENEW_BEFORE_SECONDS = 300;

/** Parses the key JSON given as a Worker secret; every problem is named, the key is never echoed. */
export function parseServiceAccountKey(json: string | undefined, secretName: string): ServiceAccountKey {
  if (!json)
    throw new CredentialsError(`${secretName} is not set: give the service account's JSON key as a Worker secret`);
  let key: Partial<ServiceAccountKey> & { type?: string };
  try {
    key = JSON.parse(json) as typeof key;
  } catch {
    throw new CredentialsError(`${secretName} is not JSON: give the whole service account key file`);
  }
  const problems: string[] = [];
  if (typeof key.client_email !== 'string' || !key.client_email.includes('@')) problems.push('client_email is missing');
  if (typeof key.private_key !== 'string' || !key.private_key.includes('BEGIN PRIVATE KEY'))
    problems.push('private_key is missing or not a PKCS#8 PEM key');
  if (problems.length > 0) throw new CredentialsError(`${secretName}: ${problems.join(', ')}`);
  return key as ServiceAccountKey;
}

const base64url = (bytes: Uint8Array) => {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
};
const encodeJson = (value: unknown) => base64url(new TextEncoder().encode(JSON.stringify(value)));

async function importKey(pem: string): Promise<Awaited<ReturnType<typeof crypto.subtle.importKey>>> {
  const body = pem.replace(/-----(BEGIN|END) PRIVATE KEY-----/g, '').replace(/\s+/g, '');
  let der: Uint8Array;
  try {
    der = Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
  } catch {
    throw new CredentialsError('private_key is not base64 PEM');
  }
  try {
    return await crypto.subtle.importKey('pkcs8', der, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['sign']);
  } catch {
    throw new CredentialsError('private_key is not an RSA PKCS#8 key');
  }
}

/** Signs a self-signed JWT for `audience`, valid from `now` (seconds) for an hour. */
export async function signJwt(key: ServiceAccountKey, audience: string, now: number): Promise<string> {
  const header = { alg: 'RS256', typ: 'JWT', ...(key.private_key_id ? { kid: key.private_key_id } : {}) };
  const claims = { iss: key.client_email, sub: key.client_email, aud: audience, iat: now, exp: now + LIFETIME_SECONDS };
  const input = `${encodeJson(header)}.${encodeJson(claims)}`;
  const signature = await crypto.subtle.sign(
    'RSASSA-PKCS1-v1_5',
    await importKey(key.private_key),
    new TextEncoder().encode(input),
  );
  return `${input}.${base64url(new Uint8Array(signature))}`;
}

const cache = new Map<string, { token: string; expires: number }>();

/** A bearer token for `audience`, from the cache while it has more than five minutes left. */
export async function accessToken(
  key: ServiceAccountKey,
  audience: string,
  now = Math.floor(Date.now() / 1000),
): Promise<string> {
  const id = `${key.client_email}|${key.private_key_id ?? ''}|${audience}`;
  const cached = cache.get(id);
  if (cached && cached.expires - RENEW_BEFORE_SECONDS > now) return cached.token;
  const token = await signJwt(key, audience, now);
  cache.set(id, { token, expires: now + LIFETIME_SECONDS });
  return token;
}
