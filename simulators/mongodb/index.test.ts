import type { ChangeStreamDocument } from 'mongodb';
import { MongoServerError, Timestamp } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { type ChangeEvent, MongoSimulator } from './index.ts';

// The change-stream simulator: events shaped as the driver types them, resume semantics, history loss.
const next = (s: { next(): Promise<ChangeEvent> }) => s.next();

describe('MongoDB change-stream simulator', () => {
  it('delivers insert, update (with updateLookup) and delete events shaped as the driver types them', async () => {
    const db = new MongoSimulator();
    const coll = db.collection('rocketchat_message');
    const stream = coll.watch([], { fullDocument: 'updateLookup' });
    coll.insertOne({ _id: 'm1', msg: 'hello' });
    coll.updateOne('m1', { msg: 'edited' });
    coll.deleteOne('m1');
    const insert: ChangeStreamDocument = (await next(stream)) as unknown as ChangeStreamDocument;
    expect(insert.operationType).toBe('insert');
    const update = await next(stream);
    expect(update).toMatchObject({
      operationType: 'update',
      updateDescription: { updatedFields: { msg: 'edited' } },
      fullDocument: null,
    });
    expect(update.clusterTime).toBeInstanceOf(Timestamp);
    expect((await next(stream)).operationType).toBe('delete');
    await stream.close();
  });

  it('resumes after a token, or from an operation time; $match on operationType filters', async () => {
    const db = new MongoSimulator();
    const coll = db.collection('c');
    const first = coll.watch();
    coll.insertOne({ _id: 'a' });
    const a = await next(first);
    await first.close();
    coll.insertOne({ _id: 'b' });
    coll.deleteOne('b');
    const resumed = coll.watch([{ $match: { operationType: { $in: ['delete'] } } }], { resumeAfter: a._id });
    expect((await next(resumed)).documentKey._id).toBe('b');
    expect(await resumed.tryNext()).toBeNull();
    await resumed.close();
    const fromTime = coll.watch([], { startAtOperationTime: a.clusterTime });
    expect((await next(fromTime)).documentKey._id).toBe('a');
    await fromTime.close();
  });

  it('a token older than the oplog fails with the server error 286 ChangeStreamHistoryLost', async () => {
    const db = new MongoSimulator({ oplogSize: 2 });
    const coll = db.collection('c');
    const s = coll.watch();
    coll.insertOne({ _id: 'a' });
    const a = await next(s);
    await s.close();
    for (const id of ['b', 'c', 'd']) coll.insertOne({ _id: id });
    let error: unknown;
    try {
      coll.watch([], { resumeAfter: a._id });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(MongoServerError);
    expect(error).toMatchObject({ code: 286, codeName: 'ChangeStreamHistoryLost' });
  });

  it('refuses pipeline stages it does not simulate, rather than ignoring them', () => {
    const coll = new MongoSimulator().collection('c');
    expect(() => coll.watch([{ $project: { x: 1 } }])).toThrow(/only supports \$match/);
  });
});
