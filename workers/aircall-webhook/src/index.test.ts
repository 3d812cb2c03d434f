import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type FirestoreDocuments,
  startFirestoreDocuments,
  testServiceAccount,
} from '../../shared/firestore-documents.ts';
import { type RunningWorker, runWorker } from '../../shared/run-worker.ts';

// The Aircall webhook Worker, bundled as keelson deploys it, running in workerd, writing to a
// Firestore documents stand-in that verifies the Worker's self-signed service-account JWT.
let firestore: FirestoreDocuments;
let worker: RunningWorker;

beforeAll(async () => {
  const account = await testServiceAccount();
  firestore = await startFirestoreDocuments({ publicKeyPem: account.publicKeyPem });
  worker = await runWorker('aircall-webhook', {
    AIRCALL_WEBHOOK_TOKEN: 'tok-123',
    GCP_SERVICE_ACCOUNT_KEY: account.keyJson,
    GCP_PROJECT: 'demo-project',
    FIRESTORE_URL: firestore.url,
  });
});
afterAll(async () => {
  await worker?.close();
  await firestore?.close();
});

const callCreated = {
  resource: 'call',
  event: 'call.created',
  timestamp: 1_700_000_000,
  token: 'tok-123',
  data: { id: 812, direction: 'inbound', status: 'initial', duration: 0, raw_digits: '+33 1 23 45 67 89' },
};

