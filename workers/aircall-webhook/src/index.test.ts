import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FirestoreCapture, startFirestoreCapture } from '../../shared/firestore-capture.ts';
import { type RunningWorker, runWorker } from '../../shared/run-worker.ts';

// The Aircall webhook Worker, bundled as keelson deploys it, running in workerd.
let firestore: FirestoreCapture;
let worker: RunningWorker;

beforeAll(async () => {
  firestore = await startFirestoreCapture();
  worker = await runWorker('aircall-webhook', {
    AIRCALL_WEBHOOK_TOKEN: 'tok-123',
    FIRESTORE_TOKEN: 'fs-token',
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

describe('aircall-webhook Worker', () => {
  it('stores a valid event in Firestore under a stable id and answers 200', async () => {
    const before = firestore.requests.length;
    const response = await post(callCreated);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ stored: 'call.created-812-1700000000' });
    const written = firestore.requests.slice(before);
    expect(written).toHaveLength(1);
    expect(written[0]?.method).toBe('PATCH');
    expect(written[0]?.path).toBe(
      '/v1/projects/demo-project/databases/(default)/documents/aircall-events/call.created-812-1700000000',
    );
    expect(written[0]?.authorization).toBe('Bearer fs-token');
    const fields = (written[0]?.body as { fields: Record<string, unknown> } | undefined)?.fields ?? {};
    expect(fields.event).toEqual({ stringValue: 'call.created' });
    expect(fields.direction).toEqual({ stringValue: 'inbound' });
    expect(fields.occurredAt).toEqual({ timestampValue: '2023-11-14T22:13:20.000Z' });
    // the webhook token is a credential: it is never stored
    expect(JSON.stringify(fields)).not.toContain('tok-123');
  });

  const rejected: [string, unknown, number][] = [
    ['a wrong token is refused before anything else', { ...callCreated, token: 'nope' }, 401],
    ['a missing token is refused', { ...callCreated, token: undefined }, 401],
    ['an unknown resource is a bad request', { ...callCreated, resource: 'invoice', event: 'invoice.paid' }, 400],
    ['an event without data.id is a bad request', { ...callCreated, data: {} }, 400],
    ['an event not matching its resource is a bad request', { ...callCreated, event: 'contact.created' }, 400],
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
});
