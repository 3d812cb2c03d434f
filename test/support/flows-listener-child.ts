import { loadConfig } from '../../services/mongo-listener/src/config.ts';
import type { MessageChange, MessageCollection, MessageStream } from '../../services/mongo-listener/src/listener.ts';
import { runService } from '../../services/mongo-listener/src/service.ts';
import { type BridgeReply, type BridgeRequest, decode, encode } from './flows-mongo-bridge.ts';

// The mongo-listener service as its own Node process, its collection reached over the IPC bridge to
// the MongoDB simulator in the test process (everything above the driver's collection is production code).
let nextId = 0;
let nextStream = 0;
const pending = new Map<number, (r: BridgeReply) => void>();
process.on('message', (raw) => {
  const reply = raw as BridgeReply;
  pending.get(reply.id)?.(reply);
  pending.delete(reply.id);
});

type Request = BridgeRequest extends infer R ? (R extends BridgeRequest ? Omit<R, 'id'> : never) : never;

function call(req: Request): Promise<unknown> {
  const id = ++nextId;
  return new Promise((resolve, reject) => {
    pending.set(id, (r) => {
      if (r.error) reject(Object.assign(new Error(r.error.message), r.error));
      else resolve(decode(r.value));
    });
    process.send?.({ ...req, id });
  });
}

const collection: MessageCollection = {
  watch(pipeline, options) {
    const stream = ++nextStream;
    const opened = call({ kind: 'watch', stream, pipeline, options: encode(options) as Record<string, unknown> });
    let closed = false;
    const s: MessageStream = {
      async tryNext() {
        await opened;
        return (await call({ kind: 'tryNext', stream })) as MessageChange | null;
      },
      async close() {
        closed = true;
        await opened.catch(() => undefined);
        await call({ kind: 'close', stream }).catch(() => undefined);
      },
      async *[Symbol.asyncIterator]() {
        await opened;
        while (!closed) {
          try {
            yield (await call({ kind: 'next', stream })) as MessageChange;
          } catch (err) {
            if (closed) return;
            throw err;
          }
        }
      },
    };
    return s;
  },
  find(filter) {
    return {
      sort(spec) {
        return {
          async *[Symbol.asyncIterator]() {
            yield* (await call({
              kind: 'find',
              filter: encode(filter) as Record<string, unknown>,
              sort: spec,
            })) as Record<string, unknown>[];
          },
        };
      },
    };
  },
};

await runService(loadConfig(process.env), collection, async () => {
  process.disconnect?.();
});
