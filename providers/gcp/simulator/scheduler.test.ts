import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from './clock.ts';
import { type GcpSimulator, startGcpSimulator } from './server.ts';

describe('Scheduler firing on the simulator clock', () => {
  const clock = new FakeClock(Date.UTC(2026, 0, 5, 8, 0, 0));
  let sim: GcpSimulator;
  let server: Server;
  let target: string;
  const hits: { at: number; retry?: string; body: string }[] = [];
  const status = 500;
  beforeAll(async () => {
    sim = await startGcpSimulator({ clock, runFunctions: false });
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        hits.push({
          at: clock.now(),
          retry: req.headers['x-cloudscheduler-retrycount'] as string | undefined,
          body: Buffer.concat(chunks).toString(),
        });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    target = `http://127.0.0.1:${(server.address() as { port: number }).port}/run`;
  });
  afterAll(async () => {
    await sim.close();
    server.close();
  });
  const h = () => ({ authorization: `Bearer ${sim.env.GCP_ACCESS_TOKEN}`, 'content-type': 'application/json' });
  const parent = () => `projects/${sim.projectId}/locations/${sim.region}`;

  it('retries a failed attempt per retryConfig (minBackoff doubling), then reports the last status', async () => {
    const res = await fetch(`${sim.url}/v1/${parent()}/jobs`, {
      method: 'POST',
      headers: h(),
      body: JSON.stringify({
        name: `${parent()}/jobs/every-ten`,
        schedule: '*/10 * * * *',
        timeZone: 'UTC',
        httpTarget: { uri: target, httpMethod: 'PUT', body: Buffer.from('{"go":1}').toString('base64') },
        retryConfig: { retryCount: 2, minBackoffDuration: '5s', maxBackoffDuration: '60s' },
      }),
    });
    expect(res.status).toBe(200);
    await sim.advance(10 * 60_000);
    expect(hits.map((x) => [new Date(x.at).toISOString(), x.retry, x.body])).toEqual([
      ['2026-01-05T08:10:00.000Z', undefined, '{"go":1}'],
    ]);
    await sim.advance(5_000);
    await sim.advance(10_000);
    await sim.advance(60_000);
    expect(hits.map((x) => [new Date(x.at).toISOString(), x.retry])).toEqual([
      ['2026-01-05T08:10:00.000Z', undefined],
      ['2026-01-05T08:10:05.000Z', '1'],
      ['2026-01-05T08:10:15.000Z', '2'],
    ]);
    const job = (await (await fetch(`${sim.url}/v1/${parent()}/jobs/every-ten`, { headers: h() })).json()) as {
      status: { code?: number };
      scheduleTime: string;
    };
    expect(job.status.code).toBe(13);
    expect(Date.parse(job.scheduleTime)).toBe(Date.UTC(2026, 0, 5, 8, 20));
  });

  it('a paused job does not fire; a Pub/Sub target publishes', async () => {
    await fetch(`${sim.url}/v1/${parent()}/jobs/every-ten:pause`, { method: 'POST', headers: h(), body: '{}' });
    hits.length = 0;
    await sim.advance(30 * 60_000);
    expect(hits).toEqual([]);
    await fetch(`${sim.url}/v1/projects/${sim.projectId}/topics/ticks`, { method: 'PUT', headers: h(), body: '{}' });
    await fetch(`${sim.url}/v1/projects/${sim.projectId}/subscriptions/ticks-pull`, {
      method: 'PUT',
      headers: h(),
      body: JSON.stringify({ topic: `projects/${sim.projectId}/topics/ticks` }),
    });
    await fetch(`${sim.url}/v1/${parent()}/jobs`, {
      method: 'POST',
      headers: h(),
      body: JSON.stringify({
        name: `${parent()}/jobs/tick`,
        schedule: '0 * * * *',
        pubsubTarget: {
          topicName: `projects/${sim.projectId}/topics/ticks`,
          data: Buffer.from('tick').toString('base64'),
          attributes: { k: 'v' },
        },
      }),
    });
    await sim.advance(60 * 60_000);
    const pulled = (await (
      await fetch(`${sim.url}/v1/projects/${sim.projectId}/subscriptions/ticks-pull:pull`, {
        method: 'POST',
        headers: h(),
        body: '{"maxMessages":10}',
      })
    ).json()) as { receivedMessages: { message: { data: string; attributes: Record<string, string> } }[] };
    expect(
      pulled.receivedMessages.map((m) => [Buffer.from(m.message.data, 'base64').toString(), m.message.attributes]),
    ).toEqual([['tick', { k: 'v' }]]);
  });
});
