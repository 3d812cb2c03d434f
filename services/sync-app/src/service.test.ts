import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GcpSimulator, startGcpSimulator } from '../../../providers/gcp/simulator/index.ts';
import { type QdrantSimulator, startQdrantSimulator } from '../../../simulators/qdrant/index.ts';
import { freePort } from '../../../test/support/flows-function.ts';
import { waitFor } from '../../../test/support/wait-for.ts';
import { upsertDocument } from '../../../workers/shared/firestore-rest.ts';

// The sync app as its own Node process: a run on demand (POST /sync with its token), /metrics, /status.
let gcp: GcpSimulator;
let qdrant: QdrantSimulator;
let child: ChildProcess;
let url: string;
const output: string[] = [];

beforeAll(async () => {
  [gcp, qdrant] = await Promise.all([
    startGcpSimulator({ runFunctions: false, projectId: 'company-prod' }),
    startQdrantSimulator(),
  ]);
  await upsertDocument(
    { baseUrl: gcp.url, projectId: gcp.projectId, accessToken: gcp.env.GCP_ACCESS_TOKEN },
    'llm-queries',
    'q1',
    {
      question: 'when is check-in?',
      answer: 'At 3pm.',
      status: 'answered',
      at: new Date(),
    },
  );
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  child = spawn(process.execPath, [resolve(import.meta.dirname, 'main.ts')], {
    env: {
      PATH: process.env.PATH,
      GCP_PROJECT_ID: gcp.projectId,
      GCP_API_ENDPOINT: gcp.url,
      GCP_ACCESS_TOKEN: gcp.env.GCP_ACCESS_TOKEN,
      QDRANT_URL: qdrant.url,
      HTTP_PORT: String(port),
      SYNC_TOKEN: 'sync-token',
      SYNC_ON_START: 'false',
      SYNC_INTERVAL_SECONDS: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (b: Buffer) => output.push(b.toString()));
  child.stderr?.on('data', (b: Buffer) => output.push(b.toString()));
  await waitFor('the sync app listening', async () => {
    if (child.exitCode !== null) throw new Error(`sync app exited: ${output.join('')}`);
    return (await fetch(`${url}/healthz`).catch(() => undefined))?.ok;
  });
}, 60_000);
afterAll(async () => {
  child?.kill('SIGTERM');
  await Promise.all([gcp?.close(), qdrant?.close()]);
});

describe('sync-app service', () => {
  it('refuses a run without its token, runs on demand with it, and shows the progress on /metrics', async () => {
    expect((await fetch(`${url}/sync`, { method: 'POST' })).status).toBe(401);
    const r = await fetch(`${url}/sync`, { method: 'POST', headers: { authorization: 'Bearer sync-token' } });
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ documents: 1, backfilled: ['qa:q1'], problems: [] });
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/sync_app_runs_total\{result="ok"\} 1/);
    expect(metrics).toMatch(/sync_app_backfilled_total 1/);
    expect(metrics).toMatch(/sync_app_documents_total 1/);
    expect(((await (await fetch(`${url}/status`)).json()) as { backfilled: string[] }).backfilled).toEqual(['qa:q1']);
    // The token never shows in the logs.
    expect(output.join('')).not.toContain('sync-token');
  });
});
