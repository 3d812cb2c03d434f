import { QdrantClient } from '@qdrant/js-client-rest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type QdrantSimulator, startQdrantSimulator } from './index.ts';

// The simulator driven by Qdrant's official client: what the client accepts is what the flows rely on.
const MODEL = 'sentence-transformers/all-minilm-l6-v2';
let sim: QdrantSimulator;
let client: QdrantClient;

beforeAll(async () => {
  sim = await startQdrantSimulator({ apiKey: 'qk' });
  client = new QdrantClient({ url: sim.url, apiKey: 'qk', checkCompatibility: false });
});
afterAll(() => sim?.close());

const errorOf = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    return err as { status?: number; message: string; data?: { status?: { error?: string } } };
  }
  throw new Error('expected a failure');
};

describe('Qdrant simulator through @qdrant/js-client-rest', () => {
  it('answers the version the client checks', async () => {
    expect((await client.versionInfo()).version).toMatch(/^1\.\d+\.\d+$/);
  });

  it('creates a collection once, reports it, refuses a second create', async () => {
    expect((await client.collectionExists('kb')).exists).toBe(false);
    expect(await client.createCollection('kb', { vectors: { size: 384, distance: 'Cosine' } })).toBe(true);
    expect((await client.collectionExists('kb')).exists).toBe(true);
    const info = await client.getCollection('kb');
    expect(info.config.params.vectors).toEqual({ size: 384, distance: 'Cosine' });
    const again = await errorOf(client.createCollection('kb', { vectors: { size: 384, distance: 'Cosine' } }));
    expect(again.status).toBe(409);
    expect((await errorOf(client.getCollection('nope'))).status).toBe(404);
  });

  it('embeds inference documents server-side and finds lexical matches first', async () => {
    await client.createPayloadIndex('kb', { field_name: 'source', field_schema: 'keyword', wait: true });
    await client.upsert('kb', {
      wait: true,
      points: [
        {
          id: 1,
          vector: { text: 'Check-in is at 3pm, check-out at 11am.', model: MODEL },
          payload: { source: 'faq', text: 'check-in' },
        },
        {
          id: 2,
          vector: { text: 'The wifi password is on the fridge.', model: MODEL },
          payload: { source: 'faq', text: 'wifi' },
        },
        {
          id: '6f1c2e4a-9b7d-4c3e-8a1f-2b3c4d5e6f70',
          vector: { text: 'Parking is free in the garage under the building.', model: MODEL },
          payload: { source: 'call', text: 'parking' },
        },
      ],
    });
    const found = await client.query('kb', {
      query: { text: 'what is the wifi password?', model: MODEL },
      limit: 2,
      with_payload: true,
    });
    expect(found.points[0]?.id).toBe(2);
    expect(found.points[0]?.payload?.text).toBe('wifi');
    const parking = await client.query('kb', {
      query: { text: 'where can I park? garage', model: MODEL },
      limit: 1,
      with_payload: true,
    });
    expect(parking.points[0]?.id).toBe('6f1c2e4a-9b7d-4c3e-8a1f-2b3c4d5e6f70');
    const onlyCalls = await client.query('kb', {
      query: { text: 'wifi password', model: MODEL },
      filter: { must: [{ key: 'source', match: { value: 'call' } }] },
      with_payload: true,
    });
    expect(onlyCalls.points.map((p) => p.payload?.text)).toEqual(['parking']);
  });

  it('upserts are idempotent by id; count, scroll and retrieve agree', async () => {
    await client.upsert('kb', {
      wait: true,
      points: [
        {
          id: 2,
          vector: { text: 'The wifi password is taped under the router.', model: MODEL },
          payload: { source: 'faq', text: 'wifi v2' },
        },
      ],
    });
    expect((await client.count('kb', { exact: true })).count).toBe(3);
    const page = await client.scroll('kb', { limit: 2, with_payload: true });
    expect(page.points.map((p) => p.id)).toEqual([1, 2]);
    const rest = await client.scroll('kb', { limit: 2, offset: page.next_page_offset as number | string });
    expect(rest.points).toHaveLength(1);
    expect(rest.next_page_offset).toBeNull();
    expect((await client.retrieve('kb', { ids: [2] }))[0]?.payload?.text).toBe('wifi v2');
  });

  it('strict mode (as Qdrant Cloud): filtering on a field without an index is refused', async () => {
    const err = await errorOf(client.count('kb', { filter: { must: [{ key: 'room', match: { value: 'x' } }] } }));
    expect(err.status).toBe(400);
    expect(err.data?.status?.error).toContain('Index required but not found for "room"');
  });

  it('deletes by ids and by filter', async () => {
    await client.delete('kb', { wait: true, points: [1] });
    expect((await client.count('kb')).count).toBe(2);
    await client.delete('kb', { wait: true, filter: { must: [{ key: 'source', match: { value: 'call' } }] } });
    expect((await client.scroll('kb')).points.map((p) => p.id)).toEqual([2]);
  });

  it('refuses bad input the way Qdrant does', async () => {
    const wrongDim = await errorOf(client.upsert('kb', { wait: true, points: [{ id: 9, vector: [1, 2, 3] }] }));
    expect(wrongDim.status).toBe(400);
    expect(wrongDim.data?.status?.error).toContain('expected dim: 384, got 3');
    const badId = await errorOf(
      client.upsert('kb', { wait: true, points: [{ id: 'not-a-uuid', vector: { text: 'x', model: MODEL } }] }),
    );
    expect(badId.status).toBe(400);
    const badModel = await errorOf(
      client.upsert('kb', { wait: true, points: [{ id: 10, vector: { text: 'x', model: 'no/such-model' } }] }),
    );
    expect(badModel.data?.status?.error).toContain('no/such-model');
    expect((await client.count('kb')).count).toBe(1);
  });

  it('refuses a missing or wrong API key, and answers 503 while unavailable', async () => {
    const anonymous = new QdrantClient({ url: sim.url, checkCompatibility: false });
    expect((await errorOf(anonymous.getCollections())).status).toBe(401);
    const wrong = new QdrantClient({ url: sim.url, apiKey: 'nope', checkCompatibility: false });
    expect((await errorOf(wrong.getCollections())).status).toBe(403);
    sim.state.unavailable = true;
    try {
      expect((await errorOf(client.getCollections())).status).toBe(503);
    } finally {
      sim.state.unavailable = false;
    }
  });
});
