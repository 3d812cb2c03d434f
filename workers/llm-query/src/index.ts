import { DEFAULT_COLLECTION, DEFAULT_EMBEDDING_MODEL } from '../../../functions/vectorize/src/knowledge-settings.ts';
import {
  createDocument,
  type FirestoreEnv,
  type FirestoreTarget,
  firestoreTarget,
  upsertDocument,
} from '../../shared/firestore-rest.ts';
import { CredentialsError } from '../../shared/google-auth.ts';
import { json, timingSafeEqual } from '../../shared/verify.ts';

/** Bindings, set by keelson from `desired-state/cloudflare/workers.yaml`. */
export interface Env extends FirestoreEnv {
  /** Secret: the token RocketChat's outgoing webhook sends. */
  readonly ROCKETCHAT_TOKEN: string;
  /** RocketChat's URL, and the bot user who answers: its id and (secret) personal access token. */
  readonly ROCKETCHAT_URL: string;
  readonly ROCKETCHAT_USER_ID: string;
  readonly ROCKETCHAT_AUTH_TOKEN: string;
  /** Secrets for the vendors. */
  readonly GROQ_API_KEY: string;
  readonly QDRANT_API_KEY: string;
  /** Qdrant cluster URL and collection of vectorised messages and documents. */
  readonly QDRANT_URL: string;
  /** Default `knowledge` (shared with the vectorize function). */
  readonly QDRANT_COLLECTION?: string;
  /** Qdrant Cloud Inference model; must be the vectorize function's. Default in knowledge-settings.ts. */
  readonly EMBEDDING_MODEL?: string;
  /** Default https://api.groq.com. */
  readonly GROQ_URL?: string;
  /** Default `llama-3.1-8b-instant`. */
  readonly GROQ_MODEL?: string;
  /** Timeout of each call to Qdrant, Groq, RocketChat and Firestore, ms. Default 8000. */
  readonly TIMEOUT_MS?: string;
  /** Longest Groq `retry-after` the Worker waits for before saying it is busy, seconds. Default 5. */
  readonly GROQ_MAX_WAIT_SECONDS?: string;
}

/** What the Workers runtime gives the handler besides the request. */
interface Context {
  waitUntil(promise: Promise<unknown>): void;
}

/** RocketChat outgoing-webhook body (the fields used). */
interface OutgoingWebhook {
  readonly token?: string;
  readonly text?: string;
  readonly trigger_word?: string;
  readonly user_name?: string;
  readonly channel_id?: string;
  readonly channel_name?: string;
  readonly message_id?: string;
  readonly tmid?: string;
  readonly bot?: unknown;
  readonly isEdited?: boolean;
}

/** How many passages from Qdrant go into the prompt. */
const CONTEXT_PASSAGES = 5;

/** The question without the trigger word and without any @mention. */
export function questionOf(text: string, triggerWord: string | undefined): string {
  let q = text.trim();
  if (triggerWord && q.startsWith(triggerWord)) q = q.slice(triggerWord.length);
  return q
    .replace(/(^|\s)@[\w.-]+/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

class CallFailed extends Error {}

const timeout = (env: Env) => AbortSignal.timeout(Number(env.TIMEOUT_MS ?? 8000));

async function call(what: string, url: string, init: RequestInit, env: Env): Promise<Response> {
  try {
    return await fetch(url, { ...init, signal: timeout(env) });
  } catch (err) {
    throw new CallFailed(
      `${what} did not answer (${(err as Error).name === 'TimeoutError' ? 'timeout' : 'connection failed'})`,
    );
  }
}

async function searchContext(question: string, env: Env): Promise<string[]> {
  const response = await call(
    'Qdrant',
    `${env.QDRANT_URL.replace(/\/$/, '')}/collections/${env.QDRANT_COLLECTION ?? DEFAULT_COLLECTION}/points/query`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'api-key': env.QDRANT_API_KEY },
      body: JSON.stringify({
        query: { text: question, model: env.EMBEDDING_MODEL ?? DEFAULT_EMBEDDING_MODEL },
        limit: CONTEXT_PASSAGES,
        with_payload: ['text', 'source'],
      }),
    },
    env,
  );
  // An empty knowledge base (no collection yet) is no context, not a failure.
  if (response.status === 404) return [];
  if (!response.ok) throw new CallFailed(`Qdrant answered ${response.status}`);
  const points =
    ((await response.json()) as { result?: { points?: { payload?: { text?: unknown } }[] } }).result?.points ?? [];
  return points.map((p) => p.payload?.text).filter((t): t is string => typeof t === 'string');
}

