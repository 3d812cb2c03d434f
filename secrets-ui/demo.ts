import { join, resolve } from 'node:path';
import { startLocalSecretsUi } from './local-demo.ts';

/**
 * The Secrets UI alone, next to a keelson started otherwise (`keelson demo` starts it by itself),
 * all on this machine: a local OpenID provider (user `demo` is in secrets-admin, `guest` is not; any password), the
 * directory store on the demo's secrets directory, an in-memory audit trail, keelson at
 * http://127.0.0.1:8080 with webhook secret `demo`.
 */
const project = resolve(import.meta.dirname, '..');
const home = join(project, '.keelson', 'demo');
const secretsDir = process.env.KEELSON_SECRETS_DIR ?? join(home, 'secrets');
const ui = await startLocalSecretsUi({
  port: Number(process.env.SECRETS_UI_PORT ?? 3000),
  idpPort: Number(process.env.SECRETS_UI_IDP_PORT ?? 3001),
  secretsDir,
  desiredState: join(home, 'work', 'desired-state'),
  root: join(home, 'work'),
  keelsonUrl: process.env.KEELSON_URL ?? 'http://127.0.0.1:8080',
  webhookSecret: process.env.KEELSON_WEBHOOK_SECRET ?? 'demo',
});
process.stdout.write(
  `Secrets UI: ${ui.url} (sign in as "demo", any password; "guest" is refused)\n` +
    `  writes new values to ${secretsDir} and asks keelson to reconcile. Stop with Ctrl-C.\n`,
);
const stop = async () => {
  await ui.close();
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
