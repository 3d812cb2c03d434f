import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MongoSimulator } from '../../../simulators/mongodb/index.ts';
import { waitFor } from '../../../test/support/wait-for.ts';
import { FileCheckpointStore } from './checkpoint-store.ts';
import { type MessageCollection, MessageListener } from './listener.ts';
import { listenerMetrics } from './metrics.ts';
import type { OutgoingMessage, Publisher } from './publisher.ts';

// The listener against the MongoDB change-stream simulator, with a publisher that records what
// Pub/Sub acknowledged and can be told to fail; retries wait for nothing (explicit steps).
interface Rig {
  mongo: MongoSimulator;
  published: {
    envelope: { op: string; messageId: string; message?: { msg?: string } };
    attributes: Record<string, string>;
    orderingKey?: string;
  }[];
  failPublishes: number;
  alerts: string[];
  checkpoint: string;
  listener: MessageListener;
  metrics: ReturnType<typeof listenerMetrics>;
}
const rigs: Rig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.listener.stop();
});

function rig(
  mongo = new MongoSimulator(),
  checkpoint = join(mkdtempSync(join(tmpdir(), 'listener-')), 'checkpoint.json'),
): Rig {
  const r = { mongo, published: [], failPublishes: 0, alerts: [], checkpoint } as unknown as Rig;
  const publisher: Publisher = {
    async publish(m: OutgoingMessage) {
      if (r.failPublishes > 0) {
        r.failPublishes--;
        throw new Error('14 UNAVAILABLE: injected');
      }
      r.published.push({
        envelope: JSON.parse(m.data.toString('utf8')),
        attributes: m.attributes,
        ...(m.orderingKey ? { orderingKey: m.orderingKey } : {}),
      });
      return String(r.published.length);
    },
    close: async () => undefined,
  };
  r.metrics = listenerMetrics();
  r.listener = new MessageListener({
    collection: mongo.collection('rocketchat_message') as unknown as MessageCollection,
    publisher,
    checkpoints: new FileCheckpointStore(checkpoint),
    metrics: r.metrics,
    alert: async (text) => void r.alerts.push(text),
    log: () => undefined,
    sleep: async () => undefined,
    skipUsers: ['kb-bot'],
  });
  rigs.push(r);
  return r;
}

const message = (id: string, msg: string, extra: Record<string, unknown> = {}) => ({
  _id: id,
  rid: 'GENERAL',
  msg,
  ts: new Date(),
  _updatedAt: new Date(),
  u: { _id: 'u1', username: 'alice', name: 'Alice' },
  ...extra,
});
const watching = (r: Rig) => waitFor('the listener watching', () => r.mongo.openStreams > 0);

