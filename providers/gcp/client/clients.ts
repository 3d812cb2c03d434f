import { createRequire } from 'node:module';
import type { GcpConfig } from './config.ts';

/**
 * Google's official Node clients, each built on first use (loading all of them costs about 0.4 s
 * and 110 MB, and a tree that uses only Pub/Sub needs one). All run in REST mode (`fallback: true`):
 * against `GCP_API_ENDPOINT` over plain http when it is set, else against Google over https.
 *
 * The clients are typed loosely here (`GapicClient`): keelson calls a handful of methods on each and
 * checks the answers itself. ESM named imports of these packages throw, so they are `require`d.
 */
const require = createRequire(import.meta.url);

/** A generated client: methods answer `[response, request, raw]`; LROs answer an operation first. */
// biome-ignore lint/suspicious/noExplicitAny: the generated clients' types are not worth importing here
export type GapicClient = Record<string, any>;

/** The minimal auth client keelson needs: request headers for a URL. */
export interface AuthHeaders {
  getRequestHeaders(url?: string): Promise<Headers | Record<string, string>>;
}

const OAUTH_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

export class GcpClients {
  readonly #config: GcpConfig;
  readonly #cache = new Map<string, GapicClient>();
  // biome-ignore lint/suspicious/noExplicitAny: an OAuth2Client or a GoogleAuth, both from google-auth-library
  #auth: any;

  constructor(config: GcpConfig) {
    this.#config = config;
    if (config.endpoint || config.credentials.type !== 'adc') {
      // Never probe the metadata server (169.254.169.254) when an endpoint or a credential is given.
      process.env.METADATA_SERVER_DETECTION ??= 'none';
    }
  }

  /** The one credential every client shares (and the REST calls without a client). */
  // biome-ignore lint/suspicious/noExplicitAny: see #auth
  auth(): any {
    if (this.#auth) return this.#auth;
    const { OAuth2Client, GoogleAuth } = require('google-auth-library');
    const creds = this.#config.credentials;
    if (creds.type === 'token') {
      const client = new OAuth2Client();
      // A static token: far-future expiry, so the library never tries to refresh it.
      client.setCredentials({ access_token: creds.token.reveal(), expiry_date: Date.now() + 10 * 365 * 86_400_000 });
      this.#auth = client;
    } else if (creds.type === 'keyFile') {
      this.#auth = new GoogleAuth({ keyFile: creds.keyFile, scopes: [OAUTH_SCOPE] });
    } else {
      this.#auth = new GoogleAuth({ scopes: [OAUTH_SCOPE] });
    }
    return this.#auth;
  }

  /** Authorization headers for a hand-made REST call (IAM service accounts have no Node client). */
  async headers(url: string): Promise<Record<string, string>> {
    const auth = this.auth();
    const client: AuthHeaders = typeof auth.getClient === 'function' ? await auth.getClient() : auth;
    const h = await client.getRequestHeaders(url);
    return h instanceof Headers ? Object.fromEntries(h.entries()) : { ...h };
  }

  /** Base URL of a Google API for hand-made calls: the endpoint override, or `https://<host>`. */
  baseUrl(host: string): string {
    const e = this.#config.endpoint;
    return e ? `${e.protocol}//${e.host}` : `https://${host}`;
  }

  #options(): Record<string, unknown> {
    const auth = this.auth();
    const common: Record<string, unknown> = { fallback: true, projectId: this.#config.projectId };
    if (this.#config.credentials.type === 'token') common.authClient = auth;
    else common.auth = auth;
    const e = this.#config.endpoint;
    if (e) {
      common.apiEndpoint = e.hostname;
      common.port = Number(e.port || (e.protocol === 'https:' ? 443 : 80));
      common.protocol = e.protocol.replace(':', '');
    }
    return common;
  }

  #get(name: string, make: (options: Record<string, unknown>) => GapicClient): GapicClient {
    let client = this.#cache.get(name);
    if (!client) {
      client = make(this.#options());
      this.#cache.set(name, client);
    }
    return client;
  }

  publisher(): GapicClient {
    return this.#get('publisher', (o) => new (require('@google-cloud/pubsub').v1.PublisherClient)(o));
  }
  subscriber(): GapicClient {
    return this.#get('subscriber', (o) => new (require('@google-cloud/pubsub').v1.SubscriberClient)(o));
  }
  scheduler(): GapicClient {
    return this.#get('scheduler', (o) => new (require('@google-cloud/scheduler').v1.CloudSchedulerClient)(o));
  }
  functions(): GapicClient {
    return this.#get('functions', (o) => new (require('@google-cloud/functions').v2.FunctionServiceClient)(o));
  }
  run(): GapicClient {
    return this.#get('run', (o) => new (require('@google-cloud/run').v2.ServicesClient)(o));
  }
  secrets(): GapicClient {
    return this.#get('secrets', (o) => new (require('@google-cloud/secret-manager').v1.SecretManagerServiceClient)(o));
  }
  firestoreAdmin(): GapicClient {
    return this.#get('firestore', (o) => new (require('@google-cloud/firestore').v1.FirestoreAdminClient)(o));
  }
  serviceUsage(): GapicClient {
    return this.#get('serviceUsage', (o) => new (require('@google-cloud/service-usage').v1.ServiceUsageClient)(o));
  }

  async close(): Promise<void> {
    for (const client of this.#cache.values()) await client.close?.().catch(() => {});
    this.#cache.clear();
  }
}
