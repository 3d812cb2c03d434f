import { Timestamp } from 'mongodb';
import type { Checkpoint, CheckpointStore } from './checkpoint-store.ts';
import type { ListenerMetrics } from './metrics.ts';
import type { Publisher } from './publisher.ts';

/** A change event, the fields the listener reads (the driver's `ChangeStreamDocument`). */
export interface MessageChange {
  readonly _id: unknown;
  readonly operationType: string;
  readonly clusterTime?: { getHighBits(): number };
  readonly wallTime?: Date;
  readonly documentKey?: { _id: unknown };
  readonly fullDocument?: Record<string, unknown> | null;
}

/** A change stream: the driver's `ChangeStream` is one (async-iterable, `close()`). */
export interface MessageStream extends AsyncIterable<MessageChange> {
  /** The next change if there is one, else null; opens the server cursor (the driver's is lazy). */
  tryNext(): Promise<MessageChange | null>;
  close(): Promise<void>;
}

/**
 * The listener's seam to MongoDB: exactly the calls it makes on the driver's `Collection`
 * (`watch` with a pipeline and options, `find(...).sort(...)`). In production it is
 * `client.db('rocketchat').collection('rocketchat_message')`.
 */
export interface MessageCollection {
  watch(
    pipeline: Record<string, unknown>[],
    options: { fullDocument: 'updateLookup'; resumeAfter?: unknown; startAtOperationTime?: Timestamp },
  ): MessageStream;
  find(filter: Record<string, unknown>): { sort(spec: Record<string, 1 | -1>): AsyncIterable<Record<string, unknown>> };
}

export type Log = (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;

export interface ListenerDeps {
  readonly collection: MessageCollection;
  readonly publisher: Publisher;
  readonly checkpoints: CheckpointStore;
  readonly metrics: ListenerMetrics;
  /** Raises an alert (RocketChat incoming webhook in production). */
  readonly alert: (text: string) => Promise<void>;
  readonly log: Log;
  /** Waits between retries; tests pass one that resolves at once. */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Users whose messages are not published (the bot that answers questions). */
  readonly skipUsers?: readonly string[];
  readonly now?: () => number;
}

/** Only what can change a message's text: inserts, edits, replacements, deletes. */
export const PIPELINE = [{ $match: { operationType: { $in: ['insert', 'update', 'replace', 'delete'] } } }];

/** Seconds of overlap when resuming by time: duplicates are harmless, gaps are not. */
const OVERLAP_SECONDS = 5;

class Stopped extends Error {}

const defaultSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });

/** The message fields the knowledge base needs (RocketChat documents carry much more). */
function project(doc: Record<string, unknown>): Record<string, unknown> {
  const u = (doc.u ?? {}) as Record<string, unknown>;
  const keep: Record<string, unknown> = {
    _id: doc._id,
    rid: doc.rid,
    msg: doc.msg,
    u: { _id: u._id, username: u.username, name: u.name },
  };
  for (const k of ['tmid', 't', 'ts', 'editedAt', '_updatedAt', 'alias'])
    if (doc[k] !== undefined && doc[k] !== null) keep[k] = doc[k];
  return keep;
}

/** Is this the server's "resume point no longer in the oplog" error (ChangeStreamHistoryLost)? */
export function isHistoryLost(err: unknown): boolean {
  const e = err as { code?: unknown; codeName?: unknown; message?: unknown };
  return (
    e?.code === 286 || e?.codeName === 'ChangeStreamHistoryLost' || (e?.code === 280 && /oplog/.test(String(e.message)))
  );
}

/**
 * RocketChat's messages from the change stream to Pub/Sub, at least once: an event's resume token
 * is saved only after Pub/Sub acknowledged its publish, so a crash or restart republishes, never
 * skips. When the token has fallen out of the oplog, the listener alerts, republishes every message
 * changed since the last processed time (`_updatedAt`) and watches on from there.
 */
export class MessageListener {
  readonly #deps: ListenerDeps;
  readonly #stop = new AbortController();
  readonly #rooms = new Map<string, string>();
  #stream: MessageStream | undefined;
  #running: Promise<void> | undefined;
  #watching = false;

  constructor(deps: ListenerDeps) {
    this.#deps = deps;
  }

  /** True while a change stream is open (the `/healthz` answer). */
  get healthy(): boolean {
    return this.#watching && !this.#stop.signal.aborted;
  }

  start(): Promise<void> {
    this.#running ??= this.#run();
    return this.#running;
  }

