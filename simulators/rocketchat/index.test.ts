import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RocketChatSimulator, startRocketChatSimulator } from './index.ts';

// The RocketChat simulator through its REST API (as a bot logs in and posts) and its outgoing
// webhook, received by a loopback server that answers what the test tells it to.
let rc: RocketChatSimulator;
let receiver: Server;
let receiverUrl: string;
const received: Record<string, unknown>[] = [];
let answers: { status: number; body: string }[] = [];

beforeAll(async () => {
  rc = await startRocketChatSimulator({
    users: [
      { username: 'alice', password: 'a' },
      { username: 'kb-bot', password: 'b' },
    ],
    retryDelayMs: () => 1,
  });
  receiver = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>);
    const answer = answers.shift() ?? { status: 200, body: '{}' };
    res.writeHead(answer.status, { 'content-type': 'application/json' });
    res.end(answer.body);
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/llm`;
  rc.addOutgoingIntegration({
    name: 'kb',
    channel: ['#general'],
    triggerWords: ['@kb'],
    urls: [receiverUrl],
    token: 'rc-tok',
    username: 'kb-bot',
    retryCount: 2,
  });
});
afterAll(async () => {
  await rc?.close();
  receiver?.closeAllConnections();
  await new Promise<void>((r) => receiver?.close(() => r()));
});

async function login(user: string, password: string) {
  const r = await fetch(`${rc.url}/api/v1/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user, password }),
  });
  return { status: r.status, body: (await r.json()) as { data?: { userId: string; authToken: string } } };
}

describe('RocketChat simulator', () => {
  it('fires the outgoing webhook with its token on a message starting with the trigger word, not on others', async () => {
    received.length = 0;
    rc.say('alice', 'general', 'hello everyone');
    const question = rc.say('alice', 'general', '@kb when is check-in?');
    await rc.idle();
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({
      token: 'rc-tok',
      trigger_word: '@kb',
      text: '@kb when is check-in?',
      message_id: question._id,
      channel_name: 'general',
      user_name: 'alice',
    });
  });

  it('retries a failing webhook (as RocketChat does) and stops at the first success', async () => {
    received.length = 0;
    answers = [
      { status: 500, body: '' },
      { status: 200, body: '{}' },
    ];
    const m = rc.say('alice', 'general', '@kb retry me');
    await rc.idle();
    expect(received.map((r) => r.message_id)).toEqual([m._id, m._id]);
    expect(rc.state.deliveries.filter((d) => d.messageId === m._id).map((d) => d.status)).toEqual([500, 200]);
  });

  it('posts a webhook answer {text} in the room as the integration user, marked as a bot message', async () => {
    received.length = 0;
    answers = [{ status: 200, body: JSON.stringify({ text: 'I am the bot' }) }];
    rc.say('alice', 'general', '@kb say something');
    await rc.idle();
    const last = [...rc.state.messages.values()].at(-1);
    expect(last?.u.username).toBe('kb-bot');
    expect(last?.msg).toBe('I am the bot');
    expect(last?.bot).toBeDefined();
  });

  it('a bot answer starting with the trigger word fires the webhook again, with bot: true (RocketChat does not skip its own)', async () => {
    received.length = 0;
    answers = [{ status: 200, body: JSON.stringify({ text: '@kb echo' }) }];
    rc.say('alice', 'general', '@kb loop once');
    await rc.idle();
    expect(received.map((r) => [r.text, r.bot])).toEqual([
      ['@kb loop once', false],
      ['@kb echo', true],
    ]);
  });

  it('retries an empty 200 and a 204 (not success for RocketChat), gives up on a 500 with a body', async () => {
    received.length = 0;
    answers = [
      { status: 200, body: '' },
      { status: 204, body: '' },
      { status: 200, body: '{}' },
    ];
    const retried = rc.say('alice', 'general', '@kb empty answers');
    await rc.idle();
    expect(rc.state.deliveries.filter((d) => d.messageId === retried._id).map((d) => d.status)).toEqual([
      200, 204, 200,
    ]);
    answers = [{ status: 500, body: 'boom' }];
    const failed = rc.say('alice', 'general', '@kb server error');
    await rc.idle();
    expect(rc.state.deliveries.filter((d) => d.messageId === failed._id).map((d) => d.status)).toEqual([500]);
  });

  it('logs in over REST and posts a reply in a thread', async () => {
    const question = rc.say('alice', 'general', 'a question');
    const { body } = await login('kb-bot', 'b');
    const headers = {
      'content-type': 'application/json',
      'x-auth-token': body.data?.authToken ?? '',
      'x-user-id': body.data?.userId ?? '',
    };
    const r = await fetch(`${rc.url}/api/v1/chat.postMessage`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ roomId: 'GENERAL', text: 'an answer', tmid: question._id }),
    });
    expect(r.status).toBe(200);
    expect(((await r.json()) as { success: boolean }).success).toBe(true);
    expect(rc.thread(question._id).map((m) => [m.u.username, m.msg])).toEqual([['kb-bot', 'an answer']]);
    const listed = await fetch(`${rc.url}/api/v1/chat.getThreadMessages?tmid=${question._id}`, { headers });
    expect(((await listed.json()) as { count: number }).count).toBe(1);
    const badThread = await fetch(`${rc.url}/api/v1/chat.postMessage`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ roomId: 'GENERAL', text: 'x', tmid: 'nope' }),
    });
    expect(badThread.status).toBe(400);
  });

  it('refuses a wrong password and requests without a session', async () => {
    expect((await login('kb-bot', 'wrong')).status).toBe(401);
    const r = await fetch(`${rc.url}/api/v1/chat.postMessage`, {
      method: 'POST',
      headers: { 'x-auth-token': 't', 'x-user-id': 'u' },
      body: '{}',
    });
    expect(r.status).toBe(401);
  });
});
