/**
 * The knowledge flows' throughput: the vectorize function in the Functions Framework indexing
 * Firestore trigger events into the Qdrant simulator (events/s, latency per event), and the
 * mongo-listener turning change events into acknowledged publishes (changes/s). Prints figures.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileCheckpointStore } from '../services/mongo-listener/src/checkpoint-store.ts';
import { type MessageCollection, MessageListener } from '../services/mongo-listener/src/listener.ts';
import { listenerMetrics } from '../services/mongo-listener/src/metrics.ts';
import { MongoSimulator } from '../simulators/mongodb/index.ts';
import { startQdrantSimulator } from '../simulators/qdrant/index.ts';
import { firestoreWrittenEvent, startFunction } from '../test/support/flows-function.ts';

const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? 0;

export async function run(): Promise<void> {
  const qdrant = await startQdrantSimulator();
  const fn = await startFunction('vectorize', 'vectorize', { QDRANT_URL: qdrant.url });
  try {
    const n = 200;
    const latencies: number[] = [];
    const started = performance.now();
    for (let i = 0; i < n; i++) {
      const doc = {
        name: `projects/p/databases/(default)/documents/aircall-events/call.ended-${i}-1`,
        fields: {
          event: { stringValue: 'call.ended' },
          occurredAt: { timestampValue: '2026-01-01T00:00:00Z' },
          data: {
            mapValue: {
              fields: {
                id: { integerValue: String(i) },
                status: { stringValue: 'done' },
                comments: {
                  arrayValue: {
                    values: [
                      {
                        mapValue: {
                          fields: {
                            content: {
                              stringValue: `Note ${i}: ${'guest asked about parking and late check-in '.repeat(20)}`,
                            },
                          },
                        },
                      },
                    ],
                  },
                },
              },
            },
          },
        },
      };
      const t = performance.now();
      const status = await fn.send(firestoreWrittenEvent('p', undefined, doc));
      if (status !== 204) throw new Error(`vectorize answered ${status}`);
      latencies.push(performance.now() - t);
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `vectorize: ${n} Firestore events (${qdrant.state.collections.get('knowledge')?.points.size} points) in ${seconds.toFixed(2)} s = ${(n / seconds).toFixed(0)} events/s; per event p50 ${percentile(latencies, 50).toFixed(1)} ms, p95 ${percentile(latencies, 95).toFixed(1)} ms (one at a time, Qdrant simulator on loopback)`,
    );
  } finally {
    await fn.stop();
    await qdrant.close();
  }

  const mongo = new MongoSimulator();
  let published = 0;
  const listener = new MessageListener({
    collection: mongo.collection('rocketchat_message') as unknown as MessageCollection,
    publisher: { publish: async () => String(++published), close: async () => undefined },
    checkpoints: new FileCheckpointStore(join(mkdtempSync(join(tmpdir(), 'bench-listener-')), 'checkpoint.json')),
    metrics: listenerMetrics(),
    alert: async () => undefined,
    log: () => undefined,
  });
  void listener.start();
  while (mongo.openStreams === 0) await new Promise((r) => setTimeout(r, 5));
  const m = 2000;
  const started = performance.now();
  for (let i = 0; i < m; i++)
    mongo.collection('rocketchat_message').insertOne({
      _id: `m${i}`,
      rid: 'GENERAL',
      msg: `message ${i}`,
      u: { username: 'alice' },
      _updatedAt: new Date(),
    });
  while (published < m) await new Promise((r) => setTimeout(r, 5));
  const seconds = (performance.now() - started) / 1000;
  await listener.stop();
  console.log(
    `mongo-listener: ${m} changes published and checkpointed in ${seconds.toFixed(2)} s = ${(m / seconds).toFixed(0)} changes/s (in-process change-stream simulator, an instant publisher: the listener's own cost, a checkpoint file write per change)`,
  );
}