  /** Graceful stop: the event in hand is finished (published and checkpointed), then the stream closes. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#stream?.close().catch(() => undefined);
    await this.#running;
  }

  async #run(): Promise<void> {
    const { metrics, log } = this.#deps;
    const sleep = this.#deps.sleep ?? defaultSleep;
    let failures = 0;
    while (!this.#stop.signal.aborted) {
      try {
        const checkpoint = await this.#deps.checkpoints.load();
        const from = checkpoint?.token
          ? { resumeAfter: checkpoint.token }
          : checkpoint
            ? {
                startAtOperationTime: new Timestamp({
                  t: Math.floor(Date.parse(checkpoint.wallTime) / 1000) - OVERLAP_SECONDS,
                  i: 0,
                }),
              }
            : {};
        let first: MessageChange | null;
        try {
          this.#stream = this.#deps.collection.watch(PIPELINE, { fullDocument: 'updateLookup', ...from });
          first = await this.#stream.tryNext();
        } catch (err) {
          if (!isHistoryLost(err)) throw err;
          await this.#stream?.close().catch(() => undefined);
          // Watch from now (the cursor opened before the scan, so nothing falls in between), then
          // republish what changed since the last processed time.
          this.#stream = this.#deps.collection.watch(PIPELINE, { fullDocument: 'updateLookup' });
          first = await this.#stream.tryNext();
          await this.#catchUp(checkpoint);
        }
        this.#watching = true;
        log('info', 'mongo-listener: watching', { resume: checkpoint?.token ? 'token' : checkpoint ? 'time' : 'now' });
        if (first) await this.#handle(first);
        for await (const change of this.#stream) {
          if (this.#stop.signal.aborted) break;
          await this.#handle(change);
          failures = 0;
          if (this.#stop.signal.aborted) break;
        }
      } catch (err) {
        this.#watching = false;
        if (err instanceof Stopped || this.#stop.signal.aborted) break;
        failures++;
        metrics.errors.inc({ stage: 'stream' });
        log('warn', 'mongo-listener: change stream failed, resuming from the checkpoint', {
          error: (err as Error).message,
          failures,
        });
        await sleep(Math.min(30_000, 500 * 2 ** Math.min(failures, 6)), this.#stop.signal);
      } finally {
        this.#watching = false;
        await this.#stream?.close().catch(() => undefined);
      }
    }
    log('info', 'mongo-listener: stopped');
  }

  /** The token fell out of the oplog: alert, republish what changed since the last processed time. */
  async #catchUp(checkpoint: Checkpoint | undefined): Promise<void> {
    const { metrics, log } = this.#deps;
    const since = checkpoint
      ? new Date(Date.parse(checkpoint.wallTime) - OVERLAP_SECONDS * 1000)
      : new Date((this.#deps.now ?? Date.now)());
    metrics.resumeFallbacks.inc();
    const text = `mongo-listener: the change stream's resume point is no longer in the oplog; republishing the messages changed since ${since.toISOString()}. Messages deleted in between were not seen: run the sync app's reconciliation.`;
    log('error', text);
    metrics.alerts.inc({ reason: 'history-lost' });
    await this.#deps
      .alert(text)
      .catch((err: Error) => log('error', 'mongo-listener: the alert could not be sent', { error: err.message }));
    for await (const doc of this.#deps.collection.find({ _updatedAt: { $gte: since } }).sort({ _updatedAt: 1 })) {
      await this.#publishMessage(doc, 'catch-up');
    }
  }

  async #handle(change: MessageChange): Promise<void> {
    const { metrics } = this.#deps;
    metrics.events.inc({ operation: change.operationType });
    const wall =
      change.wallTime ?? (change.clusterTime ? new Date(change.clusterTime.getHighBits() * 1000) : new Date());
    if (change.operationType === 'delete') {
      const id = String(change.documentKey?._id ?? '');
      const room = this.#rooms.get(id);
      await this.#publish(
        { op: 'delete', messageId: id },
        { messageId: id, op: 'delete', ...(room ? { roomId: room } : {}) },
        room,
      );
      this.#rooms.delete(id);
    } else if (!change.fullDocument) {
      // An update of a message deleted since (updateLookup found nothing): its delete follows.
      metrics.skipped.inc({ reason: 'gone' });
    } else {
      await this.#publishMessage(change.fullDocument, 'stream');
    }
    await this.#deps.checkpoints.save({ token: change._id as { _data: string }, wallTime: wall.toISOString() });
    metrics.lag.set(Math.max(0, ((this.#deps.now ?? Date.now)() - wall.getTime()) / 1000));
    metrics.lastProcessed.set(wall.getTime() / 1000);
  }

  async #publishMessage(doc: Record<string, unknown>, via: string): Promise<void> {
    const { metrics } = this.#deps;
    if (doc.t) {
      metrics.skipped.inc({ reason: 'system-message' });
      return;
    }
    const username = String((doc.u as { username?: unknown } | undefined)?.username ?? '');
    if (this.#deps.skipUsers?.includes(username)) {
      metrics.skipped.inc({ reason: 'skipped-user' });
      return;
    }
    const id = String(doc._id);
    const room = String(doc.rid ?? '');
    if (this.#rooms.size > 50_000) this.#rooms.delete(this.#rooms.keys().next().value as string);
    this.#rooms.set(id, room);
    await this.#publish(
      { op: 'upsert', messageId: id, message: project(doc) },
      { messageId: id, op: 'upsert', roomId: room, via },
      room,
    );
  }

  /** Publishes until Pub/Sub acknowledges (backing off), or the listener stops (then nothing is checkpointed). */
  async #publish(
    envelope: Record<string, unknown>,
    attributes: Record<string, string>,
    orderingKey: string | undefined,
  ): Promise<void> {
    const { publisher, metrics, log } = this.#deps;
    const sleep = this.#deps.sleep ?? defaultSleep;
    const data = Buffer.from(JSON.stringify(envelope));
    for (let attempt = 1; ; attempt++) {
      try {
        await publisher.publish({ data, attributes, ...(orderingKey ? { orderingKey } : {}) });
        metrics.published.inc({ op: attributes.op ?? 'upsert' });
        return;
      } catch (err) {
        metrics.errors.inc({ stage: 'publish' });
        log('warn', 'mongo-listener: publish failed, retrying', {
          messageId: attributes.messageId,
          attempt,
          error: (err as Error).message,
        });
        if (this.#stop.signal.aborted) throw new Stopped();
        await sleep(Math.min(30_000, 250 * 2 ** Math.min(attempt, 7)), this.#stop.signal);
        if (this.#stop.signal.aborted) throw new Stopped();
      }
    }
  }
}
