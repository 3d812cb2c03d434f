import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pubsubEvent, type RunningFunction } from './flows-function.ts';

/**
 * A loopback stand-in for Pub/Sub's REST publish call (`POST /v1/projects/P/topics/T:publish`, as
 * `@google-cloud/pubsub` sends it in REST mode) with Eventarc's push of each message to the
 * function as a `messagePublished` CloudEvent, in publish order; a push the function fails stays
 * for `redeliver()`. It stands in until the GCP simulator's Pub/Sub is wired in.
 */
export interface PubSubStandIn {
  readonly url: string;
  readonly published: { messageId: string; data: string; attributes: Record<string, string>; orderingKey?: string }[];
  /** The next `n` publish calls answer 503 UNAVAILABLE. */
  failPublishes: number;
  /** Publish calls refused so far. */
  refused: number;
  /** Publish calls after the first `n` (from now) wait, unanswered, until `release()`. */
  holdAfter(n: number): void;
  /** Publish calls waiting now. */
  readonly held: number;
  /** Answers the waiting calls (their messages are published, even if the caller is gone). */
  release(): void;
  readonly failedPushes: string[];
  redeliver(): Promise<void>;
  idle(): Promise<void>;
  close(): Promise<void>;
}

export async function startPubSubStandIn(project: string, fn: RunningFunction): Promise<PubSubStandIn> {
  const published: PubSubStandIn['published'] = [];
  const failedPushes: string[] = [];
  let chain: Promise<void> = Promise.resolve();
  let sequence = 0;
  const state = { failPublishes: 0, refused: 0 };
  let allowance = Number.POSITIVE_INFINITY;
  const waiting: (() => void)[] = [];
  const push = async (m: PubSubStandIn['published'][number], topic: string) => {
    const status = await fn.send(pubsubEvent(project, topic, m));
    if (status < 200 || status >= 300) failedPushes.push(`${topic}\u0000${m.messageId}`);
  };
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const match = /^\/v1\/projects\/([^/]+)\/topics\/([^/:]+):publish/.exec(req.url ?? '');
    const answer = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (!match || req.method !== 'POST')
      return answer(404, { error: { code: 404, message: `no route ${req.url}`, status: 'NOT_FOUND' } });
    if (state.failPublishes > 0) {
      state.failPublishes--;
      state.refused++;
      return answer(503, {
        error: { code: 503, message: 'The service is currently unavailable.', status: 'UNAVAILABLE' },
      });
    }
    if (allowance <= 0) await new Promise<void>((r) => waiting.push(r));
    else allowance--;
    const topic = decodeURIComponent(match[2] ?? '');
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
      messages?: { data?: string; attributes?: Record<string, string>; orderingKey?: string }[];
    };
    const ids: string[] = [];
    for (const m of body.messages ?? []) {
      const message = {
        messageId: String(++sequence),
        data: m.data ?? '',
        attributes: m.attributes ?? {},
        ...(m.orderingKey ? { orderingKey: m.orderingKey } : {}),
      };
      published.push(message);
      ids.push(message.messageId);
      chain = chain.then(() => push(message, topic));
    }
    answer(200, { messageIds: ids });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  Object.defineProperty(state, 'held', { get: () => waiting.length, enumerable: true });
  return Object.assign(state as typeof state & { readonly held: number }, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    published,
    failedPushes,
    holdAfter(n: number) {
      allowance = n;
    },
    release() {
      allowance = Number.POSITIVE_INFINITY;
      for (const w of waiting.splice(0)) w();
    },
    async redeliver() {
      await chain;
      for (const key of failedPushes.splice(0)) {
        const [topic = '', id] = key.split('\u0000');
        const m = published.find((p) => p.messageId === id);
        if (m) await push(m, topic);
      }
    },
    async idle() {
      let seen: Promise<void>;
      do {
        seen = chain;
        await seen;
      } while (seen !== chain);
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  });
}
