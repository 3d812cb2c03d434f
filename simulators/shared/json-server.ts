import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as a simulator's router sees it. */
export interface SimRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage['headers'];
  /** The raw body. */
  readonly text: string;
  /** The body parsed as JSON; `undefined` when empty; throws a `BadJson` when it is not JSON. */
  json(): unknown;
}

/** What a route answers. `body` is sent as JSON unless it is a string. */
export interface SimResponse {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

export class BadJson extends Error {}

/** A simulator listening on loopback. */
export interface RunningServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Starts an HTTP server on 127.0.0.1 (`port` 0: any free port) that hands every request to
 * `route`. A route that throws answers 500 with the message, which is what a simulator bug looks like.
 */
export async function startJsonServer(
  route: (req: SimRequest) => SimResponse | Promise<SimResponse>,
  port = 0,
): Promise<RunningServer> {
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://sim');
    const request: SimRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      text,
      json() {
        if (text.trim() === '') return undefined;
        try {
          return JSON.parse(text);
        } catch (err) {
          throw new BadJson((err as Error).message);
        }
      },
    };
    let answer: SimResponse;
    try {
      answer = await route(request);
    } catch (err) {
      answer = { status: 500, body: { error: `simulator error: ${(err as Error).message}` } };
    }
    const isText = typeof answer.body === 'string';
    const headers = {
      'content-type': isText ? 'text/plain; charset=utf-8' : 'application/json',
      ...(answer.headers ?? {}),
    };
    res.writeHead(answer.status, headers);
    res.end(answer.body === undefined ? '' : isText ? (answer.body as string) : JSON.stringify(answer.body));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
