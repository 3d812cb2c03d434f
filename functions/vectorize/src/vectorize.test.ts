import { QdrantClient } from '@qdrant/js-client-rest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type QdrantSimulator, startQdrantSimulator } from '../../../simulators/qdrant/index.ts';
import {
  firestoreWrittenEvent,
  pubsubEvent,
  type RunningFunction,
  startFunction,
} from '../../../test/support/flows-function.ts';
import { pointId } from './chunk.ts';
import { DEFAULT_EMBEDDING_MODEL } from './knowledge-settings.ts';

// The vectorize function in Google's Functions Framework (its own process), fed CloudEvents encoded
// as Eventarc sends them, writing to the Qdrant simulator (strict mode on, as Qdrant Cloud).
const PROJECT = 'demo-project';
let qdrant: QdrantSimulator;
let fn: RunningFunction;
let client: QdrantClient;

beforeAll(async () => {
  qdrant = await startQdrantSimulator({ apiKey: 'qk' });
  client = new QdrantClient({ url: qdrant.url, apiKey: 'qk', checkCompatibility: false });
  fn = await startFunction('vectorize', 'vectorize', {
    QDRANT_URL: qdrant.url,
    QDRANT_API_KEY: 'qk',
    QDRANT_COLLECTION: 'kb',
  });
});
afterAll(async () => {
  await fn?.stop();
  await qdrant?.close();
});

const docName = (path: string) => `projects/${PROJECT}/databases/(default)/documents/${path}`;
const s = (v: string) => ({ stringValue: v });
const callDoc = (path: string, occurredAt: string, data: Record<string, unknown>) => ({
  name: docName(path),
  fields: {
    source: s('aircall'),
    event: s('call.ended'),
    resource: s('call'),
    occurredAt: { timestampValue: occurredAt },
    data: { mapValue: { fields: data } },
  },
  updateTime: occurredAt,
});
const points = async (filter?: Record<string, unknown>) =>
  (await client.scroll('kb', { limit: 100, with_payload: true, ...(filter ? { filter } : {}) })).points;

