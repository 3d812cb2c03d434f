import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type FirestoreDocuments,
  startFirestoreDocuments,
  testServiceAccount,
} from '../../shared/firestore-documents.ts';
import { type RunningWorker, runWorker } from '../../shared/run-worker.ts';
import { hmacSha256Base64 } from '../../shared/verify.ts';

// The Guesty webhook Worker in workerd: Svix signatures, filtering, Firestore upserts, cron heartbeat.
const KEY = new TextEncoder().encode('0123456789abcdef0123456789abcdef');
const SECRET = `whsec_${Buffer.from(KEY).toString('base64')}`;
let firestore: FirestoreDocuments;
let worker: RunningWorker;

beforeAll(async () => {
  const account = await testServiceAccount();
  firestore = await startFirestoreDocuments({ publicKeyPem: account.publicKeyPem });
  worker = await runWorker('guesty-webhook', {
    GUESTY_WEBHOOK_SECRET: SECRET,
    GCP_SERVICE_ACCOUNT_KEY: account.keyJson,
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

  // Guesty's documented families (open-api-docs.guesty.com/docs/webhooks), and the v2 reservation events.
  for (const name of [
    'reservation.created.v2',
    'reservation.messageReceived',
    'listing.calendar.updated',
    'guest.deleted',
    'task.updated',
    'payments.received',
  ]) {
    it(`stores ${name}`, async () => {
      const body = JSON.stringify({ event: name, data: { _id: 'x1' } });
      const response = await send(body, await signed(body, `msg_${name}`));
      expect(response.status).toBe(200);
      expect(firestore.documents.get(`guesty-events/msg_${name}`)?.fields.event).toEqual({ stringValue: name });
    });
  }

  it('acknowledges events it does not store (202) so Guesty stops retrying', async () => {
    const body = JSON.stringify({ event: 'account.updated' });
    expect((await send(body, await signed(body))).status).toBe(202);
  });

  const badSecrets: [string, string][] = [
    ['not base64', 'whsec_***not-base64***'],
    ['too short', 'whsec_AAAA'],
    ['empty', ''],
  ];
  for (const [why, secret] of badSecrets) {
    it(`a signing secret ${why} is a configuration error (500 naming the binding), never an uncaught exception`, async () => {
      const broken = await runWorker('guesty-webhook', {
        GUESTY_WEBHOOK_SECRET: secret,
        GCP_PROJECT: 'demo-project',
        FIRESTORE_URL: firestore.url,
      });
      try {
        const body = JSON.stringify({ event: 'reservation.new' });
        const response = await broken.fetch('https://hooks.example.com/guesty', {
          method: 'POST',
          headers: await signed(body),
          body,
        });
        expect(response.status).toBe(500);
        const text = await response.text();
        expect(text).toContain('configuration error: GUESTY_WEBHOOK_SECRET');
        if (secret) expect(text).not.toContain(secret);
      } finally {
        await broken.close();
      }
    });
  }

  it('writes a heartbeat on its cron trigger', async () => {
    const before = firestore.requests.length;
    expect(await worker.scheduled('*/30 * * * *')).toBe('ok');
    expect(firestore.requests.slice(before).map((r) => r.path)).toEqual([
      '/v1/projects/demo-project/databases/(default)/documents/worker-heartbeats/guesty-webhook',
    ]);
  });
});
