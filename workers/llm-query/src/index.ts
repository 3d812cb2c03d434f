import { upsertDocument } from '../../shared/firestore-rest.ts';
import { json, timingSafeEqual } from '../../shared/verify.ts';

/** Bindings, set by keelson from `desired-state/cloudflare/workers.yaml`. */
export interface Env {
  /** Secret: the token RocketChat's outgoing webhook sends. */
  readonly ROCKETCHAT_TOKEN: string;
  /** Secrets for the vendors. */
  readonly GROQ_API_KEY: string;
  readonly QDRANT_API_KEY: string;
  readonly FIRESTORE_TOKEN?: string;
  /** Qdrant cluster URL and collection of vectorised messages and documents. */
  readonly QDRANT_URL: string;
  /** Default `knowledge`. */
  readonly QDRANT_COLLECTION?: string;
  /** Embedding model Qdrant's cloud inference uses for the query. Default `sentence-transformers/all-minilm-l6-v2`. */
  readonly EMBEDDING_MODEL?: string;
  /** Default https://api.groq.com. */
  readonly GROQ_URL?: string;
  /** Default `llama-3.1-8b-instant`. */
  readonly GROQ_MODEL?: string;
  readonly GCP_PROJECT: string;
  readonly FIRESTORE_URL?: string;
}

/** RocketChat outgoing-webhook body (the fields used). */
interface OutgoingWebhook {
  readonly token?: string;
  readonly text?: string;
  readonly user_name?: string;
  readonly channel_name?: string;
  readonly message_id?: string;
}

/** How many passages from Qdrant go into the prompt. */
const CONTEXT_PASSAGES = 5;

/**
 * LLM query: RocketChat sends a question; the Worker fetches related passages from Qdrant, asks
 * Groq with them as context, stores the Q&A in Firestore (which feeds vectorisation) and answers
 * RocketChat with `{text}`.
 */
export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    if (request.method !== 'POST') return json(405, { error: 'only POST is accepted' });
    let hook: OutgoingWebhook;
    try {
      hook = (await request.json()) as OutgoingWebhook;
    } catch {
      return json(400, { error: 'body is not JSON' });
    }
    if (typeof hook.token !== 'string' || !timingSafeEqual(hook.token, env.ROCKETCHAT_TOKEN)) {
      return json(401, { error: 'token does not match' });
    }
    const question = (hook.text ?? '').replace(/^@\S+\s*/, '').trim();
    if (question === '') return json(400, { error: 'empty question' });

    const search = await fetch(
      `${env.QDRANT_URL.replace(/\/$/, '')}/collections/${env.QDRANT_COLLECTION ?? 'knowledge'}/points/query`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'api-key': env.QDRANT_API_KEY },
        body: JSON.stringify({
          query: { text: question, model: env.EMBEDDING_MODEL ?? 'sentence-transformers/all-minilm-l6-v2' },
          limit: CONTEXT_PASSAGES,
          with_payload: true,
        }),
      },
    );
    if (!search.ok) return json(502, { error: `Qdrant answered ${search.status}` });
    const points =
      ((await search.json()) as { result?: { points?: { payload?: { text?: unknown } }[] } }).result?.points ?? [];
    const context = points.map((p) => p.payload?.text).filter((t): t is string => typeof t === 'string');

    const completion = await fetch(
      `${(env.GROQ_URL ?? 'https://api.groq.com').replace(/\/$/, '')}/openai/v1/chat/completions`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${env.GROQ_API_KEY}` },
        body: JSON.stringify({
          model: env.GROQ_MODEL ?? 'llama-3.1-8b-instant',
          messages: [
            {
              role: 'system',
              content: `Answer briefly using only this context; say so when it does not contain the answer.\n\n${context.map((c, i) => `[${i + 1}] ${c}`).join('\n')}`,
            },
            { role: 'user', content: question },
          ],
        }),
      },
    );
    if (!completion.ok) return json(502, { error: `Groq answered ${completion.status}` });
    const answer =
      ((await completion.json()) as { choices?: { message?: { content?: string } }[] }).choices?.[0]?.message
        ?.content ?? '';

    const stored = await upsertDocument(
      {
        projectId: env.GCP_PROJECT,
        ...(env.FIRESTORE_URL ? { baseUrl: env.FIRESTORE_URL } : {}),
        ...(env.FIRESTORE_TOKEN ? { accessToken: env.FIRESTORE_TOKEN } : {}),
      },
      'llm-queries',
      hook.message_id ?? crypto.randomUUID(),
      {
        question,
        answer,
        user: hook.user_name ?? null,
        channel: hook.channel_name ?? null,
        passages: context.length,
        at: new Date(),
      },
    );
    // The answer still goes to the user; a lost Q&A record is only logged.
    if (!stored.ok) console.warn(`llm-query: storing the Q&A failed: Firestore answered ${stored.status}`);
    return json(200, { text: answer });
  },
};
