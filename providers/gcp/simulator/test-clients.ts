import { createRequire } from 'node:module';
import type { GcpSimulator } from './server.ts';

const require = createRequire(import.meta.url);

/** Options that point one of Google's Node clients (REST mode) at the simulator. */
export function clientOptions(sim: Pick<GcpSimulator, 'url' | 'env'>): {
  fallback: true;
  apiEndpoint: string;
  port: number;
  protocol: string;
  authClient: import('google-auth-library').OAuth2Client;
} {
  process.env.METADATA_SERVER_DETECTION = 'none';
  const { OAuth2Client } = require('google-auth-library') as typeof import('google-auth-library');
  const authClient = new OAuth2Client();
  authClient.setCredentials({ access_token: sim.env.GCP_ACCESS_TOKEN, expiry_date: Date.now() + 3_600_000 });
  const port = Number(new URL(sim.url).port);
  return { fallback: true as const, apiEndpoint: '127.0.0.1', port, protocol: 'http', authClient };
}

/** Google's clients, loaded with `require` (their ESM named exports throw). */
export const google = {
  pubsub: () => require('@google-cloud/pubsub') as typeof import('@google-cloud/pubsub'),
  scheduler: () => require('@google-cloud/scheduler') as typeof import('@google-cloud/scheduler'),
  functions: () => require('@google-cloud/functions') as typeof import('@google-cloud/functions'),
  run: () => require('@google-cloud/run') as typeof import('@google-cloud/run'),
  secretManager: () => require('@google-cloud/secret-manager') as typeof import('@google-cloud/secret-manager'),
  firestore: () => require('@google-cloud/firestore') as typeof import('@google-cloud/firestore'),
  serviceUsage: () => require('@google-cloud/service-usage') as typeof import('@google-cloud/service-usage'),
  resourceManager: () => require('@google-cloud/resource-manager') as typeof import('@google-cloud/resource-manager'),
};
