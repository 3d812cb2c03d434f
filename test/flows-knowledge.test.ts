import { QdrantClient } from '@qdrant/js-client-rest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pointId } from '../functions/vectorize/src/chunk.ts';
import { type GroqSimulator, startGroqSimulator } from '../simulators/groq/index.ts';
import { type QdrantSimulator, startQdrantSimulator } from '../simulators/qdrant/index.ts';
import { type RocketChatSimulator, startRocketChatSimulator } from '../simulators/rocketchat/index.ts';
import {
  type FirestoreDocuments,
  startFirestoreDocuments,
  testServiceAccount,
} from '../workers/shared/firestore-documents.ts';
import { type RunningWorker, runWorker } from '../workers/shared/run-worker.ts';
import { hmacSha256Base64 } from '../workers/shared/verify.ts';
import { type EventarcTrigger, firestoreTrigger } from './support/flows-eventarc.ts';
import { type RunningFunction, startFunction } from './support/flows-function.ts';
import { waitFor } from './support/wait-for.ts';

// Flows 1 (API integration), 3 (LLM query) and their faults, every part in its runtime: the Workers
// in workerd, vectorize in the Functions Framework (its own process), Qdrant / Groq / RocketChat as
// simulators, Firestore as the documents stand-in whose writes become the protobuf CloudEvents a
// Firestore trigger sends (built from the written document; not yet through the GCP simulator).
const PROJECT = 'company-prod';
const GUESTY_KEY = new TextEncoder().encode('guesty-signing-key-0123456789abcd');
let qdrant: QdrantSimulator;
let groq: GroqSimulator;
let rc: RocketChatSimulator;
let firestore: FirestoreDocuments;
let vectorize: RunningFunction;
let trigger: EventarcTrigger;
let aircall: RunningWorker;
let guesty: RunningWorker;
let llm: RunningWorker;
let kb: QdrantClient;