const post = (body: unknown) =>
  worker.fetch('https://hooks.example.com/aircall', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
const fieldsOf = (id: string) => firestore.documents.get(`aircall-events/${id}`)?.fields ?? {};

describe('aircall-webhook Worker', () => {
  it('stores a valid event under a stable id with a signed service-account token, and answers 200', async () => {
    const before = firestore.requests.length;
    const response = await post(callCreated);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ stored: 'call.created-812-1700000000' });
    const written = firestore.requests.slice(before);
    expect(written.map((r) => [r.method, r.path])).toEqual([
      ['PATCH', '/v1/projects/demo-project/databases/(default)/documents/aircall-events/call.created-812-1700000000'],
    ]);
    // A JWT (header.claims.signature) the stand-in verified against the key's public half.
    expect(written[0]?.authorization).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    const fields = fieldsOf('call.created-812-1700000000');
    expect(fields.event).toEqual({ stringValue: 'call.created' });
    expect(fields.direction).toEqual({ stringValue: 'inbound' });
    expect(fields.occurredAt).toEqual({ timestampValue: '2023-11-14T22:13:20.000Z' });
    // the webhook token is a credential: it is never stored
    expect(JSON.stringify(fields)).not.toContain('tok-123');
  });

  it('reuses its token across requests (signs once per hour, not per request)', async () => {
    const before = firestore.requests.length;
    await post({ ...callCreated, event: 'call.answered' });
    await post({ ...callCreated, event: 'call.ended' });
    const tokens = new Set(firestore.requests.slice(before - 1).map((r) => r.authorization));
    expect(tokens.size).toBe(1);
  });

  const stored: [string, Record<string, unknown>, string][] = [
    [
      'an AI transcription event',
      {
        resource: 'transcription',
        event: 'transcription.created',
        data: { id: 5, call_id: 812, content: { utterances: [] } },
      },
      'transcription.created-5-1700000000',
    ],
    [
      'a summary event',
      {
        resource: 'summary',
        event: 'summary.created',
        data: { id: 6, call_id: 812, content: 'Guest asked for a late check-in.' },
      },
      'summary.created-6-1700000000',
    ],
    [
      'an event type Aircall adds tomorrow',
      { resource: 'hologram', event: 'hologram.beamed', data: { id: 7 } },
      'hologram.beamed-7-1700000000',
    ],
  ];
  for (const [what, event, id] of stored) {
    it(`stores ${what} and answers 200 (Aircall disables webhooks that keep failing)`, async () => {
      const response = await post({ timestamp: 1_700_000_000, token: 'tok-123', ...event });
      expect(response.status).toBe(200);
      expect(fieldsOf(id).event).toEqual({ stringValue: event.event });
    });
  }

  it('stores a malformed event as such, under the hash of its body, and answers 200', async () => {
    const response = await post({ ...callCreated, data: {} });
    expect(response.status).toBe(200);
    const { stored: id } = (await response.json()) as { stored: string };
    expect(id).toMatch(/^malformed-[0-9a-f]{32}$/);
    expect(JSON.stringify(fieldsOf(id).problems)).toContain('data.id is missing');
  });

  it('arrays inside arrays and documents over 1 MiB are written, not refused by Firestore', async () => {
    const nested = await post({
      ...callCreated,
      event: 'call.tagged',
      data: {
        id: 813,
        matrix: [
          [1, 2],
          [3, [4]],
        ],
      },
    });
    expect(nested.status).toBe(200);
    expect(fieldsOf('call.tagged-813-1700000000').data).toMatchObject({
      mapValue: {
        fields: { matrix: { arrayValue: { values: [{ stringValue: '[1,2]' }, { stringValue: '[3,[4]]' }] } } },
      },
    });
    const huge = 'x'.repeat(1_500_000);
    const big = await post({
      ...callCreated,
      event: 'call.commented',
      data: { id: 814, comments: [{ content: huge }] },
    });
    expect(big.status).toBe(200);
    const main = fieldsOf('call.commented-814-1700000000');
    expect(main.splitFields).toEqual({ arrayValue: { values: [{ stringValue: 'data' }] } });
    const parts = Number((main.splitParts as { integerValue: string }).integerValue);
    let json = '';
    for (let n = 0; n < parts; n++)
      json += String(
        firestore.documents.get(`aircall-events/call.commented-814-1700000000/parts/${String(n).padStart(3, '0')}`)
          ?.fields.json?.['stringValue' as never],
      );
    expect(JSON.parse(json).data.comments[0].content).toHaveLength(1_500_000);
  });

  const rejected: [string, unknown, number][] = [
    ['a wrong token is refused before anything else', { ...callCreated, token: 'nope' }, 401],
    ['a missing token is refused', { ...callCreated, token: undefined }, 401],
    ['a body that is not an object is a bad request', [1, 2], 400],
  ];
  for (const [why, body, status] of rejected) {
    it(`${why} (${status}), and nothing is written`, async () => {
      const before = firestore.requests.length;
      expect((await post(body)).status).toBe(status);
      expect(firestore.requests.length).toBe(before);
    });
  }

  it('answers 405 to anything but POST', async () => {
    expect((await worker.fetch('https://hooks.example.com/aircall')).status).toBe(405);
  });

  it('answers 502 when Firestore fails, so Aircall retries', async () => {
    firestore.failWith = 503;
    try {
      expect((await post(callCreated)).status).toBe(502);
    } finally {
      firestore.failWith = undefined;
    }
  });

  it('a broken service-account key is a configuration error (500) that names the secret, never its value', async () => {
    const broken = await runWorker('aircall-webhook', {
      AIRCALL_WEBHOOK_TOKEN: 'tok-123',
      GCP_SERVICE_ACCOUNT_KEY:
        '{"client_email":"a@b","private_key":"-----BEGIN PRIVATE KEY-----\\nAAAA\\n-----END PRIVATE KEY-----"}',
      GCP_PROJECT: 'demo-project',
      FIRESTORE_URL: firestore.url,
    });
    try {
      const response = await broken.fetch('https://hooks.example.com/aircall', {
        method: 'POST',
        body: JSON.stringify(callCreated),
      });
      expect(response.status).toBe(500);
      const text = await response.text();
      expect(text).toContain('private_key');
      expect(text).not.toContain('AAAA');
    } finally {
      await broken.close();
    }
  });
});
