import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { buildSecretsUi } from './app.ts';
import { MemoryAuditTrail } from './audit.ts';
import { readInventory } from './inventory.ts';
import { KeelsonClient } from './keelson-client.ts';
import { startIdentityProvider } from './local-idp.ts';
import { OidcClient } from './oidc.ts';
import { DirectoryStore } from './secret-store.ts';

export interface LocalSecretsUiOptions {
  /** The UI's port on 127.0.0.1 (its URL is http://localhost:PORT, what the cookies and OIDC redirect use). */
  readonly port: number;
  /** The local OpenID provider's port. */
  readonly idpPort: number;
  /** keelson's secrets directory (its `KEELSON_SECRETS_DIR`): the UI writes new values there. */
  readonly secretsDir: string;
  /** The desired state the inventory is read from, and the repository root it sits in. */
  readonly desiredState: string;
  readonly root: string;
  /** keelson's HTTP address and webhook secret (`KEELSON_WEBHOOK_SECRET`). */
  readonly keelsonUrl: string;
  readonly webhookSecret: string;
}

export interface LocalSecretsUi {
  /** `http://localhost:PORT/` */
  readonly url: string;
  /** The local OpenID provider's issuer URL. */
  readonly issuer: string;
  close(): Promise<void>;
}

/**
 * The Secrets UI with everything it needs on this machine (what `keelson demo` and
 * `node secrets-ui/demo.ts` start): a local OpenID provider (user `demo` is in secrets-admin,
 * `guest` is not; any password), the directory store on keelson's secrets directory, an in-memory
 * audit trail, and keelson's status and webhook at `keelsonUrl`.
 */
export async function startLocalSecretsUi(options: LocalSecretsUiOptions): Promise<LocalSecretsUi> {
  const publicUrl = `http://localhost:${options.port}`;
  mkdirSync(options.secretsDir, { recursive: true, mode: 0o700 });
  const clientSecret = randomBytes(24).toString('hex');
  const idp = await startIdentityProvider({
    users: new Map([
      ['demo', { groups: ['secrets-admin'] }],
      ['guest', { groups: ['staff'] }],
    ]),
    redirectUri: `${publicUrl}/auth/callback`,
    clientId: 'secrets-ui',
    clientSecret,
    port: options.idpPort,
  });
  try {
    const app = buildSecretsUi({
      publicUrl,
      sessionSecret: randomBytes(32).toString('hex'),
      oidc: new OidcClient({
        issuer: idp.issuer,
        clientId: 'secrets-ui',
        clientSecret,
        redirectUri: `${publicUrl}/auth/callback`,
        group: 'secrets-admin',
      }),
      store: new DirectoryStore(options.secretsDir),
      audit: new MemoryAuditTrail(),
      keelson: new KeelsonClient(options.keelsonUrl, options.webhookSecret),
      inventory: () => readInventory(options.desiredState, options.root),
    });
    await app.listen({ host: '127.0.0.1', port: options.port });
    return {
      url: `${publicUrl}/`,
      issuer: idp.issuer,
      close: async () => {
        await app.close();
        await idp.close();
      },
    };
  } catch (error) {
    await idp.close();
    throw error;
  }
}
