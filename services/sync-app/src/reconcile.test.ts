import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QdrantClient } from '@qdrant/js-client-rest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KnowledgeIndex } from '../../../functions/vectorize/src/knowledge-index.ts';
import { type GcpSimulator, startGcpSimulator } from '../../../providers/gcp/simulator/index.ts';
import { type GroqSimulator, startGroqSimulator } from '../../../simulators/groq/index.ts';
import { type QdrantSimulator, startQdrantSimulator } from '../../../simulators/qdrant/index.ts';
import { upsertDocument } from '../../../workers/shared/firestore-rest.ts';
import { FirestoreReader } from './firestore-reader.ts';
import { syncMetrics } from './metrics.ts';
import { reconcileKnowledge, type SyncDeps } from './reconcile.ts';
import { S3Archive } from './s3-archive.ts';

// The sync app's reconciliation against the GCP simulator's Firestore (documents written with the
// Workers' own upsert, a split one included), the Qdrant and Groq simulators, an S3 server
// (@20minutes/s3rver, which checks the SigV4 signature) standing in for SeaweedFS, and a loopback
// server holding a call recording.
const require = createRequire(import.meta.url);
const S3rver = require('@20minutes/s3rver') as new (
  o: Record<string, unknown>,
) => { run(): Promise<AddressInfo>; close(): Promise<void> };
const MODEL = 'sentence-transformers/all-minilm-l6-v2';
let gcp: GcpSimulator;
let qdrant: QdrantSimulator;
let groq: GroqSimulator;
let s3: { run(): Promise<AddressInfo>; close(): Promise<void> };
let s3Url: string;
let recordings: Server;
let recordingUrl: string;
let downloads = 0;
let kb: QdrantClient;

beforeAll(async () => {
  [gcp, qdrant, groq] = await Promise.all([
    startGcpSimulator({ runFunctions: false, projectId: 'company-prod' }),
    startQdrantSimulator(),
    startGroqSimulator({ apiKeys: ['gsk_sync'], requestsPerMinute: 1000, tokensPerMinute: 1_000_000 }),
  ]);
  s3 = new S3rver({
    port: 0,
    address: '127.0.0.1',
    silent: true,
    directory: mkdtempSync(join(tmpdir(), 's3rver-')),
    configureBuckets: [{ name: 'knowledge-archive' }],
  });
  s3Url = `http://127.0.0.1:${(await s3.run()).port}`;
  recordings = createServer((_req, res) => {
    downloads++;
    res.writeHead(200, { 'content-type': 'audio/mpeg' });
    res.end(Buffer.from('ID3 fake mp3 bytes'));
  });
  await new Promise<void>((r) => recordings.listen(0, '127.0.0.1', r));
  recordingUrl = `http://127.0.0.1:${(recordings.address() as AddressInfo).port}/rec/812.mp3?token=short-lived`;
  kb = new QdrantClient({ url: qdrant.url, checkCompatibility: false });

  const target = { baseUrl: gcp.url, projectId: gcp.projectId, accessToken: gcp.env.GCP_ACCESS_TOKEN };
  const event = (event: string, data: Record<string, unknown>, at: number) => ({
    source: 'aircall',
    event,
    occurredAt: new Date(at * 1000),
    data,
  });
  await upsertDocument(
    target,
    'aircall-events',
    'call.ended-812-1',
    event(
      'call.ended',
      {
        id: 812,
        direction: 'inbound',
        status: 'done',
        recording: recordingUrl,
        comments: [{ content: 'Late check-in agreed' }],
      },
      1,
    ),
  );
  const transcript = Array.from({ length: 700 }, (_, i) => `word${i}`).join(' ');
  await upsertDocument(
    target,
    'aircall-events',
    'transcription.created-5-2',
    event(
      'transcription.created',
      {
        id: 5,
        call_id: 812,
        content: {
          utterances: [{ participant_type: 'external', text: `The guest asks about parking. ${transcript}` }],
        },
      },
      2,
    ),
  );
  // Over 1 MiB: the Worker's encoder splits it into parts, which the vectorize function cannot see.
  await upsertDocument(
    target,
    'aircall-events',
    'summary.created-6-3',
    event(
      'summary.created',
      { id: 6, call_id: 900, content: `Boiler repaired by Dupont Plumbing. ${'x'.repeat(1_200_000)}` },
      3,
    ),
  );
}, 120_000);
afterAll(async () => {
  recordings?.closeAllConnections();
  recordings?.close();
  await Promise.all([gcp?.close(), qdrant?.close(), groq?.close(), s3?.close()]);
});

function deps(model = MODEL, size = 384, overrides: Partial<SyncDeps> = {}): SyncDeps {
  return {
    reader: new FirestoreReader({
      baseUrl: gcp.url,
      projectId: gcp.projectId,
      token: async () => gcp.env.GCP_ACCESS_TOKEN as string,
      timeoutMs: 10_000,
    }),
    index: new KnowledgeIndex({
      qdrantUrl: qdrant.url,
      apiKey: undefined,
      collection: 'knowledge',
      model,
      vectorSize: size,
      timeoutMs: 10_000,
    }),
    metrics: syncMetrics(),
    log: () => undefined,
    collections: ['aircall-events', 'guesty-events', 'llm-queries'],
    longWords: 600,
    summarizer: { baseUrl: groq.url, apiKey: 'gsk_sync', timeoutMs: 10_000 },
    archive: new S3Archive({
      endpoint: s3Url,
      bucket: 'knowledge-archive',
      accessKeyId: 'S3RVER',
      secretAccessKey: 'S3RVER',
      timeoutMs: 10_000,
    }),
    download: async (url) => {
      const r = await fetch(url);
      return {
        body: new Uint8Array(await r.arrayBuffer()),
        contentType: r.headers.get('content-type') ?? 'application/octet-stream',
      };
    },
    ...overrides,
  };
}
const sources = async () => {
  const points = (await kb.scroll('knowledge', { limit: 1000, with_payload: true })).points;
  return [...new Set(points.map((p) => String(p.payload?.sourceId)))].sort();
};

