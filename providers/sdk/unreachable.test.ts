import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { KeelsonError } from './errors.ts';
import { connectFailure, endpointForMessage } from './unreachable.ts';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

async function listen(server: Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  servers.pop();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** What a real fetch throws, wrapped as a provider's client wraps it. */
async function fetchError(url: string): Promise<unknown> {
  try {
    await fetch(url);
  } catch (e) {
    return new KeelsonError('cannot list servers: the connection failed (fetch failed)', {
      code: 'API_ERROR',
      class: 'transient',
      cause: e,
    });
  }
  throw new Error(`fetch ${url} did not fail`);
}

describe('connectFailure', () => {
  it('finds a refused connection under the client’s error', async () => {
    const error = await fetchError(`http://127.0.0.1:${await closedPort()}/v1/servers`);
    expect(connectFailure(error)).toBe('connection refused (ECONNREFUSED)');
  });

  it('finds a failed TLS handshake (https to a server that speaks plain HTTP)', async () => {
    const port = await listen(createHttpServer((_req, res) => res.end('{}')));
    const error = await fetchError(`https://127.0.0.1:${port}/v1/servers`);
    expect(connectFailure(error)).toMatch(/TLS/);
  });

  it('does not take a connection dropped after it was made for an unreachable API', async () => {
    const port = await listen(createServer((socket) => socket.destroy()));
    const error = await fetchError(`http://127.0.0.1:${port}/v1/servers`);
    expect(connectFailure(error)).toBeUndefined();
  });

  it('does not take an answer of the vendor (a 503) for an unreachable API', () => {
    const error = new KeelsonError('cannot list servers: service unavailable (503)', {
      code: 'API_ERROR',
      class: 'transient',
      status: 503,
    });
    expect(connectFailure(error)).toBeUndefined();
    expect(connectFailure('ECONNREFUSED')).toBeUndefined();
  });
});

describe('endpointForMessage', () => {
  it('keeps scheme, host, port and path, never user info or a query', () => {
    expect(endpointForMessage('https://user:hunter2@api.example.com:8443/v1?token=hunter2')).toBe(
      'https://api.example.com:8443/v1',
    );
    expect(endpointForMessage('not a url')).not.toContain('not a url');
  });
});
