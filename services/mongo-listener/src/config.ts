import { readFileSync } from 'node:fs';

/** The listener's settings, from the environment (`*_FILE` variants read Swarm secrets). */
export interface ListenerConfig {
  readonly mongoUrl: string;
  /** Credentials kept out of the URL (the password from a Swarm secret). */
  readonly mongoUsername: string | undefined;
  readonly mongoPassword: string | undefined;
  readonly database: string;
  readonly collection: string;
  readonly projectId: string;
  readonly topic: string;
  readonly pubsubEndpoint: string | undefined;
  readonly pubsubAccessToken: string | undefined;
  readonly checkpointPath: string;
  readonly httpPort: number;
  readonly alertWebhookUrl: string | undefined;
  readonly skipUsers: string[];
  readonly publishTimeoutMs: number;
}

function value(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const file = env[`${name}_FILE`];
  if (file) return readFileSync(file, 'utf8').trim();
  return env[name] || undefined;
}

/** Reads the configuration; every missing setting is named at once, no value is ever echoed. */
export function loadConfig(env: NodeJS.ProcessEnv): ListenerConfig {
  const problems: string[] = [];
  const need = (name: string, what: string) => {
    const v = value(env, name);
    if (!v) problems.push(`${name} (or ${name}_FILE) is not set: ${what}`);
    return v ?? '';
  };
  const config: ListenerConfig = {
    mongoUrl: need(
      'MONGO_URL',
      'the replica set URL, e.g. mongodb://mongo1:27017,mongo2:27017,mongo3:27017/?replicaSet=rs0&authSource=admin',
    ),
    mongoUsername: env.MONGO_USERNAME || undefined,
    mongoPassword: value(env, 'MONGO_PASSWORD'),
    database: env.MONGO_DB || 'rocketchat',
    collection: env.MONGO_COLLECTION || 'rocketchat_message',
    projectId: need('GCP_PROJECT_ID', 'the Google Cloud project of the topic'),
    topic: env.PUBSUB_TOPIC || 'rocketchat-messages',
    pubsubEndpoint: env.GCP_API_ENDPOINT || undefined,
    pubsubAccessToken: value(env, 'GCP_ACCESS_TOKEN'),
    checkpointPath: env.CHECKPOINT_PATH || '/var/lib/mongo-listener/checkpoint.json',
    httpPort: Number(env.HTTP_PORT || 9464),
    alertWebhookUrl: value(env, 'ALERT_WEBHOOK_URL'),
    skipUsers: (env.SKIP_USERS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    publishTimeoutMs: Number(env.PUBLISH_TIMEOUT_MS || 30_000),
  };
  if (!Number.isInteger(config.httpPort) || config.httpPort < 0) problems.push('HTTP_PORT must be a port number');
  if (problems.length > 0) throw new Error(`mongo-listener: configuration: ${problems.join('; ')}`);
  return config;
}
