import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the capture server received. */
export interface CapturedRequest {
  readonly method: string;
  readonly path: string;
  readonly authorization: string | undefined;
  readonly body: unknown;
}

/**
 * A loopback stand-in for Firestore's REST endpoint, for Worker tests: records every request and
 * answers like Firestore does (200 with the document), or with `failWith` when set.
 */
export interface FirestoreCapture {
  readonly url: string;
  readonly requests: CapturedRequest[];
  failWith: number | undefined;
  close(): Promise<void>;
}

export async function startFirestoreCapture(): Promise<FirestoreCapture> {
  const requests: CapturedRequest[] = [];
  const capture: { failWith: number | undefined } = { failWith: undefined };
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    requests.push({
      method: req.method ?? '',
      path: decodeURIComponent(req.url ?? ''),
      authorization: req.headers.authorization,
      body: text ? JSON.parse(text) : undefined,
    });
    if (capture.failWith !== undefined) {
      res.writeHead(capture.failWith, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: capture.failWith, message: 'injected' } }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ name: req.url, ...(text ? JSON.parse(text) : {}) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(capture, {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  }) as FirestoreCapture;
}
