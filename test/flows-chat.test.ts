import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { QdrantClient } from '@qdrant/js-client-rest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MongoSimulator } from '../simulators/mongodb/index.ts';
import { type QdrantSimulator, startQdrantSimulator } from '../simulators/qdrant/index.ts';
import { type RocketChatSimulator, startRocketChatSimulator } from '../simulators/rocketchat/index.ts';
import { freePort, type RunningFunction, startFunction } from './support/flows-function.ts';
import { serveChangeStreams } from './support/flows-mongo-bridge.ts';
import { type PubSubStandIn, startPubSubStandIn } from './support/flows-pubsub.ts';
import { waitFor } from './support/wait-for.ts';

// Flow 2: a RocketChat message → MongoDB change stream → mongo-listener (its own Node process) →
// Pub/Sub → vectorize (Functions Framework) → a Qdrant point; edits and deletes follow; the listener
// killed with SIGKILL mid-stream and restarted loses nothing and duplicates nothing in Qdrant.
// MongoDB is the change-stream simulator, reached from the listener process over an IPC bridge in
// place of the driver's connection; Pub/Sub is the loopback publish stand-in (not yet the GCP simulator).
const PROJECT = 'company-prod';
let mongo: MongoSimulator;
let rc: RocketChatSimulator;
let qdrant: QdrantSimulator;
let vectorize: RunningFunction;
let pubsub: PubSubStandIn;
let kb: QdrantClient;
const checkpointDir = mkdtempSync(join(tmpdir(), 'flows-listener-'));
let listener: { child: ChildProcess; port: number; output: string[] } | undefined;

async function startListener() {
  const port = await freePort();
  const output: string[] = [];
  const child = fork(resolve(import.meta.dirname, 'support/flows-listener-child.ts'), [], {
    env: {
      ...process.env,
      MONGO_URL: 'ipc://mongodb-simulator',
      GCP_PROJECT_ID: PROJECT,
      GCP_API_ENDPOINT: pubsub.url,
      GCP_ACCESS_TOKEN: 'test-token',
      PUBSUB_TOPIC: 'rocketchat-messages',
      CHECKPOINT_PATH: join(checkpointDir, 'checkpoint.json'),
      HTTP_PORT: String(port),
      SKIP_USERS: 'kb-bot',
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

beforeAll(async () => {
  mongo = new MongoSimulator();
  [rc, qdrant] = await Promise.all([
    startRocketChatSimulator({
      users: [{ username: 'alice', password: 'a' }],
      messageStore: mongo.collection('rocketchat_message') as never,
    }),
    startQdrantSimulator({ apiKey: 'qdrant-key' }),
  ]);
  kb = new QdrantClient({ url: qdrant.url, apiKey: 'qdrant-key', checkCompatibility: false });
  vectorize = await startFunction('vectorize', 'vectorize', { QDRANT_URL: qdrant.url, QDRANT_API_KEY: 'qdrant-key' });
  pubsub = await startPubSubStandIn(PROJECT, vectorize);
  await startListener();
}, 120_000);
afterAll(async () => {
  listener?.child.kill('SIGKILL');
  await vectorize?.stop();
  await Promise.all([rc?.close(), qdrant?.close(), pubsub?.close()]);
});

const pointsOf = async (messageId: string) =>
  (
    await kb.scroll('knowledge', {
      filter: { must: [{ key: 'sourceId', match: { value: `rocketchat:${messageId}` } }] },
      with_payload: true,
    })
  ).points;
const settled = async () => {
  await pubsub.idle();
};

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
    const ops = pubsub.published
      .filter((p) => p.attributes.messageId === m._id)
      .map((p) => [p.attributes.op, p.orderingKey]);
    expect(ops).toEqual([
      ['upsert', 'GENERAL'],
      ['upsert', 'GENERAL'],
      ['delete', 'GENERAL'],
    ]);
  });

  it('system messages are not published', async () => {
    const joined = rc.join('alice', 'general');
    const marker = rc.say('alice', 'general', 'marker after the join');
    await waitFor('the marker published', () => pubsub.published.some((p) => p.attributes.messageId === marker._id));
    expect(pubsub.published.some((p) => p.attributes.messageId === joined._id)).toBe(false);
  });

  it('Pub/Sub refusing publishes for a while: the publish is retried, the message arrives once', async () => {
    const refused = pubsub.refused;
    pubsub.failPublishes = 2;
    const m = rc.say('alice', 'general', 'The parking gate code changed to 4711.');
    await waitFor('the point', async () => {
      await settled();
      return (await pointsOf(m._id)).length === 1;
    });
    // The Pub/Sub client retries UNAVAILABLE itself; the listener retries what the client gives up on.
    expect(pubsub.refused - refused).toBe(2);
    expect(pubsub.published.filter((p) => p.attributes.messageId === m._id)).toHaveLength(1);
    const metrics = await (await fetch(`http://127.0.0.1:${listener?.port}/metrics`)).text();
    expect(metrics).toMatch(/mongo_listener_published_total\{op="upsert"\} [1-9]/);
  });

  it('killed (SIGKILL) mid-stream and restarted: nothing lost, nothing duplicated in Qdrant', async () => {
    const before = (await kb.count('knowledge', { exact: true })).count;
    // Pub/Sub answers five publishes, then leaves the sixth unanswered: the listener is killed
    // with that publish in flight (sent, not acknowledged, so not checkpointed).
    pubsub.holdAfter(5);
    const sent = Array.from({ length: 30 }, (_, i) =>
      rc.say('alice', 'general', `Inventory note ${i}: ${i + 2} towels in flat ${i}.`),
    );
    await waitFor('a publish in flight', () => pubsub.held === 1);
    listener?.child.kill('SIGKILL');
    await new Promise((r) => listener?.child.once('exit', r));
    // Pub/Sub accepts the in-flight message after all (its acknowledgement is lost with the process).
    pubsub.release();
    const publishedOf = () => pubsub.published.filter((p) => sent.some((s) => s._id === p.attributes.messageId)).length;
    await waitFor('the in-flight message accepted', () => publishedOf() === 6);
    await startListener();
    await waitFor('all 30 indexed', async () => {
      await settled();
      return (await kb.count('knowledge', { exact: true })).count === before + 30;
    });
    for (const m of sent.slice(0, 3)) expect(await pointsOf(m._id)).toHaveLength(1);
    const publishes = pubsub.published.filter((p) => sent.some((s) => s._id === p.attributes.messageId));
    expect(new Set(publishes.map((p) => p.attributes.messageId)).size).toBe(30);
    // The in-flight one was published again after the restart: a duplicate at Pub/Sub, one point in Qdrant.
    expect(publishes.filter((p) => p.attributes.messageId === sent[5]?._id)).toHaveLength(2);
    expect(await pointsOf(sent[5]?._id ?? '')).toHaveLength(1);
  });
});
