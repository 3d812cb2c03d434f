import type { ChildProcess } from 'node:child_process';
import { Timestamp } from 'mongodb';
import type { MongoSimulator, SimChangeStream } from '../../simulators/mongodb/index.ts';

/**
 * The wire between a listener process and the MongoDB simulator in the test process: it carries
 * exactly the calls the listener makes on the driver's collection (`watch`, `tryNext`, `next`,
 * `close`, `find().sort()`) over the child's IPC channel, standing in for the driver's connection
 * to mongod (which cannot run here). BSON values cross as `{$timestamp}` and ISO dates.
 */
export type BridgeRequest =
  | { kind: 'watch'; id: number; stream: number; pipeline: Record<string, unknown>[]; options: Record<string, unknown> }
  | { kind: 'next' | 'tryNext' | 'close'; id: number; stream: number }
  | { kind: 'find'; id: number; filter: Record<string, unknown>; sort: Record<string, 1 | -1> };

export type BridgeReply = {
  kind: 'reply';
  id: number;
  value?: unknown;
  error?: { message: string; code?: number; codeName?: string; name: string };
};

/** BSON-ish values to JSON that survives IPC. */
export function encode(value: unknown): unknown {
  if (value instanceof Timestamp) return { $timestamp: { t: value.t, i: value.i } };
  if (value instanceof Date) return { $date: value.toISOString() };
  if (Array.isArray(value)) return value.map(encode);
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encode(v)]));
  return value;
}

export function decode(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decode);
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if ('$timestamp' in o) return new Timestamp(o.$timestamp as { t: number; i: number });
    if ('$date' in o) return new Date(o.$date as string);
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, decode(v)]));
  }
  return value;
}

/** Serves a child's bridge requests from the simulator's `collection`. */
export function serveChangeStreams(child: ChildProcess, mongo: MongoSimulator, collection: string): void {
  const streams = new Map<number, SimChangeStream>();
  child.on('message', async (raw) => {
    const req = raw as BridgeRequest;
    const reply = (r: Omit<BridgeReply, 'kind' | 'id'>) => {
      if (child.connected) child.send({ kind: 'reply', id: req.id, ...r });
    };
    try {
      const coll = mongo.collection(collection);
      if (req.kind === 'watch') {
        streams.set(req.stream, coll.watch(req.pipeline, decode(req.options) as never));
        reply({});
      } else if (req.kind === 'find') {
        reply({
          value: encode(
            await coll
              .find(decode(req.filter) as Record<string, unknown>)
              .sort(req.sort)
              .toArray(),
          ),
        });
      } else {
        const stream = streams.get(req.stream);
        if (!stream) throw new Error(`no stream ${req.stream}`);
        if (req.kind === 'close') {
          await stream.close();
          streams.delete(req.stream);
          reply({});
        } else reply({ value: encode(req.kind === 'next' ? await stream.next() : await stream.tryNext()) });
      }
    } catch (err) {
      const e = err as { message: string; code?: number; codeName?: string; name: string };
      reply({
        error: {
          message: e.message,
          name: e.name,
          ...(e.code !== undefined ? { code: e.code } : {}),
          ...(e.codeName ? { codeName: e.codeName } : {}),
        },
      });
    }
  });
  child.on('exit', () => {
    for (const s of streams.values()) void s.close();
  });
}
