import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SecretValue } from '../../providers/sdk/index.ts';
import { silentLogger } from '../../providers/sdk/testing.ts';
import type { DriftEntry } from '../plan/types.ts';
import { alertFromEvent } from './alert.ts';
import { AlertDispatcher } from './alert-dispatcher.ts';
import { JsonWebhookChannel } from './json-webhook-channel.ts';
import { RocketChatChannel, rocketChatText } from './rocketchat-channel.ts';

const entry: DriftEntry = {
  key: 'swarm.Service/web',
  kind: 'swarm.Service',
  name: 'web',
  provider: 'swarm',
  policy: 'observe',
  type: 'changed',
  fingerprint: 'f'.repeat(64),
  fields: [
    { path: 'replicas', before: 5, after: 2, sensitive: false, forcesReplacement: false, unknown: false },
    {
      path: 'env.API_TOKEN',
      before: 'hunter2-live',
      after: new SecretValue('hunter2-git', 'TOKEN'),
      sensitive: true,
      forcesReplacement: false,
      unknown: false,
    },
  ],
};
const record = {
  key: entry.key,
  fingerprint: entry.fingerprint,
  observations: 2,
  firstSeen: 'then',
  lastSeen: 'now',
  fields: ['replicas', 'env.API_TOKEN'],
  policy: 'observe',
  alertedAt: 'now',
};
const alert = alertFromEvent({ type: 'opened', record, entry }, 'abc123', 'http://keelson.test/status', new Date(0));

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/** A loopback receiver that answers `statuses` in turn (then 200). */
async function receiver(statuses: number[] = []): Promise<{ url: string; got: Received[] }> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      got.push({ headers: req.headers, body });
      res.statusCode = statuses.shift() ?? 200;
      res.end('ok');
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got };
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('alert rendering', () => {
  it('shows resource, fields and before/after, with sensitive values redacted and a link to /status', () => {
    const text = rocketChatText(alert);
    expect(text).toContain('swarm.Service/web');
    expect(text).toContain('`replicas`: 5 → 2');
    expect(text).toContain('`env.API_TOKEN`: (sensitive) → (sensitive)');
    expect(text).toContain('http://keelson.test/status');
    expect(text).not.toContain('hunter2');
  });
});

describe('channels', () => {
  it('posts a readable RocketChat message', async () => {
    const r = await receiver();
    await new RocketChatChannel(new SecretValue(r.url, 'rocketchat')).send(alert, AbortSignal.timeout(5000));
    expect(JSON.parse(r.got[0]?.body ?? '{}').text).toBe(rocketChatText(alert));
  });

  it('signs the JSON webhook body with HMAC-SHA256 in X-Keelson-Signature-256', async () => {
    const r = await receiver();
    await new JsonWebhookChannel(r.url, new SecretValue('shh', 'k')).send(alert, AbortSignal.timeout(5000));
    const got = r.got[0];
    expect(got).toBeDefined();
    const expected = `sha256=${createHmac('sha256', 'shh')
      .update(got?.body ?? '')
      .digest('hex')}`;
    expect(got?.headers['x-keelson-signature-256']).toBe(expected);
    expect(JSON.parse(got?.body ?? '{}')).toMatchObject({
      type: 'drift.opened',
      key: 'swarm.Service/web',
      revision: 'abc123',
    });
    expect(got?.body).not.toContain('hunter2');
  });
});

describe('AlertDispatcher', () => {
  it('retries a failing endpoint with backoff until it answers', async () => {
    const r = await receiver([503, 500]);
    const d = new AlertDispatcher({
      channels: [new JsonWebhookChannel(r.url, new SecretValue('k', 'k'))],
      log: silentLogger,
      policy: { firstDelayMs: 10, maxDelayMs: 50 },
    });
    d.dispatch(alert);
    await d.idle();
    expect(r.got).toHaveLength(3);
  });

  it('returns at once while a channel is down, and the other channel still gets the alert', async () => {
    const good = await receiver();
    const down = { name: 'down', send: () => new Promise<void>(() => {}) };
    const d = new AlertDispatcher({
      channels: [down, new RocketChatChannel(new SecretValue(good.url, 'r'))],
      log: silentLogger,
      policy: { attemptTimeoutMs: 100_000 },
    });
    d.dispatch(alert);
    await until(() => good.got.length === 1, 'the working channel');
    await d.close(10);
  });
});