async function askGroq(question: string, context: string[], env: Env): Promise<string> {
  const maxWait = Number(env.GROQ_MAX_WAIT_SECONDS ?? 5);
  for (let attempt = 1; ; attempt++) {
    const response = await call(
      'Groq',
      `${(env.GROQ_URL ?? 'https://api.groq.com').replace(/\/$/, '')}/openai/v1/chat/completions`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${env.GROQ_API_KEY}` },
        body: JSON.stringify({
          model: env.GROQ_MODEL ?? 'llama-3.1-8b-instant',
          messages: [
            {
              role: 'system',
              content: `Answer briefly using only this context; say so when it does not contain the answer.\n\n${context.map((c, i) => `[${i + 1}] ${c.replace(/\s+/g, ' ')}`).join('\n')}`,
            },
            { role: 'user', content: question },
          ],
        }),
      },
      env,
    );
    if (response.status === 429) {
      const wait = Number(response.headers.get('retry-after') ?? Number.NaN);
      await response.arrayBuffer();
      if (attempt < 3 && Number.isFinite(wait) && wait <= maxWait) {
        await new Promise((r) => setTimeout(r, wait * 1000));
        continue;
      }
      throw new CallFailed(`Groq is rate limiting us${Number.isFinite(wait) ? `; try again in ${wait} s` : ''}`);
    }
    if (!response.ok) throw new CallFailed(`Groq answered ${response.status}`);
    const answer = ((await response.json()) as { choices?: { message?: { content?: string } }[] }).choices?.[0]?.message
      ?.content;
    if (!answer) throw new CallFailed('Groq gave an empty answer');
    return answer;
  }
}

async function postInThread(env: Env, roomId: string, tmid: string, text: string): Promise<void> {
  const response = await call(
    'RocketChat',
    `${env.ROCKETCHAT_URL.replace(/\/$/, '')}/api/v1/chat.postMessage`,
    {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-auth-token': env.ROCKETCHAT_AUTH_TOKEN,
        'x-user-id': env.ROCKETCHAT_USER_ID,
      },
      body: JSON.stringify({ roomId, tmid, text }),
    },
    env,
  );
  await response.arrayBuffer();
  if (!response.ok) throw new CallFailed(`RocketChat answered ${response.status} to chat.postMessage`);
}

/**
 * Answers one question: takes the question's lock in Firestore (`llm-queries/<message id>`,
 * created only if absent, so a redelivered webhook is answered once), asks Qdrant for context and
 * Groq for the answer, posts it in the question's thread, and stores the Q&A (which the vectorize
 * function indexes). A failing Qdrant or Groq is said in the thread.
 */
async function answer(
  hook: OutgoingWebhook,
  question: string,
  env: Env,
  target: FirestoreTarget | undefined,
): Promise<void> {
  const messageId = hook.message_id ?? crypto.randomUUID();
  const roomId = hook.channel_id ?? '';
  const tmid = hook.tmid ?? messageId;
  const record = { question, user: hook.user_name ?? null, roomId, channel: hook.channel_name ?? null, at: new Date() };
  if (target) {
    const lock = await createDocument(
      target,
      'llm-queries',
      messageId,
      { ...record, status: 'answering' },
      timeout(env),
    ).catch((err: Error) => ({ failed: err.name }));
    if (lock === 'exists') {
      console.log(`llm-query: ${messageId} is already being answered (a redelivery); nothing to do`);
      return;
    }
    if (lock !== 'created')
      console.warn(`llm-query: could not take the lock for ${messageId} (Firestore: ${lock.failed}); answering anyway`);
  }
  let reply: string;
  let stored: Record<string, unknown>;
  try {
    const context = await searchContext(question, env);
    const text = await askGroq(question, context, env);
    reply = text;
    stored = { ...record, answer: text, passages: context.length, status: 'answered' };
  } catch (err) {
    if (!(err instanceof CallFailed)) throw err;
    reply = `Sorry, I cannot answer right now: ${err.message}.`;
    stored = { ...record, error: err.message, status: 'failed' };
  }
  try {
    await postInThread(env, roomId, tmid, reply);
  } catch (err) {
    console.error(`llm-query: the answer to ${messageId} could not be posted: ${(err as Error).message}`);
    stored = { ...stored, posted: false };
  }
  if (target) {
    const written = await upsertDocument(target, 'llm-queries', messageId, stored, timeout(env)).catch(
      (err: Error) => ({ ok: false, status: err.name }),
    );
    if (!written.ok) console.warn(`llm-query: storing the Q&A failed: Firestore answered ${written.status}`);
  }
}

/**
 * LLM query: RocketChat's outgoing webhook sends a question; the Worker checks the webhook token,
 * acknowledges at once (RocketChat posts nothing for an empty answer) and answers in the
 * question's thread through RocketChat's REST API after the response (`waitUntil`).
 */
export default {
  async fetch(request: Request, env: Env, ctx: Context): Promise<Response> {
    if (request.method !== 'POST') return json(405, { error: 'only POST is accepted' });
    let hook: OutgoingWebhook;
    try {
      hook = (await request.json()) as OutgoingWebhook;
    } catch {
      return json(400, { error: 'body is not JSON' });
    }
    if (typeof hook.token !== 'string' || !env.ROCKETCHAT_TOKEN || !timingSafeEqual(hook.token, env.ROCKETCHAT_TOKEN)) {
      return json(401, { error: 'token does not match' });
    }
    // Bots (this one included) and edits of a question already answered are not questions.
    if (hook.bot || hook.isEdited) return json(200, {});
    const question = questionOf(hook.text ?? '', hook.trigger_word);
    if (question === '') return json(200, {});
    let target: FirestoreTarget | undefined;
    try {
      target = firestoreTarget(env);
    } catch (err) {
      if (!(err instanceof CredentialsError)) throw err;
      console.error(`llm-query: configuration error: ${err.message}; answering without storing the Q&A`);
    }
    ctx.waitUntil(
      answer(hook, question, env, target).catch((err: Error) =>
        console.error(`llm-query: answering failed: ${err.message}`),
      ),
    );
    return json(200, {});
  },
};
