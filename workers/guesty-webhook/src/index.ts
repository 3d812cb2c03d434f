import { upsertDocument } from '../../shared/firestore-rest.ts';
import { json } from '../../shared/verify.ts';
import { verifySvix } from './svix.ts';

/** Bindings, set by keelson from `desired-state/cloudflare/workers.yaml`. */
export interface Env {
  /** Secret: the `whsec_...` signing secret of the Guesty webhook endpoint. */
  readonly GUESTY_WEBHOOK_SECRET: string;
  /** Secret: OAuth access token for Firestore's REST API. */
  readonly FIRESTORE_TOKEN?: string;
  readonly GCP_PROJECT: string;
  /** Default https://firestore.googleapis.com. */
  readonly FIRESTORE_URL?: string;
  /** Default `guesty-events`. */
  readonly FIRESTORE_COLLECTION?: string;
}

/** Guesty event names this Worker stores (reservations and listings feed the knowledge base). */
const STORED_EVENTS = /^(reservation|listing|guest|conversation)\./;

function target(env: Env) {
  return {
    projectId: env.GCP_PROJECT,
    ...(env.FIRESTORE_URL ? { baseUrl: env.FIRESTORE_URL } : {}),
    ...(env.FIRESTORE_TOKEN ? { accessToken: env.FIRESTORE_TOKEN } : {}),
  };
}

/**
 * Guesty webhook: verifies the Svix signature, keeps reservation/listing/guest/conversation events,
 * stores each under its message id (retries overwrite, never duplicate). A cron run writes a
 * heartbeat so monitoring can tell the Worker is deployed and can reach Firestore.
 */
export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    if (request.method !== 'POST') return json(405, { error: 'only POST is accepted' });
    const body = await request.text();
    const verdict = await verifySvix(
      env.GUESTY_WEBHOOK_SECRET,
      {
        id: request.headers.get('svix-id'),
        timestamp: request.headers.get('svix-timestamp'),
        signature: request.headers.get('svix-signature'),
      },
      body,
      Math.floor(Date.now() / 1000),
    );
    if (verdict !== 'ok') return json(401, { error: `signature check failed: ${verdict}` });
    let event: { event?: unknown } & Record<string, unknown>;
    try {
      event = JSON.parse(body) as typeof event;
    } catch {
      return json(400, { error: 'body is not JSON' });
    }
    if (typeof event.event !== 'string') return json(400, { error: 'event name is missing' });
    // Acknowledge what is not stored, so Guesty does not retry it forever.
    if (!STORED_EVENTS.test(event.event)) return json(202, { ignored: event.event });
    const id = request.headers.get('svix-id') as string;
    const { event: name, ...payload } = event;
    const written = await upsertDocument(target(env), env.FIRESTORE_COLLECTION ?? 'guesty-events', id, {
      source: 'guesty',
      event: name,
      receivedAt: new Date(),
      payload,
    });
    if (!written.ok) return json(502, { error: `Firestore answered ${written.status}` });
    return json(200, { stored: id });
  },

  async scheduled(controller: { readonly cron: string; readonly scheduledTime: number }, env: Env): Promise<void> {
    const written = await upsertDocument(target(env), 'worker-heartbeats', 'guesty-webhook', {
      cron: controller.cron,
      at: new Date(controller.scheduledTime),
    });
    if (!written.ok) throw new Error(`heartbeat write failed: Firestore answered ${written.status}`);
  },
};
