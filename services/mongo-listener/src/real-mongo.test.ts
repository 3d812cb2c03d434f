import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../../test/support/wait-for.ts';
import { FileCheckpointStore } from './checkpoint-store.ts';
import { type MessageCollection, MessageListener } from './listener.ts';
import { listenerMetrics } from './metrics.ts';
import type { OutgoingMessage } from './publisher.ts';

// The listener against a real MongoDB replica set through the official driver. No MongoDB server
// can run on the test machine: this runs when MONGO_URL points at a replica set (change streams
// need one), e.g. MONGO_URL='mongodb://127.0.0.1:27017/?replicaSet=rs0' npx vitest run services/mongo-listener
const url = process.env.MONGO_URL;
if (!url)
  console.log('mongo-listener real-driver test: not run, MONGO_URL is not set (it needs a MongoDB replica set)');

describe.skipIf(!url)('mongo-listener against a real replica set (MONGO_URL)', () => {
  it('publishes an insert, an edit (updateLookup) and a delete, then resumes from its token after a restart', async () => {
    const client = new MongoClient(url as string);
    await client.connect();
    const name = `keelson_listener_test_${process.pid}_${Date.now()}`;
    const db = client.db(name);
    const coll = db.collection<Record<string, unknown> & { _id: string }>('rocketchat_message');
    await db.createCollection('rocketchat_message');
    const published: { op: string; messageId: string; message?: { msg?: string } }[] = [];
    const checkpoint = join(mkdtempSync(join(tmpdir(), 'listener-real-')), 'checkpoint.json');
    const make = () =>
      new MessageListener({
        collection: coll as unknown as MessageCollection,
        publisher: {
          publish: async (m: OutgoingMessage) => String(published.push(JSON.parse(m.data.toString('utf8')))),
          close: async () => undefined,
        },
        checkpoints: new FileCheckpointStore(checkpoint),
        metrics: listenerMetrics(),
        alert: async () => undefined,
        log: () => undefined,
      });
    try {
      const first = make();
      void first.start();
      await waitFor('watching', () => first.healthy);
      await coll.insertOne({
        _id: 'm1',
        rid: 'GENERAL',
        msg: 'hello',
        u: { username: 'alice' },
        _updatedAt: new Date(),
      });
      await coll.updateOne({ _id: 'm1' }, { $set: { msg: 'hello, edited', editedAt: new Date() } });
      await waitFor('two publishes', () => published.length === 2);
      await first.stop();
      await coll.deleteOne({ _id: 'm1' });
      const second = make();
      void second.start();
      await waitFor('the delete after the restart', () => published.length === 3);
      await second.stop();
      expect(published.map((p) => [p.op, p.messageId, p.message?.msg])).toEqual([
        ['upsert', 'm1', 'hello'],
        ['upsert', 'm1', 'hello, edited'],
        ['delete', 'm1', undefined],
      ]);
    } finally {
      await db.dropDatabase();
      await client.close();
    }
  });
});
