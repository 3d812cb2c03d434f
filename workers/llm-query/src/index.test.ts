import { QdrantClient } from '@qdrant/js-client-rest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_EMBEDDING_MODEL } from '../../../functions/vectorize/src/knowledge-settings.ts';
import { type GroqSimulator, startGroqSimulator } from '../../../simulators/groq/index.ts';
import { type QdrantSimulator, startQdrantSimulator } from '../../../simulators/qdrant/index.ts';
import { type RocketChatSimulator, startRocketChatSimulator } from '../../../simulators/rocketchat/index.ts';
import { waitFor } from '../../../test/support/wait-for.ts';
import {
  type FirestoreDocuments,
  startFirestoreDocuments,
  testServiceAccount,
} from '../../shared/firestore-documents.ts';
import { type RunningWorker, runWorker } from '../../shared/run-worker.ts';
import { questionOf } from './index.ts';

// The LLM query Worker in workerd, called by the RocketChat simulator's outgoing webhook, asking the
// Qdrant and Groq simulators, answering through RocketChat's REST API, storing the Q&A in Firestore.
let qdrant: QdrantSimulator;
let groq: GroqSimulator;
let rc: RocketChatSimulator;
let firestore: FirestoreDocuments;
let worker: RunningWorker;
let botToken: { userId: string; authToken: string };