describe('mongo-listener', () => {
  it('publishes inserts and edits (full document) with the room as ordering key, deletes as deletes; skips system and bot messages', async () => {
    const r = rig();
    void r.listener.start();
    await watching(r);
    const coll = r.mongo.collection('rocketchat_message');
    coll.insertOne(message('m1', 'hello'));
    coll.insertOne(message('m2', 'alice joined', { t: 'uj' }));
    coll.insertOne(message('m3', 'an answer', { u: { _id: 'b', username: 'kb-bot' } }));
    coll.updateOne('m1', { msg: 'hello, edited', editedAt: new Date() });
    await waitFor('two publishes', () => r.published.length === 2);
    coll.deleteOne('m1');
    await waitFor('three publishes', () => r.published.length === 3);
    expect(
      r.published.map((p) => [
        p.envelope.op,
        p.envelope.messageId,
        p.envelope.message?.msg,
        p.orderingKey,
        p.attributes.messageId,
      ]),
    ).toEqual([
      ['upsert', 'm1', 'hello', 'GENERAL', 'm1'],
      ['upsert', 'm1', 'hello, edited', 'GENERAL', 'm1'],
      ['delete', 'm1', undefined, 'GENERAL', 'm1'],
    ]);
  });

  it('an edit of a message deleted before the edit was read is not published (its delete follows)', async () => {
    const r = rig();
    const coll = r.mongo.collection('rocketchat_message');
    coll.insertOne(message('m1', 'hello'));
    coll.updateOne('m1', { msg: 'edited' });
    coll.deleteOne('m1');
    // Started after the three changes, from a checkpoint before them: updateLookup finds nothing.
    await new FileCheckpointStore(r.checkpoint).save({ wallTime: new Date(Date.now() - 1000).toISOString() });
    void r.listener.start();
    await waitFor('two publishes', () => r.published.length === 2);
    expect(r.published.map((p) => p.envelope.op)).toEqual(['upsert', 'delete']);
    expect(r.published[0]?.envelope.message?.msg).toBe('hello');
    expect(await r.metrics.registry.getSingleMetricAsString('mongo_listener_skipped_total')).toContain(
      'reason="gone"} 1',
    );
  });

  it('the checkpoint moves only after Pub/Sub acknowledged: a failing publish is retried, nothing skipped', async () => {
    const r = rig();
    void r.listener.start();
    await watching(r);
    r.failPublishes = 3;
    r.mongo.collection('rocketchat_message').insertOne(message('m1', 'first'));
    await waitFor('the publish', () => r.published.length === 1);
    expect(await r.metrics.registry.getSingleMetricAsString('mongo_listener_errors_total')).toContain(
      'stage="publish"} 3',
    );
  });

  it('stopped, then restarted from its checkpoint: what changed in between is published, nothing twice', async () => {
    const mongo = new MongoSimulator();
    const first = rig(mongo);
    void first.listener.start();
    await watching(first);
    const coll = mongo.collection('rocketchat_message');
    coll.insertOne(message('m1', 'one'));
    await waitFor('m1 published', () => first.published.length === 1);
    await first.listener.stop();
    coll.insertOne(message('m2', 'two (while the listener was down)'));
    coll.insertOne(message('m3', 'three'));
    const second = rig(mongo, first.checkpoint);
    void second.listener.start();
    await waitFor('m2 and m3 published', () => second.published.length === 2);
    expect(second.published.map((p) => p.envelope.messageId)).toEqual(['m2', 'm3']);
  });

  it('a token fallen out of the oplog: alert, republish what changed since the last processed time, watch on', async () => {
    const mongo = new MongoSimulator();
    const first = rig(mongo);
    void first.listener.start();
    await watching(first);
    const coll = mongo.collection('rocketchat_message');
    coll.insertOne(message('m1', 'one'));
    await waitFor('m1 published', () => first.published.length === 1);
    await first.listener.stop();
    for (let i = 2; i <= 6; i++) coll.insertOne(message(`m${i}`, `message ${i}`));
    mongo.truncateOplog(2);
    const second = rig(mongo, first.checkpoint);
    void second.listener.start();
    await waitFor('the catch-up', () => new Set(second.published.map((p) => p.envelope.messageId)).size >= 6);
    expect(second.alerts[0]).toContain('no longer in the oplog');
    expect(new Set(second.published.map((p) => p.envelope.messageId))).toEqual(
      new Set(['m1', 'm2', 'm3', 'm4', 'm5', 'm6']),
    );
    await watching(second);
    coll.insertOne(message('m7', 'after the catch-up'));
    await waitFor('m7 published', () => second.published.some((p) => p.envelope.messageId === 'm7'));
    expect(await second.metrics.registry.getSingleMetricAsString('mongo_listener_resume_fallbacks_total')).toContain(
      ' 1',
    );
  });

  it('a broken stream (network error, failover) resumes from the checkpoint without losing a change', async () => {
    const r = rig();
    void r.listener.start();
    await watching(r);
    const coll = r.mongo.collection('rocketchat_message');
    coll.insertOne(message('m1', 'one'));
    await waitFor('m1', () => r.published.length === 1);
    r.mongo.breakStreams();
    coll.insertOne(message('m2', 'two'));
    await waitFor('m2', () => r.published.some((p) => p.envelope.messageId === 'm2'));
    expect(r.published.filter((p) => p.envelope.messageId === 'm1')).toHaveLength(1);
  });
});
