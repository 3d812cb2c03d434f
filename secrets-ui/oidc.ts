import * as client from 'openid-client';
import type { LoginTransaction } from './session.ts';

/** Settings of the identity provider (Keycloak realm) and this application's client there. */
export interface OidcSettings {
  /** e.g. `https://sso.example.com/realms/company`. */
  readonly issuer: string;
  readonly clientId: string;
  /** Confidential client secret; omitted for a public client (PKCE only). */
  readonly clientSecret?: string;
  /** `https://secrets.example.com/auth/callback`. */
  readonly redirectUri: string;
  /** Only members of this group get in (Keycloak's `/secrets-admin` path form is accepted). */
  readonly group: string;
}

/** Who the provider says the person is, and whether they are in the group. */
export interface Identity {
  readonly sub: string;
  readonly name: string;
  readonly member: boolean;
}

/**
 * OpenID Connect with PKCE through `openid-client` (discovery, code flow, ID token and nonce checks,
 * userinfo). Plain http is allowed only for a loopback issuer (tests and the demo).
 */
export class OidcClient {
  readonly settings: OidcSettings;
  #config: Promise<client.Configuration> | undefined;

  constructor(settings: OidcSettings) {
    this.settings = settings;
  }

  #configuration(): Promise<client.Configuration> {
    this.#config ??= (async () => {
      const url = new URL(this.settings.issuer);
      const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
      if (url.protocol !== 'https:' && !loopback)
        throw new Error(`the OpenID issuer ${url.origin} must use https (plain http only on loopback)`);
      return client.discovery(
        url,
        this.settings.clientId,
        this.settings.clientSecret,
        this.settings.clientSecret ? undefined : client.None(),
        url.protocol === 'http:' ? { execute: [client.allowInsecureRequests] } : undefined,
      );
    })().catch((error) => {
      this.#config = undefined;
      throw error;
    });
    return this.#config;
  }

  /** Where to send the browser, and what the callback needs to finish. */
  async start(): Promise<{ url: string; transaction: LoginTransaction }> {
    const config = await this.#configuration();
    const verifier = client.randomPKCECodeVerifier();
    const transaction = { verifier, state: client.randomState(), nonce: client.randomNonce() };
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: this.settings.redirectUri,
      scope: 'openid profile email groups',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: transaction.state,
      nonce: transaction.nonce,
    });
    return { url: url.href, transaction };
  }

  /** Exchanges the code (state, nonce and PKCE checked by the library) and reads the groups. */
  async finish(
    callbackUrl: URL,
    transaction: LoginTransaction,
  ): Promise<{ identity: Identity; accessToken: string; refreshToken?: string }> {
    const config = await this.#configuration();
    const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier: transaction.verifier,
      expectedState: transaction.state,
      expectedNonce: transaction.nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims();
    if (!claims) throw new Error('the provider sent no ID token');
    const identity = await this.identity(tokens.access_token, claims.sub);
    return {
      identity,
      accessToken: tokens.access_token,
      ...(tokens.refresh_token ? { refreshToken: tokens.refresh_token } : {}),
    };
  }

  /**
   * New tokens for an expired access token (Keycloak's live 5 minutes by default). Fails when the
   * session was ended at the provider, which then signs the person out here too.
   */
  async refresh(refreshToken: string): Promise<{ accessToken: string; refreshToken?: string }> {
    const config = await this.#configuration();
    const tokens = await client.refreshTokenGrant(config, refreshToken);
    return {
      accessToken: tokens.access_token,
      ...(tokens.refresh_token ? { refreshToken: tokens.refresh_token } : {}),
    };
  }

  /**
   * Asks the provider again who holds this access token and whether they are in the group (the
   * groups claim is at userinfo, where Keycloak and oidc-provider put it by default). Called on
   * every request, so removing someone from the group or ending their session takes effect at once.
   */
  async identity(accessToken: string, sub: string): Promise<Identity> {
    const config = await this.#configuration();
    const info = await client.fetchUserInfo(config, accessToken, sub);
    const groups = Array.isArray(info.groups) ? info.groups.map((g) => String(g).replace(/^\//, '')) : [];
    const name = String(info.preferred_username ?? info.email ?? info.name ?? sub);
    return { sub, name, member: groups.includes(this.settings.group.replace(/^\//, '')) };
  }
}
