import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FirestoreCapture, startFirestoreCapture } from '../../shared/firestore-capture.ts';
import { type RunningWorker, runWorker } from '../../shared/run-worker.ts';
import { hmacSha256Base64 } from '../../shared/verify.ts';

// The Guesty webhook Worker in workerd: Svix signatures, filtering, Firestore upserts, cron heartbeat.
const KEY = new TextEncoder().encode('0123456789abcdef0123456789abcdef');
const SECRET = `whsec_${Buffer.from(KEY).toString('base64')}`;
let firestore: FirestoreCapture;
let worker: RunningWorker;

beforeAll(async () => {
  firestore = await startFirestoreCapture();
  worker = await runWorker('guesty-webhook', {
    GUESTY_WEBHOOK_SECRET: SECRET,
    GCP_PROJECT: 'demo-project',
    FIRESTORE_URL: firestore.url,
  });
});
afterAll(async () => {
  await worker?.close();
  await firestore?.close();
});

async function signed(body: string, id = 'msg_1', ts = Math.floor(Date.now() / 1000)) {
  const sig = await hmacSha256Base64(KEY, `${id}.${ts}.${body}`);
  return { 'svix-id': id, 'svix-timestamp': String(ts), 'svix-signature': `v1,${sig}` };
}

const send = (body: string, headers: Record<string, string>) =>
  worker.fetch('https://hooks.example.com/guesty', { method: 'POST', headers, body });

describe('guesty-webhook Worker', () => {
  it('stores a signed reservation event under its message id', async () => {
    const body = JSON.stringify({ event: 'reservation.new', reservation: { _id: 'r1', status: 'confirmed' } });
    const before = firestore.requests.length;
    const response = await send(body, await signed(body, 'msg_42'));
    expect(response.status).toBe(200);
    const written = firestore.requests.slice(before);
    expect(written.map((r) => r.path)).toEqual([
      '/v1/projects/demo-project/databases/(default)/documents/guesty-events/msg_42',
    ]);
  });

  it('refuses a tampered body, a stale timestamp and missing headers (401), writing nothing', async () => {
    const body = JSON.stringify({ event: 'reservation.new' });
    const before = firestore.requests.length;
    const headers = await signed(body);
    expect((await send(body.replace('new', 'updated'), headers)).status).toBe(401);
    expect((await send(body, await signed(body, 'msg_1', Math.floor(Date.now() / 1000) - 3600))).status).toBe(401);
    expect((await send(body, {})).status).toBe(401);
    expect(firestore.requests.length).toBe(before);
  });

  it('acknowledges events it does not store (202) so Guesty stops retrying', async () => {
    const body = JSON.stringify({ event: 'task.created' });
    expect((await send(body, await signed(body))).status).toBe(202);
  });

  it('writes a heartbeat on its cron trigger', async () => {
    const before = firestore.requests.length;
    expect(await worker.scheduled('*/30 * * * *')).toBe('ok');
    expect(firestore.requests.slice(before).map((r) => r.path)).toEqual([
      '/v1/projects/demo-project/databases/(default)/documents/worker-heartbeats/guesty-webhook',
    ]);
  });
});
