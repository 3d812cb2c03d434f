import { resolve } from 'node:path';
import { buildSecretsUi } from './app.ts';
import { FirestoreAuditTrail, MemoryAuditTrail } from './audit.ts';
import { readInventory } from './inventory.ts';
import { KeelsonClient } from './keelson-client.ts';
import { OidcClient } from './oidc.ts';
import { DirectoryStore, SecretManagerStore } from './secret-store.ts';

/**
 * The Secrets UI from its environment (the variables are listed in README.md). Run locally with
 * `node secrets-ui/server.ts`; on Vercel this file is the Fastify entry point.
 */
export function secretsUiFromEnv(env: Readonly<Record<string, string | undefined>> = process.env) {
  const need = (name: string): string => {
    const v = env[name];
    if (!v) throw new Error(`${name} is not set (see secrets-ui/README.md)`);
    return v;
  };
  const publicUrl = need('SECRETS_UI_PUBLIC_URL');
  const project = env.SECRETS_UI_GCP_PROJECT ?? env.GCP_PROJECT_ID;
  const store =
    env.SECRETS_UI_STORE === 'directory'
      ? new DirectoryStore(resolve(need('SECRETS_UI_SECRETS_DIR')))
      : new SecretManagerStore(project ?? need('SECRETS_UI_GCP_PROJECT'), env);
  const audit =
    env.SECRETS_UI_AUDIT === 'memory'
      ? new MemoryAuditTrail()
      : FirestoreAuditTrail.connect(project ?? need('SECRETS_UI_GCP_PROJECT'), env, env.SECRETS_UI_AUDIT_COLLECTION);
  const desired = resolve(need('SECRETS_UI_DESIRED_STATE'));
  return buildSecretsUi({
    publicUrl,
    sessionSecret: need('SECRETS_UI_SESSION_SECRET'),
    oidc: new OidcClient({
      issuer: need('SECRETS_UI_OIDC_ISSUER'),
      clientId: need('SECRETS_UI_OIDC_CLIENT_ID'),
      ...(env.SECRETS_UI_OIDC_CLIENT_SECRET ? { clientSecret: env.SECRETS_UI_OIDC_CLIENT_SECRET } : {}),
      redirectUri: `${publicUrl.replace(/\/$/, '')}/auth/callback`,
      group: env.SECRETS_UI_GROUP ?? 'secrets-admin',
    }),
    store,
    audit,
    keelson: new KeelsonClient(need('SECRETS_UI_KEELSON_URL'), need('SECRETS_UI_KEELSON_WEBHOOK_SECRET')),
    inventory: () => readInventory(desired),
  });
}

if (import.meta.main) {
  const app = secretsUiFromEnv();
  const port = Number(process.env.PORT ?? 3000);
  app.listen({ host: process.env.HOST ?? '127.0.0.1', port }).then(
    (address) => process.stdout.write(`${JSON.stringify({ event: 'listening', address })}\n`),
    (error: Error) => {
      process.stderr.write(`secrets-ui cannot start: ${error.message}\n`);
      process.exit(1);
    },
  );
}
