import { type FirestoreEnv, firestoreTarget, upsertDocument } from '../../shared/firestore-rest.ts';
import { CredentialsError } from '../../shared/google-auth.ts';
import { json } from '../../shared/verify.ts';
import { svixKey, verifySvix } from './svix.ts';

/** Bindings, set by keelson from `desired-state/cloudflare/workers.yaml`. */
export interface Env extends FirestoreEnv {
  /** Secret: the `whsec_...` signing secret of the Guesty webhook endpoint. */
  readonly GUESTY_WEBHOOK_SECRET: string;
  /** Default `guesty-events`. */
  readonly FIRESTORE_COLLECTION?: string;
  /** Per-request timeout for Firestore, ms. Default 10000. */
  readonly TIMEOUT_MS?: string;
}

/**
 * Guesty's documented webhook event families (`reservation.new`, `reservation.updated`,
 * `reservation.messageReceived`, `listing.new`, `guest.created`, `task.created`,
 * `payments.received`, ...): all stored. Anything else is acknowledged (202) and not stored.
 */
export const STORED_EVENTS = /^(reservation|listing|guest|task|payments)\./;

const configError = (problem: string) => {
  console.error(`guesty-webhook: configuration error: ${problem}`);
  return json(500, { error: `configuration error: ${problem}` });
};

/**
 * Guesty webhook: verifies the Svix signature, stores each event of a documented family under
 * its message id (retries overwrite, never duplicate). A cron run writes a heartbeat so
 * monitoring can tell the Worker is deployed and can reach Firestore.
 */
export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    if (request.method !== 'POST') return json(405, { error: 'only POST is accepted' });
    const key = svixKey(env.GUESTY_WEBHOOK_SECRET);
    if (!(key instanceof Uint8Array)) return configError(key.problem);
    const body = await request.text();
    const verdict = await verifySvix(
      key,
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
    try {
      const written = await upsertDocument(
        firestoreTarget(env),
        env.FIRESTORE_COLLECTION ?? 'guesty-events',
        id,
        { source: 'guesty', event: name, receivedAt: new Date(), payload },
        AbortSignal.timeout(Number(env.TIMEOUT_MS ?? 10_000)),
      );
      if (!written.ok) return json(502, { error: `Firestore answered ${written.status}` });
    } catch (err) {
      if (err instanceof CredentialsError) return configError(err.message);
      return json(502, { error: `Firestore did not answer: ${(err as Error).name}` });
    }
    return json(200, { stored: id });
  },

  async scheduled(controller: { readonly cron: string; readonly scheduledTime: number }, env: Env): Promise<void> {
    const written = await upsertDocument(firestoreTarget(env), 'worker-heartbeats', 'guesty-webhook', {
      cron: controller.cron,
      at: new Date(controller.scheduledTime),
    });
    if (!written.ok) throw new Error(`heartbeat write failed: Firestore answered ${written.status}`);
  },
};
