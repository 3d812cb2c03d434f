import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { QdrantClient } from '@qdrant/js-client-rest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock, type GcpSimulator, startGcpSimulator } from '../providers/gcp/simulator/index.ts';
import { clientOptions, google } from '../providers/gcp/simulator/test-clients.ts';
import { type GroqSimulator, startGroqSimulator } from '../simulators/groq/index.ts';
import { MongoSimulator } from '../simulators/mongodb/index.ts';
import { type QdrantSimulator, startQdrantSimulator } from '../simulators/qdrant/index.ts';
import { type RocketChatSimulator, startRocketChatSimulator } from '../simulators/rocketchat/index.ts';
import { testServiceAccount } from '../workers/shared/firestore-documents.ts';
import { type RunningWorker, runWorker } from '../workers/shared/run-worker.ts';
import { freePort } from './support/flows-function.ts';
import { deployVectorize } from './support/flows-gcp.ts';
import { serveChangeStreams } from './support/flows-mongo-bridge.ts';
import { waitFor } from './support/wait-for.ts';

// Flow 2: a RocketChat message → MongoDB change stream → mongo-listener (its own Node process) →
// Pub/Sub → vectorize → a Qdrant point; edits and deletes follow; the listener killed with SIGKILL
// mid-stream and restarted loses nothing and duplicates nothing in Qdrant. Pub/Sub and the function
// are the GCP simulator's (vectorize deployed with the official Functions client, pushed to by the
// Eventarc subscription, the listener publishing with the official Pub/Sub client in REST mode).
// MongoDB is the change-stream simulator, reached from the listener process over an IPC bridge in
// place of the driver's connection to mongod.
const TOPIC = 'rocketchat-messages';
const clock = new FakeClock();
let gcp: GcpSimulator;
let mongo: MongoSimulator;
let rc: RocketChatSimulator;
let qdrant: QdrantSimulator;
let kb: QdrantClient;
let groq: GroqSimulator;
let llm: RunningWorker;
const checkpointDir = mkdtempSync(join(tmpdir(), 'flows-listener-'));
let listener: { child: ChildProcess; port: number; output: string[] } | undefined;

