import { MongoServerError, Timestamp } from 'mongodb';

/**
 * A simulator of MongoDB change streams at the narrowest seam the listener uses: a collection
 * object with the driver's `watch(pipeline, options)` and `find(filter).sort(spec)` signatures,
 * returning change events shaped as a replica set sends them (`_id` resume token, `operationType`,
 * `clusterTime` as a BSON `Timestamp`, `documentKey`, `fullDocument` with `updateLookup` read at
 * delivery time, `updateDescription`). Resume with `resumeAfter` or `startAtOperationTime`; an oplog
 * of bounded size whose oldest entries fall out (then resuming fails with the server's error 286
 * ChangeStreamHistoryLost); streams can be broken on purpose (a network error). No MongoDB server
 * runs here: the wire protocol, authentication and the aggregation language beyond `$match` on
 * `operationType` are not simulated.
 */

export type Doc = Record<string, unknown> & { _id: string };

export interface ChangeEvent {
  _id: { _data: string };
  operationType: 'insert' | 'update' | 'replace' | 'delete';
  clusterTime: Timestamp;
  wallTime: Date;
  ns: { db: string; coll: string };
  documentKey: { _id: string };
  fullDocument?: Doc | null;
  updateDescription?: { updatedFields: Record<string, unknown>; removedFields: string[]; truncatedArrays: unknown[] };
}

interface OplogEntry {
  readonly seq: number;
  readonly event: Omit<ChangeEvent, 'fullDocument'> & { fullDocument?: Doc };
}

export interface WatchOptions {
  fullDocument?: 'default' | 'updateLookup' | 'whenAvailable' | 'required';
  resumeAfter?: { _data: string };
  startAfter?: { _data: string };
  startAtOperationTime?: Timestamp;
}

const token = (seq: number) => ({ _data: `82${seq.toString(16).padStart(16, '0')}` });
const seqOf = (t: { _data?: unknown } | undefined) =>
  typeof t?._data === 'string' ? Number.parseInt(t._data.slice(2), 16) : Number.NaN;

/** A change stream as the driver's `ChangeStream`: async-iterable, `next()`, `close()`, `resumeToken`. */
export class SimChangeStream implements AsyncIterable<ChangeEvent> {
  readonly #db: MongoSimulator;
  readonly #coll: string;
  readonly #options: WatchOptions;
  readonly #match: ((e: ChangeEvent) => boolean) | undefined;
  #position: number;
  #closed = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;
  resumeToken: { _data: string } | undefined;