beforeAll(async () => {
  const account = await testServiceAccount();
  [qdrant, groq, firestore, rc] = await Promise.all([
    startQdrantSimulator({ apiKey: 'qdrant-key' }),
    startGroqSimulator({ apiKeys: ['gsk_live'], requestsPerMinute: 1000 }),
    startFirestoreDocuments({ projectId: PROJECT, publicKeyPem: account.publicKeyPem }),
    startRocketChatSimulator({
      users: [
        { username: 'alice', password: 'a' },
        { username: 'kb-bot', password: 'bot-pass' },
      ],
    }),
  ]);
  kb = new QdrantClient({ url: qdrant.url, apiKey: 'qdrant-key', checkCompatibility: false });
  vectorize = await startFunction('vectorize', 'vectorize', { QDRANT_URL: qdrant.url, QDRANT_API_KEY: 'qdrant-key' });
  trigger = firestoreTrigger(firestore, vectorize, {
    project: PROJECT,
    collections: ['aircall-events', 'guesty-events', 'llm-queries'],
  });
  const firestoreBindings = {
    GCP_PROJECT: PROJECT,
    FIRESTORE_URL: firestore.url,
    GCP_SERVICE_ACCOUNT_KEY: account.keyJson,
  };
  const login = await fetch(`${rc.url}/api/v1/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: 'kb-bot', password: 'bot-pass' }),
  });
  const bot = ((await login.json()) as { data: { userId: string; authToken: string } }).data;
  [aircall, guesty, llm] = await Promise.all([
    runWorker('aircall-webhook', { ...firestoreBindings, AIRCALL_WEBHOOK_TOKEN: 'aircall-token' }),
    runWorker('guesty-webhook', {
      ...firestoreBindings,
      GUESTY_WEBHOOK_SECRET: `whsec_${Buffer.from(GUESTY_KEY).toString('base64')}`,
    }),
    runWorker('llm-query', {
      ...firestoreBindings,
      ROCKETCHAT_TOKEN: 'rc-token',
      ROCKETCHAT_URL: rc.url,
      ROCKETCHAT_USER_ID: bot.userId,
      ROCKETCHAT_AUTH_TOKEN: bot.authToken,
      GROQ_API_KEY: 'gsk_live',
      GROQ_URL: groq.url,
      QDRANT_API_KEY: 'qdrant-key',
      QDRANT_URL: qdrant.url,
    }),
  ]);
  rc.addOutgoingIntegration({
    name: 'kb',
    channel: ['#general'],
    triggerWords: ['@kb'],
    urls: [`${llm.url}/llm`],
    token: 'rc-token',
    username: 'kb-bot',
  });
}, 120_000);
afterAll(async () => {
  await Promise.all([aircall?.close(), guesty?.close(), llm?.close(), vectorize?.stop()]);
  await Promise.all([qdrant?.close(), groq?.close(), rc?.close(), firestore?.close()]);
});

const callEnded = (id: number, comment: string) => ({
  resource: 'call',
  event: 'call.ended',
  timestamp: 1_700_000_000 + id,
  token: 'aircall-token',
  data: {
    id,
    direction: 'inbound',
    status: 'done',
    duration: 95,
    raw_digits: '+33 1 23 45 67 89',
    comments: [{ id: 1, content: comment }],
  },
});
const postAircall = (body: unknown) =>
  aircall.fetch('https://hooks.example.com/aircall', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
const pointsOf = async (sourceId: string) =>
  (
    await kb.scroll('knowledge', {
      filter: { must: [{ key: 'sourceId', match: { value: sourceId } }] },
      with_payload: true,
      limit: 50,
    })
  ).points;
const replyIn = (tmid: string) => waitFor(`a reply in thread ${tmid}`, () => rc.thread(tmid)[0]);

describe('flow 1: webhooks → Workers → Firestore → vectorize → Qdrant', () => {
  it("an Aircall call's text becomes a Qdrant point", async () => {
    expect(
      (
        await postAircall(
          callEnded(4001, 'Guest of flat 4 asked for a late check-in at 11pm; agreed, key in the lockbox.'),
        )
      ).status,
    ).toBe(200);
    await trigger.idle();
    const points = await pointsOf('aircall:call/4001');
    expect(points.map((p) => p.id)).toEqual([pointId('aircall:call/4001', 0)]);
    expect(points[0]?.payload).toMatchObject({ source: 'call', document: 'aircall-events/call.ended-4001-1700004001' });
    expect(String(points[0]?.payload?.text)).toContain('late check-in at 11pm');
  });

  it('a signed Guesty reservation becomes a point', async () => {
    const body = JSON.stringify({
      event: 'reservation.new',
      reservation: {
        _id: 'res-77',
        confirmationCode: 'GY-77',
        status: 'confirmed',
        guest: { fullName: 'Jane Roe' },
        listing: { title: 'Flat 4 Riverside' },
        checkIn: '2024-06-01',
        checkOut: '2024-06-05',
        guestsCount: 2,
      },
    });
    const ts = Math.floor(Date.now() / 1000);
    const sig = await hmacSha256Base64(GUESTY_KEY, `msg_res77.${ts}.${body}`);
    const response = await guesty.fetch('https://hooks.example.com/guesty', {
      method: 'POST',
      body,
      headers: { 'svix-id': 'msg_res77', 'svix-timestamp': String(ts), 'svix-signature': `v1,${sig}` },
    });
    expect(response.status).toBe(200);
    await trigger.idle();
    const points = await pointsOf('guesty:reservation/res-77');
    expect(String(points[0]?.payload?.text)).toContain('Reservation GY-77 for Jane Roe at Flat 4 Riverside');
  });
});

describe('flow 3: a question in RocketChat → LLM Worker → Qdrant context → Groq → answer in the thread', () => {
  it('answers from the call indexed by flow 1, in the thread; the Q&A is stored and vectorised', async () => {
    const question = rc.say('alice', 'general', '@kb what time is the late check-in for flat 4?');
    const reply = await replyIn(question._id);
    expect(reply.u.username).toBe('kb-bot');
    expect(reply.msg).toContain('late check-in at 11pm');
    await waitFor(
      'the Q&A stored',
      () =>
        (firestore.documents.get(`llm-queries/${question._id}`)?.fields.status as { stringValue?: string })
          ?.stringValue === 'answered',
    );
    await trigger.idle();
    const qa = await pointsOf(`qa:${question._id}`);
    expect(qa[0]?.payload).toMatchObject({ source: 'question', room: 'GENERAL' });
    expect(String(qa[0]?.payload?.text)).toContain('Q: what time is the late check-in for flat 4?');
  });
});

describe('faults: everything arrives once', () => {
  it('Qdrant down for a while: the trigger is retried until it is back; one point', async () => {
    qdrant.state.unavailable = true;
    try {
      expect((await postAircall(callEnded(4002, 'The boiler in flat 2 was repaired by Dupont Plumbing.'))).status).toBe(
        200,
      );
      await trigger.idle();
      expect(trigger.failed).toHaveLength(1);
      await trigger.redeliver();
      expect(trigger.failed).toHaveLength(1);
    } finally {
      qdrant.state.unavailable = false;
    }
    await trigger.redeliver();
    expect(trigger.failed).toHaveLength(0);
    expect((await pointsOf('aircall:call/4002')).length).toBe(1);
  });

  it('duplicate deliveries (Aircall retrying the webhook, Eventarc delivering twice) write nothing twice', async () => {
    const countBefore = (await kb.count('knowledge', { exact: true })).count;
    const event = callEnded(4001, 'Guest of flat 4 asked for a late check-in at 11pm; agreed, key in the lockbox.');
    expect((await postAircall(event)).status).toBe(200);
    await trigger.idle();
    const last = trigger.acknowledged.at(-1);
    if (last) expect(await trigger.deliver(last)).toBe(204);
    expect((await kb.count('knowledge', { exact: true })).count).toBe(countBefore);
    expect([...firestore.documents.keys()].filter((k) => k.startsWith('aircall-events/call.ended-4001'))).toHaveLength(
      1,
    );
  });

  it('Groq answering 429: the Worker waits out a short retry-after and answers once', async () => {
    groq.state.rateLimitNext(1, 1);
    const question = rc.say('alice', 'general', '@kb who repaired the boiler in flat 2?');
    expect((await replyIn(question._id)).msg).toContain('Dupont Plumbing');
    await rc.idle();
    expect(rc.thread(question._id)).toHaveLength(1);
  });

  it('RocketChat delivering a question twice gets one answer', async () => {
    const question = rc.say('alice', 'general', '@kb where is the key for flat 4?');
    await replyIn(question._id);
    await rc.idle();
    const groqCalls = groq.state.calls.length;
    const locks = () => firestore.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/llm-queries')).length;
    const locksBefore = locks();
    const again = {
      token: 'rc-token',
      trigger_word: '@kb',
      text: question.msg,
      message_id: question._id,
      channel_id: 'GENERAL',
      channel_name: 'general',
      user_name: 'alice',
      bot: false,
    };
    expect((await fetch(`${llm.url}/llm`, { method: 'POST', body: JSON.stringify(again) })).status).toBe(200);
    await waitFor('the duplicate refused by the lock', () => locks() > locksBefore);
    expect(groq.state.calls.length).toBe(groqCalls);
    expect(rc.thread(question._id)).toHaveLength(1);
  });
});