async function startListener() {
  const port = await freePort();
  const output: string[] = [];
  const child = fork(resolve(import.meta.dirname, 'support/flows-listener-child.ts'), [], {
    env: {
      PATH: process.env.PATH,
      MONGO_URL: 'ipc://mongodb-simulator',
      GCP_PROJECT_ID: gcp.projectId,
      GCP_API_ENDPOINT: gcp.url,
      GCP_ACCESS_TOKEN: gcp.env.GCP_ACCESS_TOKEN,
      PUBSUB_TOPIC: TOPIC,
      CHECKPOINT_PATH: join(checkpointDir, 'checkpoint.json'),
      HTTP_PORT: String(port),
      SKIP_USERS: 'kb-bot',
      PUBLISH_TIMEOUT_MS: '5000',
      METADATA_SERVER_DETECTION: 'none',
    },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  child.stdout?.on('data', (b: Buffer) => output.push(b.toString()));
  child.stderr?.on('data', (b: Buffer) => output.push(b.toString()));
  serveChangeStreams(child, mongo, 'rocketchat_message');
  listener = { child, port, output };
  await waitFor('the listener healthy', async () => {
    if (child.exitCode !== null) throw new Error(`listener exited: ${output.join('')}`);
    return (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.status === 200;
  });
  return listener;
}

/** Every message Pub/Sub accepted on the topic, through a pull subscription made before the flow. */
const AUDIT = () => `projects/${gcp.projectId}/subscriptions/audit`;
const accepted: { messageId: string; op: string }[] = [];
async function pullAudit() {
  const sub = new (google.pubsub().v1.SubscriberClient)(clientOptions(gcp));
  for (;;) {
    const [r] = await sub.pull({ subscription: AUDIT(), maxMessages: 1000 });
    const got = r.receivedMessages ?? [];
    if (got.length === 0) return accepted;
    for (const m of got)
      accepted.push({ messageId: m.message?.attributes?.messageId ?? '', op: m.message?.attributes?.op ?? '' });
    await sub.acknowledge({ subscription: AUDIT(), ackIds: got.map((m) => m.ackId as string) });
  }
}

beforeAll(async () => {
  mongo = new MongoSimulator();
  [rc, qdrant, gcp] = await Promise.all([
    startRocketChatSimulator({
      users: [
        { username: 'alice', password: 'a' },
        { username: 'kb-bot', password: 'bot-pass' },
      ],
      messageStore: mongo.collection('rocketchat_message') as never,
    }),
    startQdrantSimulator({ apiKey: 'qdrant-key' }),
    startGcpSimulator({ clock, projectId: 'company-prod' }),
  ]);
  kb = new QdrantClient({ url: qdrant.url, apiKey: 'qdrant-key', checkCompatibility: false });
  await deployVectorize(gcp, { QDRANT_URL: qdrant.url, QDRANT_API_KEY: 'qdrant-key' }, TOPIC);
  const subscriber = new (google.pubsub().v1.SubscriberClient)(clientOptions(gcp));
  await subscriber.createSubscription({
    name: AUDIT(),
    topic: `projects/${gcp.projectId}/topics/${TOPIC}`,
    ackDeadlineSeconds: 600,
  });
  await startListener();
  // The LLM Worker answers questions in RocketChat from what flow 2 indexed.
  groq = await startGroqSimulator({ apiKeys: ['gsk_live'], requestsPerMinute: 1000 });
  const login = await fetch(`${rc.url}/api/v1/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: 'kb-bot', password: 'bot-pass' }),
  });
  const bot = ((await login.json()) as { data: { userId: string; authToken: string } }).data;
  llm = await runWorker('llm-query', {
    GCP_PROJECT: gcp.projectId,
    FIRESTORE_URL: gcp.url,
    GCP_SERVICE_ACCOUNT_KEY: (await testServiceAccount()).keyJson,
    ROCKETCHAT_TOKEN: 'rc-token',
    ROCKETCHAT_URL: rc.url,
    ROCKETCHAT_USER_ID: bot.userId,
    ROCKETCHAT_AUTH_TOKEN: bot.authToken,
    GROQ_API_KEY: 'gsk_live',
    GROQ_URL: groq.url,
    QDRANT_API_KEY: 'qdrant-key',
    QDRANT_URL: qdrant.url,
  });
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
  if (process.env.FLOWS_DEBUG)
    console.log(
      gcp.functionLogs('vectorize-chat').join('\n'),
      listener?.output.join(''),
      JSON.stringify(gcp.requests.filter((r) => r.api === 'pubsub').slice(0, 20)),
    );
  listener?.child.kill('SIGKILL');
  await llm?.close();
  await Promise.all([rc?.close(), qdrant?.close(), gcp?.close(), groq?.close()]);
});

const pointsOf = async (messageId: string) =>
  (
    await kb.scroll('knowledge', {
      filter: { must: [{ key: 'sourceId', match: { value: `rocketchat:${messageId}` } }] },
      with_payload: true,
    })
  ).points;
// Pushes are timers on the simulator's fake clock: moving it by 0 ms delivers what is due.
const settled = () => gcp.advance(0);

describe('flow 2: RocketChat → change stream → listener → Pub/Sub → vectorize → Qdrant', () => {
  it('a message becomes a point; its edit replaces the text; its delete removes it', async () => {
    const m = rc.say('alice', 'general', 'The cleaner comes to flat 9 every Tuesday morning.');
    await waitFor('the point', async () => {
      await settled();
      return (await pointsOf(m._id).catch(() => [])).length === 1;
    });
    expect((await pointsOf(m._id))[0]?.payload).toMatchObject({ source: 'message', room: 'GENERAL' });
    rc.edit(m._id, 'The cleaner comes to flat 9 every Wednesday morning.');
    await waitFor('the edit', async () => {
      await settled();
      return String((await pointsOf(m._id))[0]?.payload?.text).includes('Wednesday');
    });
    rc.remove(m._id);
    await waitFor('the delete', async () => {
      await settled();
      return (await pointsOf(m._id)).length === 0;
    });
    await pullAudit();
    expect(accepted.filter((a) => a.messageId === m._id).map((a) => a.op)).toEqual(['upsert', 'upsert', 'delete']);
  });

  it('flow 3 on flow 2: a question is answered in its thread from a chat message; the question is indexed, the bot’s answer is not published', async () => {
    const fact = rc.say('alice', 'general', 'The pool on the roof opens at 7am and closes at 10pm.');
    await waitFor('the fact indexed', async () => {
      await settled();
      return (await pointsOf(fact._id)).length === 1;
    });
    const question = rc.say('alice', 'general', '@kb when does the roof pool open?');
    const reply = await waitFor('the answer in the thread', () => rc.thread(question._id)[0]);
    expect(reply.msg).toContain('The pool on the roof opens at 7am');
    await waitFor('the question indexed as a message and as a Q&A', async () => {
      await settled();
      const qa = await kb.count('knowledge', {
        filter: { must: [{ key: 'sourceId', match: { value: `qa:${question._id}` } }] },
      });
      return (await pointsOf(question._id)).length === 1 && qa.count === 1;
    });
    // The listener works in order: once a later message is accepted, the bot's answer was seen and skipped.
    const marker = rc.say('alice', 'general', 'marker after the answer');
    await waitFor('the marker published', async () => (await pullAudit()).some((a) => a.messageId === marker._id));
    expect(accepted.some((a) => a.messageId === reply._id)).toBe(false);
  });

  it('system messages are not published', async () => {
    const joined = rc.join('alice', 'general');
    const marker = rc.say('alice', 'general', 'marker after the join');
    await waitFor('the marker published', async () => (await pullAudit()).some((a) => a.messageId === marker._id));
    expect(accepted.some((a) => a.messageId === joined._id)).toBe(false);
  });

  it('Pub/Sub refusing publishes for a while (503): the publish is retried, the message arrives once', async () => {
    const refused = () => gcp.requests.filter((r) => r.path.endsWith(':publish') && r.status === 503).length;
    const before = refused();
    gcp.faults.inject({ type: 'status', status: 503, match: { api: 'pubsub', path: ':publish' }, times: 2 });
    const m = rc.say('alice', 'general', 'The parking gate code changed to 4711.');
    await waitFor('the point', async () => {
      await settled();
      return (await pointsOf(m._id)).length === 1;
    });
    expect(refused() - before).toBe(2);
    await pullAudit();
    expect(accepted.filter((a) => a.messageId === m._id)).toHaveLength(1);
    const metrics = await (await fetch(`http://127.0.0.1:${listener?.port}/metrics`)).text();
    expect(metrics).toMatch(/mongo_listener_published_total\{op="upsert"\} [1-9]/);
  });

  it('Qdrant down for a while: the push fails, Pub/Sub redelivers after its backoff, one point', async () => {
    const failures = () =>
      gcp.functionLogs('vectorize-chat').filter((l) => l.includes('the event will be redelivered')).length;
    const before = failures();
    qdrant.state.unavailable = true;
    let m: { _id: string };
    try {
      m = rc.say('alice', 'general', 'The spare key for flat 3 is with the concierge.');
      await waitFor('the failed push', async () => {
        await settled();
        return failures() > before;
      });
    } finally {
      qdrant.state.unavailable = false;
    }
    await gcp.advance(10_000);
    expect(await pointsOf(m._id)).toHaveLength(1);
  });

  it('killed (SIGKILL) mid-stream and restarted: nothing lost, nothing duplicated in Qdrant', async () => {
    const before = (await kb.count('knowledge', { exact: true })).count;
    const first = Array.from({ length: 5 }, (_, i) =>
      rc.say('alice', 'general', `Inventory note ${i}: ${i + 2} towels in flat ${i}.`),
    );
    await waitFor('the first five accepted', async () => {
      await pullAudit();
      return first.every((m) => accepted.some((a) => a.messageId === m._id));
    });
    // From now on Pub/Sub publishes each message and then cuts the connection: the listener never
    // hears an acknowledgement, so its checkpoint stays before the sixth message. Then it is killed.
    gcp.faults.inject({ type: 'drop-response', match: { api: 'pubsub', path: ':publish' }, times: 1_000 });
    const rest = Array.from({ length: 25 }, (_, i) =>
      rc.say('alice', 'general', `Inventory note ${i + 5}: ${i + 7} towels in flat ${i + 5}.`),
    );
    await waitFor('a publish whose answer was lost', () => gcp.faults.remaining() < 1_000);
    listener?.child.kill('SIGKILL');
    await new Promise((r) => listener?.child.once('exit', r));
    gcp.faults.clear();
    await startListener();
    const sent = [...first, ...rest];
    await waitFor('all 30 indexed', async () => {
      await settled();
      return (await kb.count('knowledge', { exact: true })).count === before + 30;
    });
    for (const m of sent) expect(await pointsOf(m._id), m.msg).toHaveLength(1);
    await pullAudit();
    const sixth = accepted.filter((a) => a.messageId === rest[0]?._id).length;
    // The sixth was accepted by Pub/Sub before the kill and again after the restart: a duplicate
    // at Pub/Sub, one point in Qdrant; every message arrived.
    expect(sixth).toBeGreaterThanOrEqual(2);
    expect(sent.every((m) => accepted.some((a) => a.messageId === m._id))).toBe(true);
  });
});
