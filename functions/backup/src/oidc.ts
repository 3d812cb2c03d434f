import { createRemoteJWKSet, type JWTVerifyGetKey, jwtVerify } from 'jose';
import type { Clock } from './clock.ts';

/** Google signs OIDC tokens with either spelling of its issuer. */
const GOOGLE_ISSUERS = ['https://accounts.google.com', 'accounts.google.com'];

export class Unauthorized extends Error {}

/** Verifies the Cloud Scheduler's OIDC token: signature (JWKS), issuer, audience, expiry, service account. */
export class SchedulerTokenVerifier {
  readonly #keys: JWTVerifyGetKey;
  readonly #audience: string;
  readonly #serviceAccount: string;
  readonly #clock: Clock;

  constructor(options: { jwksUrl: string; audience: string; serviceAccount: string; clock: Clock }) {
    this.#keys = createRemoteJWKSet(new URL(options.jwksUrl));
    this.#audience = options.audience;
    this.#serviceAccount = options.serviceAccount;
    this.#clock = options.clock;
  }

  /** Returns the caller's email; throws `Unauthorized` with the reason (never the token). */
  async verify(authorization: string | undefined): Promise<string> {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (!match?.[1]) throw new Unauthorized('no bearer token');
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(match[1], this.#keys, {
        issuer: GOOGLE_ISSUERS,
        audience: this.#audience,
        algorithms: ['RS256'],
        currentDate: this.#clock(),
      }));
    } catch (e) {
      throw new Unauthorized(`token rejected: ${(e as Error).message}`);
    }
    if (payload.email !== this.#serviceAccount) {
      throw new Unauthorized(
        `token is for ${String(payload.email ?? 'no email')}, not the scheduler's service account`,
      );
    }
    if (payload.email_verified === false) throw new Unauthorized('token email is not verified');
    return this.#serviceAccount;
  }
}
