import { createRequire } from 'node:module';
import { errorMessage, SecretValue, secretNameProblem } from '../../providers/sdk/index.ts';
import type { SecretSource } from './secrets.ts';

const require = createRequire(import.meta.url);

/** The one call the source makes: the payload and resolved version of `projects/P/secrets/S/versions/V`. */
export interface SecretVersionReader {
  access(name: string): Promise<{ readonly data: string; readonly version: string }>;
}

/** Options of `secretManagerSource`. */
export interface SecretManagerSourceOptions {
  readonly project: string;
  readonly reader: SecretVersionReader;
  /** Pinned versions by secret name; the others read `latest`. Default none. */
  readonly versions?: Readonly<Record<string, string>>;
  /** Concurrent reads per pass. Default 8. */
  readonly concurrency?: number;
}

/** Secret Manager ids: letters, digits, `_` and `-` (no `.`), at most 255 characters. */
const SECRET_ID = /^[A-Za-z0-9_-]{1,255}$/;

/**
 * `secretRef` values from Google Secret Manager: each pass reads every name it needs once
 * (`prepare`), `latest` or the pinned version; `get` then answers from what was read. A name that
 * cannot be read is missing for the pass, with the reason (never a value) in `describe`.
 */
export function secretManagerSource(options: SecretManagerSourceOptions): SecretSource {
  const pins = options.versions ?? {};
  const limit = options.concurrency ?? 8;
  let values = new Map<string, { value: SecretValue; version: string }>();
  let problems = new Map<string, string>();
  let reported: Record<string, string> = {};
  let pending: Record<string, string> = {};
  const versionName = (name: string) =>
    `projects/${options.project}/secrets/${name}/versions/${pins[name] ?? 'latest'}`;
  return {
    async prepare(names, signal) {
      const nextValues = new Map<string, { value: SecretValue; version: string }>();
      const nextProblems = new Map<string, string>();
      const queue = [...names];
      const worker = async (): Promise<void> => {
        for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
          if (signal?.aborted) return;
          if (secretNameProblem(name) || !SECRET_ID.test(name)) {
            nextProblems.set(name, 'a Secret Manager secret id has only letters, digits, "_" and "-"');
            continue;
          }
          try {
            const read = await options.reader.access(versionName(name));
            nextValues.set(name, { value: new SecretValue(read.data, name), version: read.version });
          } catch (error) {
            nextProblems.set(name, errorMessage(error));
          }
        }
      };
      await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, queue.length)) }, worker));
      values = nextValues;
      problems = nextProblems;
      pending = Object.fromEntries([...nextValues].map(([name, v]) => [name, v.version]));
    },
    completed() {
      reported = pending;
    },
    versions() {
      return reported;
    },
    get(name) {
      return values.get(name)?.value;
    },
    describe(name) {
      const why = problems.get(name);
      return `Secret Manager secret ${versionName(name)}${why ? ` (${why})` : ''}`;
    },
  };
}

/**
 * A reader on Google's `@google-cloud/secret-manager` client in REST mode. With `GCP_API_ENDPOINT`
 * (and `GCP_ACCESS_TOKEN`) in `env` it talks to that endpoint (the GCP simulator); otherwise to
 * Google with Application Default Credentials.
 */
export function googleSecretVersionReader(env: Readonly<Record<string, string | undefined>>): SecretVersionReader {
  const { SecretManagerServiceClient } =
    require('@google-cloud/secret-manager') as typeof import('@google-cloud/secret-manager');
  const client = new SecretManagerServiceClient(
    googleClientOptions(env) as ConstructorParameters<typeof SecretManagerServiceClient>[0],
  );
  return {
    async access(name) {
      const [answer] = await client.accessSecretVersion({ name }, { timeout: 30_000 });
      const data = answer.payload?.data;
      const text =
        typeof data === 'string'
          ? Buffer.from(data, 'base64').toString('utf8')
          : Buffer.from(data ?? []).toString('utf8');
      const version =
        String(answer.name ?? '')
          .split('/')
          .pop() ?? '';
      return { data: text, version };
    },
  };
}

/** Options for any of Google's Node clients in REST mode, pointed at `GCP_API_ENDPOINT` when it is set. */
export function googleClientOptions(env: Readonly<Record<string, string | undefined>>): Record<string, unknown> {
  const endpoint = env.GCP_API_ENDPOINT;
  if (!endpoint) return { fallback: true };
  // Without this the auth library probes the cloud metadata server looking for credentials.
  process.env.METADATA_SERVER_DETECTION ??= 'none';
  const url = new URL(endpoint);
  const { OAuth2Client } = require('google-auth-library') as typeof import('google-auth-library');
  const authClient = new OAuth2Client();
  authClient.setCredentials({ access_token: env.GCP_ACCESS_TOKEN ?? '', expiry_date: Date.now() + 365 * 86_400_000 });
  return {
    fallback: true,
    apiEndpoint: url.hostname,
    port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
    protocol: url.protocol.replace(':', ''),
    authClient,
  };
}
