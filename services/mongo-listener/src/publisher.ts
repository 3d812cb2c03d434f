import { createRequire } from 'node:module';

/** One Pub/Sub message. */
export interface OutgoingMessage {
  readonly data: Buffer;
  readonly attributes: Record<string, string>;
  readonly orderingKey?: string;
}

/** Publishes and resolves once Pub/Sub acknowledged (with the message id). */
export interface Publisher {
  publish(message: OutgoingMessage): Promise<string>;
  close(): Promise<void>;
}

export interface PubSubSettings {
  readonly projectId: string;
  readonly topic: string;
  /** `http://host:port` of a Pub/Sub-compatible endpoint (the GCP simulator); unset: Google, gRPC. */
  readonly apiEndpoint?: string;
  /** Bearer token for `apiEndpoint`. */
  readonly accessToken?: string;
  /** Per-publish timeout, ms. */
  readonly timeoutMs: number;
}

const require = createRequire(import.meta.url);

/**
 * The official `@google-cloud/pubsub` client (its ESM named exports throw: loaded with require).
 * Against Google it uses gRPC and Application Default Credentials; against another endpoint,
 * REST mode with the given bearer token (the rig's measured setup). Ordering is on: a message with
 * an ordering key is delivered after the earlier ones with the same key; a failed publish pauses
 * the key until `resumePublishing`, which the publisher does before the caller retries.
 */
export function pubsubPublisher(settings: PubSubSettings): Publisher {
  const { PubSub } = require('@google-cloud/pubsub') as typeof import('@google-cloud/pubsub');
  let options: Record<string, unknown> = { projectId: settings.projectId };
  if (settings.apiEndpoint) {
    const { OAuth2Client } = require('google-auth-library') as typeof import('google-auth-library');
    const authClient = new OAuth2Client();
    authClient.setCredentials({
      access_token: settings.accessToken ?? 'none',
      expiry_date: Date.now() + 10 * 365 * 86_400_000,
    });
    const url = new URL(settings.apiEndpoint);
    options = {
      ...options,
      fallback: true,
      apiEndpoint: `${url.hostname}:${url.port}`,
      protocol: url.protocol.replace(':', ''),
      authClient,
    };
  }
  const client = new PubSub(options);
  const topic = client.topic(settings.topic, {
    messageOrdering: true,
    batching: { maxMessages: 1, maxMilliseconds: 10 },
    gaxOpts: { timeout: settings.timeoutMs },
  });
  return {
    async publish(message) {
      try {
        return await topic.publishMessage({
          data: message.data,
          attributes: message.attributes,
          ...(message.orderingKey ? { orderingKey: message.orderingKey } : {}),
        });
      } catch (err) {
        if (message.orderingKey) topic.resumePublishing(message.orderingKey);
        throw err;
      }
    },
    async close() {
      await topic.flush().catch(() => undefined);
      await client.close();
    },
  };
}