beforeAll(async () => {
  const account = await testServiceAccount();
  [qdrant, groq, firestore] = await Promise.all([
    startQdrantSimulator({ apiKey: 'qk' }),
    startGroqSimulator({ apiKeys: ['gsk_live'], requestsPerMinute: 1000 }),
    startFirestoreDocuments({ publicKeyPem: account.publicKeyPem }),
  ]);
  rc = await startRocketChatSimulator({
    users: [
      { username: 'alice', password: 'a' },
      { username: 'kb-bot', password: 'bot-pass' },
    ],
  });
  const login = await fetch(`${rc.url}/api/v1/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: 'kb-bot', password: 'bot-pass' }),
  });
  botToken = ((await login.json()) as { data: { userId: string; authToken: string } }).data;
  const client = new QdrantClient({ url: qdrant.url, apiKey: 'qk', checkCompatibility: false });
  await client.createCollection('knowledge', { vectors: { size: 384, distance: 'Cosine' } });
  await client.upsert('knowledge', {
    wait: true,
    points: [
      {
        id: 1,
        vector: { text: 'Check-in is at 3pm at the front desk.', model: DEFAULT_EMBEDDING_MODEL },
        payload: { text: 'Check-in is at 3pm at the front desk.', source: 'message' },
      },
      {
        id: 2,
        vector: { text: 'The wifi password is on the fridge.', model: DEFAULT_EMBEDDING_MODEL },
        payload: { text: 'The wifi password is on the fridge.', source: 'call' },
      },
    ],
  });
  worker = await runWorker('llm-query', {
    ROCKETCHAT_TOKEN: 'rc-token',
    ROCKETCHAT_URL: rc.url,
    ROCKETCHAT_USER_ID: botToken.userId,
    ROCKETCHAT_AUTH_TOKEN: botToken.authToken,
    GROQ_API_KEY: 'gsk_live',
    QDRANT_API_KEY: 'qk',
    QDRANT_URL: qdrant.url,
    GROQ_URL: groq.url,
    FIRESTORE_URL: firestore.url,
    GCP_PROJECT: 'demo-project',
    GCP_SERVICE_ACCOUNT_KEY: account.keyJson,
    TIMEOUT_MS: '1500',
  });
  rc.addOutgoingIntegration({
    name: 'kb',
    channel: ['#general'],
    triggerWords: ['@kb'],
    urls: [`${worker.url}/llm`],
    token: 'rc-token',
    username: 'kb-bot',
  });
});
afterAll(async () => {
  await worker?.close();
  await Promise.all([qdrant?.close(), groq?.close(), rc?.close(), firestore?.close()]);
});

const replyIn = (tmid: string) => waitFor(`a reply in thread ${tmid}`, () => rc.thread(tmid)[0]);
const stored = (id: string) => firestore.documents.get(`llm-queries/${id}`)?.fields;

describe('llm-query Worker', () => {
  it('strips the trigger word and mentions from the question', () => {
    expect(questionOf('@kb when is check-in? @alice', '@kb')).toBe('when is check-in?');
    expect(questionOf('@kb', '@kb')).toBe('');
  });

  it('answers in the thread with Groq using Qdrant context, and stores the Q&A', async () => {
    const question = rc.say('alice', 'general', '@kb when is check-in @kb-bot?');
    const reply = await replyIn(question._id);
    expect(reply.u.username).toBe('kb-bot');
    expect(reply.msg).toBe('Check-in is at 3pm at the front desk. [1]');
    const call = groq.state.calls.at(-1);
    expect(call?.messages.at(-1)?.content).toBe('when is check-in?');
    await waitFor(
      'the Q&A stored',
      () => (stored(question._id)?.status as { stringValue?: string } | undefined)?.stringValue === 'answered',
    );
    expect(stored(question._id)).toMatchObject({
      answer: { stringValue: reply.msg },
      roomId: { stringValue: 'GENERAL' },
    });
  });

  it('refuses a wrong RocketChat token without calling anyone', async () => {
    const before = groq.state.calls.length;
    const response = await worker.fetch('https://hooks.example.com/llm', {
      method: 'POST',
      body: JSON.stringify({ token: 'x', text: 'hi' }),
    });
    expect(response.status).toBe(401);
    expect(groq.state.calls.length).toBe(before);
  });

  it('a duplicate delivery of one question is answered once', async () => {
    const question = rc.say('alice', 'general', '@kb what is the wifi password?');
    await replyIn(question._id);
    await rc.idle();
    const body = {
      token: 'rc-token',
      trigger_word: '@kb',
      text: question.msg,
      message_id: question._id,
      channel_id: 'GENERAL',
      user_name: 'alice',
    };
    const before = groq.state.calls.length;
    expect(
      (await worker.fetch('https://hooks.example.com/llm', { method: 'POST', body: JSON.stringify(body) })).status,
    ).toBe(200);
    await waitFor(
      'the duplicate seen',
      () => firestore.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/llm-queries')).length >= 3,
    );
    expect(groq.state.calls.length).toBe(before);
    expect(rc.thread(question._id)).toHaveLength(1);
  });

  it('says so in the thread when Qdrant is down', async () => {
    qdrant.state.unavailable = true;
    try {
      const question = rc.say('alice', 'general', '@kb where do I park?');
      expect((await replyIn(question._id)).msg).toBe('Sorry, I cannot answer right now: Qdrant answered 503.');
      await waitFor(
        'the failure stored',
        () => (stored(question._id)?.status as { stringValue?: string } | undefined)?.stringValue === 'failed',
      );
    } finally {
      qdrant.state.unavailable = false;
    }
  });

  it('waits out a short Groq 429 and answers; says so when the wait is too long', async () => {
    groq.state.rateLimitNext(1, 1);
    const first = rc.say('alice', 'general', '@kb when is check-in?');
    expect((await replyIn(first._id)).msg).toContain('Check-in is at 3pm');
    groq.state.rateLimitNext(3, 60);
    const second = rc.say('alice', 'general', '@kb when is check-in again?');
    expect((await replyIn(second._id)).msg).toBe(
      'Sorry, I cannot answer right now: Groq is rate limiting us; try again in 60 s.',
    );
    groq.state.rateLimitNext(0);
  });

  it('a hung Groq runs into the timeout, and the user is told', async () => {
    groq.state.stalled = true;
    try {
      const question = rc.say('alice', 'general', '@kb is there a pool?');
      expect((await replyIn(question._id)).msg).toBe(
        'Sorry, I cannot answer right now: Groq did not answer (timeout).',
      );
    } finally {
      groq.state.stalled = false;
    }
  });
});