describe('sync-app reconciliation', () => {
  it('backfills an empty Qdrant from Firestore, split documents included, summarises the long transcript, archives the recording', async () => {
    const report = await reconcileKnowledge(deps());
    expect(report.problems).toEqual([]);
    expect(report.documents).toBe(3);
    expect(await sources()).toEqual([
      'aircall:call/812',
      'aircall:summary/900',
      'aircall:transcription/812',
      'aircall:transcription/812:summary',
    ]);
    const summary = (
      await kb.scroll('knowledge', {
        filter: { must: [{ key: 'sourceId', match: { value: 'aircall:transcription/812:summary' } }] },
        with_payload: true,
      })
    ).points[0];
    expect(String(summary?.payload?.text)).toMatch(
      /^Summary: Transcript of Aircall call 812\n.*The guest asks about parking./s,
    );
    expect(report.archived).toEqual(['aircall/calls/812/recording.mp3']);
    const stored = await fetch(`${s3Url}/knowledge-archive/aircall/calls/812/recording.mp3`);
    expect(await stored.text()).toBe('ID3 fake mp3 bytes');
  });

  it('a second run changes nothing: no Groq call, no download, no write', async () => {
    const groqCalls = groq.state.calls.length;
    const downloaded = downloads;
    const writes = qdrant.state.requests.filter((r) => r.method === 'PUT' || r.path.endsWith('/delete')).length;
    const report = await reconcileKnowledge(deps());
    expect(report).toMatchObject({
      backfilled: [],
      orphans: [],
      reembedded: 0,
      summarized: [],
      archived: [],
      problems: [],
    });
    expect(groq.state.calls.length).toBe(groqCalls);
    expect(downloads).toBe(downloaded);
    expect(qdrant.state.requests.filter((r) => r.method === 'PUT' || r.path.endsWith('/delete')).length).toBe(writes);
  });

  it('deletes the points of a Firestore source that is gone, and leaves RocketChat messages alone', async () => {
    await kb.upsert('knowledge', {
      wait: true,
      points: [
        {
          id: 901,
          vector: { text: 'a call nobody has any more', model: MODEL },
          payload: { sourceId: 'aircall:call/999', model: MODEL, text: 'x', chunk: 0, version: 1 },
        },
        {
          id: 902,
          vector: { text: 'a chat message', model: MODEL },
          payload: {
            sourceId: 'rocketchat:m1',
            source: 'message',
            model: MODEL,
            text: 'a chat message',
            chunk: 0,
            version: 1,
          },
        },
      ],
    });
    const report = await reconcileKnowledge(deps());
    expect(report.orphans).toEqual(['aircall:call/999']);
    expect(await sources()).toContain('rocketchat:m1');
    expect(await sources()).not.toContain('aircall:call/999');
  });

  it('a model change (same vector size) embeds every point again, RocketChat messages included', async () => {
    const report = await reconcileKnowledge(deps('BAAI/bge-small-en-v1.5'));
    expect(report.problems).toEqual([]);
    const models = new Set(
      (await kb.scroll('knowledge', { limit: 1000, with_payload: true })).points.map((p) => p.payload?.model),
    );
    expect(models).toEqual(new Set(['BAAI/bge-small-en-v1.5']));
    expect(report.reembedded).toBe(1);
  });

  it('a model of another vector size is refused with what to do, and nothing is written', async () => {
    const writes = qdrant.state.requests.filter((r) => r.method === 'PUT').length;
    const report = await reconcileKnowledge(deps('BAAI/bge-base-en-v1.5', 768));
    expect(report.problems[0]).toContain('holds vectors of size 384');
    expect(report.problems[0]).toContain('new collection');
    expect(qdrant.state.requests.filter((r) => r.method === 'PUT').length).toBe(writes);
  });

  it('Groq rate limiting defers summaries to the next run', async () => {
    groq.state.rateLimitNext(1, 30);
    const report = await reconcileKnowledge(deps());
    expect(report.summariesDeferred).toBe(1);
    expect(report.summarized).toEqual([]);
    const next = await reconcileKnowledge(deps());
    expect(next.summarized).toEqual(['aircall:transcription/812']);
  });

  it('the archive signs its S3 requests (a wrong secret is refused by the S3 server)', async () => {
    const wrong = new S3Archive({
      endpoint: s3Url,
      bucket: 'knowledge-archive',
      accessKeyId: 'S3RVER',
      secretAccessKey: 'nope',
      timeoutMs: 10_000,
    });
    await expect(wrong.put('x/y.bin', new Uint8Array([1]), 'application/octet-stream')).rejects.toThrow(
      /S3 answered 403/,
    );
  });
});
