import type { webcrypto } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from 'jose';
import type { GcpState } from './state.ts';

/** Google's ID-token issuer, which the simulator's tokens carry too. */
export const GOOGLE_ISSUER = 'https://accounts.google.com';

/**
 * The simulator's OIDC signer: RS256 ID tokens like the ones Google mints for Scheduler jobs and
 * Pub/Sub pushes, verifiable with the JWKS at `/oauth2/v3/certs`. The key is kept in the state, so
 * tokens verify across restarts.
 */
export class OidcSigner {
  readonly #key: webcrypto.CryptoKey;
  readonly #publicJwk: JWK;

  private constructor(key: webcrypto.CryptoKey, publicJwk: JWK) {
    this.#key = key;
    this.#publicJwk = publicJwk;
  }

  static async load(state: GcpState): Promise<OidcSigner> {
    let jwk = state.data.signingKey as JWK | undefined;
    if (!jwk) {
      const pair = await generateKeyPair('RS256', { extractable: true });
      jwk = await exportJWK(pair.privateKey);
      jwk.kid = await calculateJwkThumbprint(jwk);
      state.data.signingKey = jwk as Record<string, unknown>;
      state.changed();
    }
    const key = (await importJWK(jwk, 'RS256')) as webcrypto.CryptoKey;
    const { kty, n, e, kid } = jwk;
    return new OidcSigner(key, { kty, n, e, kid, alg: 'RS256', use: 'sig' });
  }

  /** The JWKS document. */
  jwks(): { keys: JWK[] } {
    return { keys: [this.#publicJwk] };
  }

  /**
   * An ID token for `email` with audience `audience`. Times are wall-clock (not the simulator's
   * clock): the receiver verifies them against its own clock.
   */
  async idToken(email: string, audience: string, subject?: string): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ email, email_verified: true, azp: subject ?? email })
      .setProtectedHeader({ alg: 'RS256', kid: this.#publicJwk.kid!, typ: 'JWT' })
      .setIssuer(GOOGLE_ISSUER)
      .setAudience(audience)
      .setSubject(subject ?? email)
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(this.#key);
  }
}
