import { createHash, randomBytes } from 'node:crypto';
import { EncryptJWT, jwtDecrypt } from 'jose';

/** A signed-in person, kept encrypted in the session cookie (nothing about them is stored server-side). */
export interface Session {
  readonly sub: string;
  readonly name: string;
  /** Access token for the userinfo call that re-checks group membership on every request. */
  readonly accessToken: string;
  /** For a new access token when the old one expired; absent when the provider issued none. */
  readonly refreshToken?: string;
  /** Per-session CSRF token, put in every form. */
  readonly csrf: string;
}

/** The OpenID login in progress (PKCE verifier, state, nonce), for the callback. */
export interface LoginTransaction {
  readonly verifier: string;
  readonly state: string;
  readonly nonce: string;
}

/**
 * Cookies sealed with AES-256-GCM (JWE `dir`): the browser cannot read or change them. The key is
 * derived from `SECRETS_UI_SESSION_SECRET`, so changing that secret signs everyone out.
 */
export class CookieSealer {
  readonly #key: Uint8Array;

  constructor(secret: string) {
    if (secret.length < 32) throw new TypeError('SECRETS_UI_SESSION_SECRET must have at least 32 characters');
    this.#key = createHash('sha256').update(`keelson-secrets-ui:${secret}`).digest();
  }

  async seal(payload: Record<string, string>, purpose: string, ttlSeconds: number): Promise<string> {
    return new EncryptJWT({ ...payload, purpose })
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
      .setIssuedAt()
      .setExpirationTime(`${ttlSeconds}s`)
      .encrypt(this.#key);
  }

  /** The payload, or undefined when the cookie is missing, forged, expired or meant for something else. */
  async open(token: string | undefined, purpose: string): Promise<Record<string, unknown> | undefined> {
    if (!token) return undefined;
    try {
      const { payload } = await jwtDecrypt(token, this.#key);
      return payload.purpose === purpose ? payload : undefined;
    } catch {
      return undefined;
    }
  }
}

export function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Cookie names with the `__Host-` prefix: Secure, Path=/, no Domain, so no sibling host can set them. */
export const SESSION_COOKIE = '__Host-secrets-ui-session';
export const LOGIN_COOKIE = '__Host-secrets-ui-login';

export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
  }
  return out;
}

export function cookie(name: string, value: string, options: { maxAge: number; sameSite: 'Strict' | 'Lax' }): string {
  return `${name}=${value}; Path=/; Max-Age=${options.maxAge}; HttpOnly; Secure; SameSite=${options.sameSite}`;
}
