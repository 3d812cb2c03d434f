import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildSecretsUi } from './app.ts';
import { MemoryAuditTrail } from './audit.ts';
import { readInventory } from './inventory.ts';
import { KeelsonClient } from './keelson-client.ts';
import { startIdentityProvider } from './local-idp.ts';
import { OidcClient } from './oidc.ts';
import { DirectoryStore } from './secret-store.ts';

/**
 * The Secrets UI next to `keelson demo`, all on this machine: a local OpenID provider (user `demo`
 * is in secrets-admin, `guest` is not; any password), the directory store on the demo's secrets
 * directory, an in-memory audit trail, keelson at http://127.0.0.1:8080 with webhook secret `demo`.
 * Run `npm run keelson -- demo` first, then `node secrets-ui/demo.ts`, and open the printed URL.
 */
const project = resolve(import.meta.dirname, '..');
const home = join(project, '.keelson', 'demo');
const port = Number(process.env.SECRETS_UI_PORT ?? 3000);
const publicUrl = `http://localhost:${port}`;
const secretsDir = process.env.KEELSON_SECRETS_DIR ?? join(home, 'secrets');
mkdirSync(secretsDir, { recursive: true, mode: 0o700 });
const clientSecret = randomBytes(24).toString('hex');
const idp = await startIdentityProvider({
  users: new Map([
    ['demo', { groups: ['secrets-admin'] }],
    ['guest', { groups: ['staff'] }],
  ]),
  redirectUri: `${publicUrl}/auth/callback`,
  clientId: 'secrets-ui',
  clientSecret,
  port: Number(process.env.SECRETS_UI_IDP_PORT ?? 3001),
});
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
  store: new DirectoryStore(secretsDir),
  audit: new MemoryAuditTrail(),
  keelson: new KeelsonClient(
    process.env.KEELSON_URL ?? 'http://127.0.0.1:8080',
    process.env.KEELSON_WEBHOOK_SECRET ?? 'demo',
  ),
  inventory: () => readInventory(join(home, 'work', 'desired-state'), join(home, 'work')),
});
await app.listen({ host: '127.0.0.1', port });
process.stdout.write(
  `Secrets UI: ${publicUrl}/ (sign in as "demo", any password; "guest" is refused)\n` +
    `  writes new values to ${secretsDir} and asks keelson to reconcile. Stop with Ctrl-C.\n`,
);
const stop = async () => {
  await app.close();
  await idp.close();
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
