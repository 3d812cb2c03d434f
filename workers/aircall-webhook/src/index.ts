import { type FirestoreEnv, firestoreTarget, upsertDocument } from '../../shared/firestore-rest.ts';
import { CredentialsError } from '../../shared/google-auth.ts';
import { json, timingSafeEqual } from '../../shared/verify.ts';
import { toDelivery } from './event.ts';

/** Bindings, set by keelson from `desired-state/cloudflare/workers.yaml`. */
export interface Env extends FirestoreEnv {
  /** Secret: the token Aircall puts in every webhook body. */
  readonly AIRCALL_WEBHOOK_TOKEN: string;
  /** Collection for the events. Default `aircall-events`. */
  readonly FIRESTORE_COLLECTION?: string;
  /** Per-request timeout for Firestore, ms. Default 10000. */
  readonly TIMEOUT_MS?: string;
}

/**
 * Aircall webhook: checks the webhook token (constant time), stores every event (unknown and
 * malformed ones marked as such) in Firestore under a stable id, answers 200 (stored), 400 (not
 * JSON), 401 (bad token), 405, 500 (configuration), 502 when Firestore fails (Aircall retries).
 */
export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    if (request.method !== 'POST') return json(405, { error: 'only POST is accepted' });
    const raw = await request.text();
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      return json(400, { error: 'body is not JSON' });
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      return json(400, { error: 'body must be a JSON object' });
    const token = (body as { token?: unknown }).token;
    if (typeof token !== 'string' || !env.AIRCALL_WEBHOOK_TOKEN || !timingSafeEqual(token, env.AIRCALL_WEBHOOK_TOKEN)) {
      return json(401, { error: 'webhook token does not match' });
    }
    let target: ReturnType<typeof firestoreTarget>;
    try {
      target = firestoreTarget(env);
    } catch (err) {
      if (!(err instanceof CredentialsError)) throw err;
      console.error(`aircall-webhook: configuration error: ${err.message}`);
      return json(500, { error: `configuration error: ${err.message}` });
    }
    const delivery = await toDelivery(body as Record<string, unknown>, raw);
    let written: { ok: boolean; status: number };
    try {
      written = await upsertDocument(
        target,
        env.FIRESTORE_COLLECTION ?? 'aircall-events',
        delivery.id,
        delivery.document,
        AbortSignal.timeout(Number(env.TIMEOUT_MS ?? 10_000)),
      );
    } catch (err) {
      if (err instanceof CredentialsError) {
        console.error(`aircall-webhook: configuration error: ${err.message}`);
        return json(500, { error: `configuration error: ${err.message}` });
      }
      return json(502, { error: `Firestore did not answer: ${(err as Error).name}` });
    }
    // Aircall retries non-2xx answers, so a Firestore failure is passed on as 502.
    if (!written.ok) return json(502, { error: `Firestore answered ${written.status}` });
    return json(200, { stored: delivery.id });
  },
};