describe('vectorize in the Functions Framework', () => {
  it('creates the collection with its payload indexes and indexes a call under a deterministic id', async () => {
    const doc = callDoc('aircall-events/call.ended-812-1700000000', '2023-11-14T22:13:20Z', {
      id: { integerValue: '812' },
      direction: s('inbound'),
      raw_digits: s('+33 1 23 45 67 89'),
      status: s('done'),
      duration: { integerValue: '95' },
      comments: {
        arrayValue: {
          values: [{ mapValue: { fields: { content: s('Guest asked about late check-in after midnight') } } }],
        },
      },
    });
    expect(await fn.send(firestoreWrittenEvent(PROJECT, undefined, doc))).toBe(204);
    const info = await client.getCollection('kb');
    expect(Object.keys(info.payload_schema).sort()).toEqual([
      'chunk',
      'document',
      'model',
      'room',
      'source',
      'sourceId',
    ]);
    const found = await points();
    expect(found.map((p) => p.id)).toEqual([pointId('aircall:call/812', 0)]);
    expect(found[0]?.payload).toMatchObject({
      source: 'call',
      sourceId: 'aircall:call/812',
      model: DEFAULT_EMBEDDING_MODEL,
      document: 'aircall-events/call.ended-812-1700000000',
    });
    expect(String(found[0]?.payload?.text)).toContain('late check-in after midnight');
    // The same event again (Eventarc delivers at least once): same point, nothing added.
    expect(await fn.send(firestoreWrittenEvent(PROJECT, undefined, doc))).toBe(204);
    expect((await client.count('kb')).count).toBe(1);
  });

  it('finds the call by meaning of its words through a query document, as the LLM Worker asks', async () => {
    const r = await client.query('kb', {
      query: { text: 'late check-in', model: DEFAULT_EMBEDDING_MODEL },
      limit: 1,
      with_payload: true,
    });
    expect(r.points[0]?.payload?.sourceId).toBe('aircall:call/812');
  });

  it('a long transcript becomes several chunks; a shorter version removes the extra chunks', async () => {
    const long = Array.from({ length: 300 }, (_, i) => `word${i}`).join(' ');
    const transcript = (text: string, at: string) => ({
      name: docName('aircall-events/transcription.created-5-1'),
      fields: {
        event: s('transcription.created'),
        occurredAt: { timestampValue: at },
        data: {
          mapValue: {
            fields: {
              id: { integerValue: '5' },
              call_id: { integerValue: '77' },
              content: {
                mapValue: {
                  fields: {
                    utterances: {
                      arrayValue: {
                        values: [{ mapValue: { fields: { participant_type: s('external'), text: s(text) } } }],
                      },
                    },
                  },
                },
              },
            },
          },
        },
      },
    });
    expect(await fn.send(firestoreWrittenEvent(PROJECT, undefined, transcript(long, '2024-01-01T00:00:00Z')))).toBe(
      204,
    );
    expect((await points({ must: [{ key: 'sourceId', match: { value: 'aircall:transcription/77' } }] })).length).toBe(
      3,
    );
    expect(
      await fn.send(firestoreWrittenEvent(PROJECT, undefined, transcript('short now', '2024-01-01T00:01:00Z'))),
    ).toBe(204);
    const after = await points({ must: [{ key: 'sourceId', match: { value: 'aircall:transcription/77' } }] });
    expect(after.map((p) => p.payload?.chunk)).toEqual([0]);
    // An older event delivered late does not overwrite the newer text.
    expect(await fn.send(firestoreWrittenEvent(PROJECT, undefined, transcript(long, '2024-01-01T00:00:00Z')))).toBe(
      204,
    );
    expect((await points({ must: [{ key: 'sourceId', match: { value: 'aircall:transcription/77' } }] })).length).toBe(
      1,
    );
  });

  it('a deleted document deletes its points', async () => {
    const doc = callDoc('aircall-events/call.ended-812-1700000000', '2023-11-14T22:13:20Z', {
      id: { integerValue: '812' },
    });
    expect(await fn.send(firestoreWrittenEvent(PROJECT, doc, undefined))).toBe(204);
    expect(await points({ must: [{ key: 'sourceId', match: { value: 'aircall:call/812' } }] })).toEqual([]);
  });

  it('RocketChat messages from Pub/Sub: upsert, then delete', async () => {
    const message = {
      _id: 'm1',
      rid: 'GENERAL',
      msg: 'The boiler in flat 3 was fixed on Monday',
      u: { username: 'alice' },
      ts: '2024-02-01T10:00:00Z',
    };
    const publish = (data: unknown, id: string) =>
      fn.send(
        pubsubEvent(PROJECT, 'rocketchat-messages', {
          data: Buffer.from(JSON.stringify(data)).toString('base64'),
          attributes: { messageId: 'm1' },
          messageId: id,
          orderingKey: 'GENERAL',
        }),
      );
    expect(await publish({ op: 'upsert', messageId: 'm1', message }, 'p1')).toBe(204);
    const stored = await points({ must: [{ key: 'sourceId', match: { value: 'rocketchat:m1' } }] });
    expect(stored[0]?.payload).toMatchObject({ source: 'message', room: 'GENERAL' });
    expect(await publish({ op: 'delete', messageId: 'm1' }, 'p2')).toBe(204);
    expect(await points({ must: [{ key: 'sourceId', match: { value: 'rocketchat:m1' } }] })).toEqual([]);
  });

  it('Qdrant down: the function fails so the platform redelivers; the redelivery succeeds', async () => {
    const doc = callDoc('aircall-events/call.ended-900-1700000100', '2023-11-14T22:15:00Z', {
      id: { integerValue: '900' },
      status: s('done'),
    });
    const event = firestoreWrittenEvent(PROJECT, undefined, doc);
    qdrant.state.unavailable = true;
    try {
      expect(await fn.send(event)).toBe(500);
    } finally {
      qdrant.state.unavailable = false;
    }
    expect(await points({ must: [{ key: 'sourceId', match: { value: 'aircall:call/900' } }] })).toEqual([]);
    expect(await fn.send(event)).toBe(204);
    expect((await points({ must: [{ key: 'sourceId', match: { value: 'aircall:call/900' } }] })).length).toBe(1);
  });

  it('a document split for size is acknowledged without a point (its text is in parts the event does not carry)', async () => {
    const split = {
      name: docName('aircall-events/summary.created-6-3'),
      fields: {
        event: s('summary.created'),
        splitFields: { arrayValue: { values: [s('data')] } },
        splitParts: { integerValue: '3' },
      },
    };
    expect(await fn.send(firestoreWrittenEvent(PROJECT, undefined, split))).toBe(204);
    expect(fn.logs.some((l) => l.includes('summary.created-6-3') && l.includes('the sync app indexes it'))).toBe(true);
  });

  it('a document that can never be indexed is acknowledged and logged with its path', async () => {
    const bad = { name: docName('aircall-events/broken-1'), fields: { data: { mapValue: { fields: {} } } } };
    expect(await fn.send(firestoreWrittenEvent(PROJECT, undefined, bad))).toBe(204);
    const line = fn.logs.find((l) => l.includes('documents/aircall-events/broken-1'));
    expect(line).toBeDefined();
    expect(JSON.parse(line as string)).toMatchObject({
      severity: 'ERROR',
      result: 'rejected',
      problem: 'field "event" is missing',
    });
    const garbage = firestoreWrittenEvent(PROJECT, undefined, bad);
    expect(await fn.send({ ...garbage, body: new Uint8Array([0x0a, 0xff, 0xff, 0xff]) })).toBe(204);
  });
});
