import { upsertDocument } from '../../shared/firestore-rest.ts';
import { json, timingSafeEqual } from '../../shared/verify.ts';
import { documentId, parseAircallEvent, toDocument } from './event.ts';

/** Bindings, set by keelson from `desired-state/cloudflare/workers.yaml`. */
export interface Env {
  /** Secret: the token Aircall puts in every webhook body. */
  readonly AIRCALL_WEBHOOK_TOKEN: string;
  /** Secret: OAuth access token for Firestore's REST API. */
  readonly FIRESTORE_TOKEN?: string;
  readonly GCP_PROJECT: string;
  /** Firestore API origin. Default https://firestore.googleapis.com. */
  readonly FIRESTORE_URL?: string;
  /** Collection for the events. Default `aircall-events`. */
  readonly FIRESTORE_COLLECTION?: string;
}

/**
 * Aircall webhook: checks the webhook token (constant time), validates the event, stores it in
 * Firestore under a stable id, answers 200 (stored), 400 (bad event), 401 (bad token), 405, 502.
 */
export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    if (request.method !== 'POST') return json(405, { error: 'only POST is accepted' });
    let body: unknown;
    try {
      body = await request.json();
    } catch {
      return json(400, { error: 'body is not JSON' });
    }
    const token = (body as { token?: unknown } | null)?.token;
    if (typeof token !== 'string' || !env.AIRCALL_WEBHOOK_TOKEN || !timingSafeEqual(token, env.AIRCALL_WEBHOOK_TOKEN)) {
      return json(401, { error: 'webhook token does not match' });
    }
    const parsed = parseAircallEvent(body);
    if ('problems' in parsed) return json(400, { error: 'invalid event', problems: parsed.problems });
    const id = documentId(parsed.event);
    const written = await upsertDocument(
      {
        projectId: env.GCP_PROJECT,
        ...(env.FIRESTORE_URL ? { baseUrl: env.FIRESTORE_URL } : {}),
        ...(env.FIRESTORE_TOKEN ? { accessToken: env.FIRESTORE_TOKEN } : {}),
      },
      env.FIRESTORE_COLLECTION ?? 'aircall-events',
      id,
      toDocument(parsed.event),
    );
    // Aircall retries non-2xx answers, so a Firestore failure is passed on as 502.
    if (!written.ok) return json(502, { error: `Firestore answered ${written.status}` });
    return json(200, { stored: id });
  },
};