  constructor(
    db: MongoSimulator,
    coll: string,
    position: number,
    options: WatchOptions,
    match: ((e: ChangeEvent) => boolean) | undefined,
  ) {
    this.#db = db;
    this.#coll = coll;
    this.#position = position;
    this.#options = options;
    this.#match = match;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Wakes a waiting `next()` (new oplog entry, close, or error). */
  poke(error?: Error): void {
    if (error) this.#error = error;
    this.#wake?.();
  }

  /** The next event if one is there, else null, without waiting (it opens the cursor, as the driver's does). */
  async tryNext(): Promise<ChangeEvent | null> {
    if (this.#error) return this.next();
    for (;;) {
      const entry = this.#db.entryAfter(this.#position);
      if (!entry) return null;
      this.#position = entry.seq;
      if (entry.event.ns.coll !== this.#coll) continue;
      const event = this.#render(entry);
      this.resumeToken = event._id;
      if (this.#match && !this.#match(event)) continue;
      return event;
    }
  }

  async next(): Promise<ChangeEvent> {
    for (;;) {
      if (this.#error) {
        const e = this.#error;
        this.#error = undefined;
        this.#closed = true;
        this.#db.forget(this);
        throw e;
      }
      if (this.#closed) throw new Error('ChangeStream is closed');
      const entry = this.#db.entryAfter(this.#position);
      if (entry) {
        this.#position = entry.seq;
        if (entry.event.ns.coll !== this.#coll) continue;
        const event = this.#render(entry);
        this.resumeToken = event._id;
        if (this.#match && !this.#match(event)) continue;
        return event;
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = undefined;
    }
  }

  #render(entry: OplogEntry): ChangeEvent {
    // structuredClone would turn the BSON Timestamp into a plain object.
    const { clusterTime, ...rest } = entry.event;
    const event = { ...structuredClone(rest), clusterTime } as ChangeEvent;
    // updateLookup reads the document as it is now (a later version, or null if deleted since).
    if (event.operationType === 'update' && this.#options.fullDocument === 'updateLookup') {
      const current = this.#db.collection(this.#coll).get(event.documentKey._id);
      event.fullDocument = current ? structuredClone(current) : null;
    } else if (event.operationType === 'update') delete event.fullDocument;
    return event;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#db.forget(this);
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ChangeEvent> {
    while (!this.#closed) {
      try {
        yield await this.next();
      } catch (err) {
        if (this.#closed && !(err instanceof MongoServerError) && (err as Error).message === 'ChangeStream is closed')
          return;
        throw err;
      }
    }
  }
}

/** A collection with the subset of the driver's `Collection` the listener and RocketChat use. */
export class SimCollection {
  readonly #db: MongoSimulator;
  readonly name: string;
  readonly #docs = new Map<string, Doc>();

  constructor(db: MongoSimulator, name: string) {
    this.#db = db;
    this.name = name;
  }

  get(id: string): Doc | undefined {
    return this.#docs.get(id);
  }

  get size(): number {
    return this.#docs.size;
  }

  insertOne(doc: Doc): void {
    if (this.#docs.has(doc._id))
      throw new MongoServerError({
        message: `E11000 duplicate key error collection: ${this.name} index: _id_ dup key: { _id: "${doc._id}" }`,
        code: 11000,
        codeName: 'DuplicateKey',
      });
    this.#docs.set(doc._id, structuredClone(doc));
    this.#db.append(this.name, 'insert', doc._id, { fullDocument: structuredClone(doc) });
  }

  /** A `$set` of changed fields (what RocketChat does on an edit): an `update` event. */
  updateOne(id: string, set: Record<string, unknown>): void {
    const doc = this.#docs.get(id);
    if (!doc) return;
    Object.assign(doc, structuredClone(set));
    this.#db.append(this.name, 'update', id, {
      updateDescription: { updatedFields: structuredClone(set), removedFields: [], truncatedArrays: [] },
    });
  }

  deleteOne(id: string): void {
    if (!this.#docs.delete(id)) return;
    this.#db.append(this.name, 'delete', id, {});
  }

  /** The RocketChat simulator's message store: an edit is the `$set` of what changed. */
  insert(doc: Doc): void {
    this.insertOne(doc);
  }
  replace(doc: Doc): void {
    const before = this.#docs.get(doc._id) ?? {};
    const changed = Object.fromEntries(
      Object.entries(doc).filter(
        ([k, v]) => JSON.stringify((before as Record<string, unknown>)[k]) !== JSON.stringify(v),
      ),
    );
    this.updateOne(doc._id, changed);
  }
  remove(id: string): void {
    this.deleteOne(id);
  }

  /** `collection.watch(pipeline, options)` as the driver has it. */
  watch(pipeline: Record<string, unknown>[] = [], options: WatchOptions = {}): SimChangeStream {
    let match: ((e: ChangeEvent) => boolean) | undefined;
    for (const stage of pipeline) {
      const [name] = Object.keys(stage);
      if (name !== '$match')
        throw new MongoServerError({
          message: `the simulator only supports $match stages, not ${name}`,
          code: 40324,
          codeName: 'Location40324',
        });
      const spec = stage.$match as Record<string, unknown>;
      const inList = (spec.operationType as { $in?: string[] } | undefined)?.$in;
      if (Object.keys(spec).some((k) => k !== 'operationType') || (spec.operationType !== undefined && !inList))
        throw new MongoServerError({
          message: 'the simulator supports $match on operationType with $in only',
          code: 40324,
          codeName: 'Location40324',
        });
      if (inList) match = (e) => inList.includes(e.operationType);
    }
    return this.#db.open(this.name, options, match);
  }

  /** `collection.find(filter).sort(spec)`: filters `{field: {$gte: value}}` and equality, sorts by one field. */
  find(filter: Record<string, unknown> = {}): {
    sort(spec: Record<string, 1 | -1>): AsyncIterable<Doc> & { toArray(): Promise<Doc[]> };
  } {
    const matches = (doc: Doc) =>
      Object.entries(filter).every(([k, cond]) => {
        const v = doc[k] as number | string | Date;
        if (cond && typeof cond === 'object' && '$gte' in cond)
          return v >= (cond as { $gte: number | string | Date }).$gte;
        if (cond && typeof cond === 'object' && '$gt' in cond) return v > (cond as { $gt: number | string | Date }).$gt;
        return JSON.stringify(v) === JSON.stringify(cond);
      });
    const docs = [...this.#docs.values()].filter(matches).map((d) => structuredClone(d));
    return {
      sort(spec) {
        const [[field, dir] = ['_id', 1]] = Object.entries(spec);
        docs.sort((a, b) => {
          const x = a[field] as number;
          const y = b[field] as number;
          return (x < y ? -1 : x > y ? 1 : 0) * dir;
        });
        return {
          async *[Symbol.asyncIterator]() {
            yield* docs;
          },
          toArray: async () => docs,
        };
      },
    };
  }
}

export interface MongoSimulatorOptions {
  /** Database name in events' `ns`. Default `rocketchat`. */
  readonly db?: string;
  /** Oplog entries kept; older ones fall out. Default 10,000. */
  readonly oplogSize?: number;
  /** The cluster's clock (seconds in cluster times), ms. Default `Date.now`. */
  readonly now?: () => number;
}

export class MongoSimulator {
  readonly #collections = new Map<string, SimCollection>();
  readonly #oplog: OplogEntry[] = [];
  readonly #streams = new Set<SimChangeStream>();
  readonly #db: string;
  readonly #now: () => number;
  #oplogSize: number;
  #seq = 0;
  #increment = 0;
  #lastSecond = 0;

  constructor(options: MongoSimulatorOptions = {}) {
    this.#db = options.db ?? 'rocketchat';
    this.#oplogSize = options.oplogSize ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  collection(name: string): SimCollection {
    let c = this.#collections.get(name);
    if (!c) {
      c = new SimCollection(this, name);
      this.#collections.set(name, c);
    }
    return c;
  }

  /** Events in the oplog now. */
  get oplogLength(): number {
    return this.#oplog.length;
  }

  /** Keeps only the newest `keep` entries (a busy cluster rolled its oplog over). */
  truncateOplog(keep: number): void {
    this.#oplogSize = keep;
    this.#trim();
  }

  /** Breaks every open stream with a network error (a failover or a dropped connection). */
  breakStreams(): void {
    const error = Object.assign(new Error('connection reset by peer (simulated)'), { name: 'MongoNetworkError' });
    for (const s of this.#streams) s.poke(error);
  }

  /** Open streams (tests wait for a listener to be watching). */
  get openStreams(): number {
    return this.#streams.size;
  }

  append(coll: string, operationType: ChangeEvent['operationType'], id: string, extra: Partial<ChangeEvent>): void {
    const ms = this.#now();
    const second = Math.floor(ms / 1000);
    this.#increment = second === this.#lastSecond ? this.#increment + 1 : 1;
    this.#lastSecond = second;
    const seq = ++this.#seq;
    this.#oplog.push({
      seq,
      event: {
        _id: token(seq),
        operationType,
        clusterTime: new Timestamp({ t: second, i: this.#increment }),
        wallTime: new Date(ms),
        ns: { db: this.#db, coll },
        documentKey: { _id: id },
        ...(extra as object),
      } as OplogEntry['event'],
    });
    this.#trim();
    for (const s of this.#streams) s.poke();
  }

  #trim(): void {
    while (this.#oplog.length > this.#oplogSize) this.#oplog.shift();
  }

  entryAfter(position: number): OplogEntry | undefined {
    return this.#oplog.find((e) => e.seq > position);
  }

  open(coll: string, options: WatchOptions, match: ((e: ChangeEvent) => boolean) | undefined): SimChangeStream {
    const given = [options.resumeAfter, options.startAfter, options.startAtOperationTime].filter(
      (o) => o !== undefined,
    );
    if (given.length > 1)
      throw new MongoServerError({
        message: 'Only one type of resume option is allowed, but multiple were found.',
        code: 40674,
        codeName: 'Location40674',
      });
    const oldest = this.#oplog[0];
    let position = this.#seq;
    const lost = () =>
      new MongoServerError({
        message:
          'Executor error during getMore :: caused by :: Resume of change stream was not possible, as the resume point may no longer be in the oplog.',
        code: 286,
        codeName: 'ChangeStreamHistoryLost',
      });
    const resume = options.resumeAfter ?? options.startAfter;
    if (resume) {
      const seq = seqOf(resume);
      if (!Number.isFinite(seq))
        throw new MongoServerError({
          message: 'KeyString format error: invalid resume token',
          code: 50811,
          codeName: 'Location50811',
        });
      if (!oldest || seq < oldest.seq - 1) throw lost();
      position = seq;
    } else if (options.startAtOperationTime) {
      const at = options.startAtOperationTime;
      const first = this.#oplog.find((e) => e.event.clusterTime.compare(at) >= 0);
      if (oldest && oldest.event.clusterTime.compare(at) > 0 && oldest.seq > 1) throw lost();
      position = first ? first.seq - 1 : this.#seq;
    }
    const stream = new SimChangeStream(this, coll, position, options, match);
    this.#streams.add(stream);
    return stream;
  }

  forget(stream: SimChangeStream): void {
    this.#streams.delete(stream);
  }
}
