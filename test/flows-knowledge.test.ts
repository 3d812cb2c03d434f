import { QdrantClient } from '@qdrant/js-client-rest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pointId } from '../functions/vectorize/src/chunk.ts';
import { FakeClock, type GcpSimulator, startGcpSimulator } from '../providers/gcp/simulator/index.ts';
import { type GroqSimulator, startGroqSimulator } from '../simulators/groq/index.ts';
import { type QdrantSimulator, startQdrantSimulator } from '../simulators/qdrant/index.ts';
import { type RocketChatSimulator, startRocketChatSimulator } from '../simulators/rocketchat/index.ts';
import { testServiceAccount } from '../workers/shared/firestore-documents.ts';
import { type RunningWorker, runWorker } from '../workers/shared/run-worker.ts';
import { hmacSha256Base64 } from '../workers/shared/verify.ts';
import { deployVectorize, getDocument } from './support/flows-gcp.ts';
import { waitFor } from './support/wait-for.ts';

// Flows 1 (API integration), 3 (LLM query) and their faults, every part in its runtime: the Workers
// in workerd writing to the GCP simulator's Firestore (self-signed service-account JWTs), vectorize
// deployed to the GCP simulator with the official Functions client and run by it in the Functions
// Framework (Firestore trigger events as protobuf, retries on the simulator's fake clock), Qdrant,
// Groq and RocketChat as simulators.
const GUESTY_KEY = new TextEncoder().encode('guesty-signing-key-0123456789abcd');
const clock = new FakeClock();
let gcp: GcpSimulator;
let qdrant: QdrantSimulator;
let groq: GroqSimulator;
let rc: RocketChatSimulator;
let aircall: RunningWorker;
let guesty: RunningWorker;
let llm: RunningWorker;
let kb: QdrantClient;

beforeAll(async () => {
  const account = await testServiceAccount();
  [qdrant, groq, gcp, rc] = await Promise.all([
    startQdrantSimulator({ apiKey: 'qdrant-key' }),
    startGroqSimulator({ apiKeys: ['gsk_live'], requestsPerMinute: 1000 }),
    startGcpSimulator({ clock, projectId: 'company-prod' }),
    startRocketChatSimulator({
      users: [
        { username: 'alice', password: 'a' },
        { username: 'kb-bot', password: 'bot-pass' },
      ],
    }),
  ]);
  kb = new QdrantClient({ url: qdrant.url, apiKey: 'qdrant-key', checkCompatibility: false });
  await deployVectorize(gcp, { QDRANT_URL: qdrant.url, QDRANT_API_KEY: 'qdrant-key' });
  const firestore = { GCP_PROJECT: gcp.projectId, FIRESTORE_URL: gcp.url, GCP_SERVICE_ACCOUNT_KEY: account.keyJson };
  const login = await fetch(`${rc.url}/api/v1/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: 'kb-bot', password: 'bot-pass' }),
  });
  const bot = ((await login.json()) as { data: { userId: string; authToken: string } }).data;
  [aircall, guesty, llm] = await Promise.all([
    runWorker('aircall-webhook', { ...firestore, AIRCALL_WEBHOOK_TOKEN: 'aircall-token' }),
    runWorker('guesty-webhook', {
      ...firestore,
      GUESTY_WEBHOOK_SECRET: `whsec_${Buffer.from(GUESTY_KEY).toString('base64')}`,
    }),
    runWorker('llm-query', {
      ...firestore,
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
  await Promise.all([aircall?.close(), guesty?.close(), llm?.close()]);
  await Promise.all([qdrant?.close(), groq?.close(), rc?.close(), gcp?.close()]);
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
const status = async (path: string) => (await getDocument(gcp, path))?.fields.status?.stringValue;

describe('flow 1: webhooks → Workers → Firestore → vectorize → Qdrant', () => {
  it("an Aircall call's text becomes a Qdrant point", async () => {
    expect(
      (
        await postAircall(
          callEnded(4001, 'Guest of flat 4 asked for a late check-in at 11pm; agreed, key in the lockbox.'),
        )
      ).status,
    ).toBe(200);
    expect((await getDocument(gcp, 'aircall-events/call.ended-4001-1700004001'))?.fields.event).toEqual({
      stringValue: 'call.ended',
    });
    await gcp.idle();
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
    await gcp.idle();
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
    await waitFor('the Q&A stored', async () => (await status(`llm-queries/${question._id}`)) === 'answered');
    await gcp.idle();
    const qa = await pointsOf(`qa:${question._id}`);
    expect(qa[0]?.payload).toMatchObject({ source: 'question', room: 'GENERAL' });
    expect(String(qa[0]?.payload?.text)).toContain('Q: what time is the late check-in for flat 4?');
  });
});

describe('faults: everything arrives once', () => {
  it('Qdrant down for a while: the failed trigger event is retried (Eventarc backoff) until it is back; one point', async () => {
    const failures = () =>
      gcp.functionLogs('vectorize-documents').filter((l) => l.includes('the event will be redelivered')).length;
    const before = failures();
    qdrant.state.unavailable = true;
    try {
      expect((await postAircall(callEnded(4002, 'The boiler in flat 2 was repaired by Dupont Plumbing.'))).status).toBe(
        200,
      );
      await gcp.idle();
      expect(failures()).toBe(before + 1);
      await gcp.advance(10_000);
      expect(failures()).toBe(before + 2);
    } finally {
      qdrant.state.unavailable = false;
    }
    await gcp.advance(60_000);
    expect(await pointsOf('aircall:call/4002')).toHaveLength(1);
  });

  it('duplicate deliveries (Aircall retrying a webhook: the document written again, a second trigger event) write nothing twice', async () => {
    const before = (await kb.count('knowledge', { exact: true })).count;
    const event = callEnded(4001, 'Guest of flat 4 asked for a late check-in at 11pm; agreed, key in the lockbox.');
    expect((await postAircall(event)).status).toBe(200);
    expect((await postAircall(event)).status).toBe(200);
    await gcp.idle();
    expect((await kb.count('knowledge', { exact: true })).count).toBe(before);
    expect(await pointsOf('aircall:call/4001')).toHaveLength(1);
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
    const refusedLocks = () =>
      gcp.requests.filter((r) => r.method === 'POST' && r.path.includes('/documents/llm-queries') && r.status === 409)
        .length;
    const before = refusedLocks();
    const again = {
      token: 'rc-token',
      trigger_word: '@kb',
      text: question.msg,
      message_id: question._id,
      channel_id: 'GENERAL',
      user_name: 'alice',
      bot: false,
    };
    expect((await fetch(`${llm.url}/llm`, { method: 'POST', body: JSON.stringify(again) })).status).toBe(200);
    await waitFor('the duplicate refused by the lock (409)', () => refusedLocks() > before);
    expect(groq.state.calls.length).toBe(groqCalls);
    expect(rc.thread(question._id)).toHaveLength(1);
  });
});
