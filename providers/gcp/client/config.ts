import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { SecretValue } from '../../sdk/index.ts';

/** Where and as whom the Google Cloud provider works. Built from the environment by `readGcpConfig`. */
export interface GcpConfig {
  /** `GCP_PROJECT_ID`: the project every resource lives in. */
  readonly projectId: string;
  /** `GCP_REGION`: default location of Scheduler jobs, functions and Run services. */
  readonly region: string;
  /**
   * `GCP_API_ENDPOINT` (e.g. the simulator's `http://127.0.0.1:PORT`): every client talks REST to
   * this one base URL. Unset: each client uses Google's own endpoint over https.
   */
  readonly endpoint?: URL;
  /** How requests are authorised. Never logged. */
  readonly credentials: GcpCredentials;
  /** Root that `gcp.Function` source folders are resolved against (the checkout). */
  readonly root: string;
}

export type GcpCredentials =
  /** `GCP_ACCESS_TOKEN`: a static bearer token (the simulator's). */
  | { readonly type: 'token'; readonly token: SecretValue }
  /** `GOOGLE_APPLICATION_CREDENTIALS`: a service account key file (or a workload identity federation config). */
  | { readonly type: 'keyFile'; readonly keyFile: string }
  /** Application Default Credentials (gcloud's, or the metadata server's on Google Cloud). */
  | { readonly type: 'adc' };

export const DEFAULT_REGION = 'europe-west3';

/** Reads the configuration, or says in one sentence why the provider cannot run here. */
export function readGcpConfig(env: Readonly<Record<string, string | undefined>>): GcpConfig | { unavailable: string } {
  const projectId = env.GCP_PROJECT_ID;
  if (!projectId) return { unavailable: 'GCP_PROJECT_ID is not set' };
  let endpoint: URL | undefined;
  if (env.GCP_API_ENDPOINT) {
    try {
      endpoint = new URL(env.GCP_API_ENDPOINT);
    } catch {
      return {
        unavailable: `GCP_API_ENDPOINT ${env.GCP_API_ENDPOINT} is not a URL (write e.g. http://127.0.0.1:8085)`,
      };
    }
  }
  let credentials: GcpCredentials;
  if (env.GCP_ACCESS_TOKEN) {
    credentials = { type: 'token', token: new SecretValue(env.GCP_ACCESS_TOKEN, 'GCP_ACCESS_TOKEN') };
  } else if (env.GOOGLE_APPLICATION_CREDENTIALS) {
    if (!existsSync(env.GOOGLE_APPLICATION_CREDENTIALS)) {
      return { unavailable: `GOOGLE_APPLICATION_CREDENTIALS ${env.GOOGLE_APPLICATION_CREDENTIALS} does not exist` };
    }
    credentials = { type: 'keyFile', keyFile: env.GOOGLE_APPLICATION_CREDENTIALS };
  } else {
    credentials = { type: 'adc' };
  }
  return {
    projectId,
    region: env.GCP_REGION || DEFAULT_REGION,
    ...(endpoint ? { endpoint } : {}),
    credentials,
    root: resolve(env.KEELSON_REPO_ROOT || env.KEELSON_CHECKOUT_DIR || process.cwd()),
  };
}
