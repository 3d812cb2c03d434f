import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';

/** oidc-provider ships no types; this is the part used here. */
type ProviderClass = new (
  issuer: string,
  config: Record<string, unknown>,
) => {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  on(event: string, listener: (...args: never[]) => void): void;
};
const Provider = (createRequire(import.meta.url)('oidc-provider') as { default: ProviderClass }).default;

/** People of the stand-in Keycloak realm: their groups can change while they are signed in. */
export type Users = Map<string, { groups: string[] }>;

/**
 * The certified `oidc-provider` on loopback standing in for Keycloak (tests and the local demo;
 * `oidc-provider` is a development dependency of the repository, never deployed): code flow with PKCE required,
 * a confidential client, `groups` at userinfo only (its default, as Keycloak's mapper can be),
 * development login pages (any password) for the browser to fill in.
 */
export async function startIdentityProvider(options: {
  readonly users: Users;
  readonly redirectUri: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Default 0 (any free port). */
  readonly port?: number;
}): Promise<{ issuer: string; close(): Promise<void> }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: options.clientId,
        client_secret: options.clientSecret,
        redirect_uris: [options.redirectUri],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
      },
    ],
    scopes: ['openid', 'profile', 'email', 'groups'],
    claims: { openid: ['sub'], profile: ['preferred_username', 'name'], email: ['email'], groups: ['groups'] },
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true }, revocation: { enabled: true } },
    // Like Keycloak's standard flow: a refresh token with every code exchange.
    issueRefreshToken: async (_ctx: unknown, client: { grantTypeAllowed(type: string): boolean }) =>
      client.grantTypeAllowed('refresh_token'),
    cookies: { keys: ['secrets-ui-test-cookie-key'] },
    async findAccount(_ctx: unknown, sub: string) {
      const user = options.users.get(sub);
      if (!user) return undefined;
      return {
        accountId: sub,
        async claims() {
          return { sub, preferred_username: sub, email: `${sub}@example.com`, groups: [...user.groups] };
        },
      };
    },
  });
  // The reason behind an `invalid_grant` is only in the provider's event, not in its answer.
  provider.on('grant.error', (_ctx: unknown, error: { error_detail?: string; message: string }) =>
    process.stderr.write(`local identity provider: grant refused: ${error.error_detail ?? error.message}\n`),
  );
  server.on('request', provider.callback());
  return {
    issuer,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
