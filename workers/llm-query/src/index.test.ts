import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningWorker, runWorker } from '../../shared/run-worker.ts';

// The LLM query Worker in workerd, with one loopback server standing in for Qdrant, Groq and Firestore.
const seen: { path: string; headers: Record<string, unknown>; body: unknown }[] = [];
let server: Server;
let worker: RunningWorker;

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
    seen.push({ path: req.url ?? '', headers: req.headers, body });
    res.writeHead(200, { 'content-type': 'application/json' });
    if (req.url?.includes('/points/query')) {
      res.end(JSON.stringify({ result: { points: [{ payload: { text: 'Check-in is at 3pm.' } }] } }));
    } else if (req.url?.includes('/chat/completions')) {
      res.end(JSON.stringify({ choices: [{ message: { content: 'Check-in is at 3pm [1].' } }] }));
    } else res.end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  worker = await runWorker('llm-query', {
    ROCKETCHAT_TOKEN: 'rc-token',
    GROQ_API_KEY: 'groq-key',
    QDRANT_API_KEY: 'qdrant-key',
    QDRANT_URL: url,
    GROQ_URL: url,
    FIRESTORE_URL: url,
    GCP_PROJECT: 'demo-project',
  });
});
afterAll(async () => {
  await worker?.close();
  server?.closeAllConnections();
  await new Promise<void>((r) => server?.close(() => r()));
});

const ask = (body: unknown) =>
  worker.fetch('https://hooks.example.com/llm', { method: 'POST', body: JSON.stringify(body) });

describe('llm-query Worker', () => {
  it('answers with Groq using Qdrant context, and stores the Q&A', async () => {
    seen.length = 0;
    const response = await ask({ token: 'rc-token', text: '@bot when is check-in?', message_id: 'm1' });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ text: 'Check-in is at 3pm [1].' });
    expect(seen.map((s) => s.path.split('?')[0])).toEqual([
      '/collections/knowledge/points/query',
      '/openai/v1/chat/completions',
      '/v1/projects/demo-project/databases/(default)/documents/llm-queries/m1',
    ]);
    expect(seen[0]?.headers['api-key']).toBe('qdrant-key');
    expect(JSON.stringify(seen[1]?.body)).toContain('Check-in is at 3pm.');
    expect(JSON.stringify(seen[1]?.body)).toContain('when is check-in?');
  });

  it('refuses a wrong RocketChat token without calling anyone', async () => {
    seen.length = 0;
    expect((await ask({ token: 'x', text: 'hi' })).status).toBe(401);
    expect(seen).toEqual([]);
  });
});
