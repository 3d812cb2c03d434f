import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GroqSimulator, startGroqSimulator } from './index.ts';

// The Groq simulator driven by the `openai` client pointed at it (Groq's documented way), with a
// fake clock so the rate-limit window moves only when the test says so.
let sim: GroqSimulator;
let clock = 1_800_000_000_000;
let client: OpenAI;

beforeAll(async () => {
  sim = await startGroqSimulator({ requestsPerMinute: 3, tokensPerMinute: 10_000, now: () => clock });
  client = new OpenAI({ apiKey: 'gsk_test', baseURL: `${sim.url}/openai/v1`, maxRetries: 0 });
});
afterAll(() => sim?.close());

const context = [
  'Answer using only this context.',
  '[1] Check-in is at 3pm at the front desk.',
  '[2] The wifi password is on the fridge.',
].join('\n');

describe('Groq simulator through the openai client', () => {
  it('answers from the context line that matches the question, with usage and rate headers', async () => {
    const { data, response } = await client.chat.completions
      .create({
        model: 'llama-3.1-8b-instant',
        messages: [
          { role: 'system', content: context },
          { role: 'user', content: 'What is the wifi password?' },
        ],
      })
      .withResponse();
    expect(data.choices[0]?.message.content).toBe('The wifi password is on the fridge. [2]');
    expect(data.usage?.total_tokens).toBeGreaterThan(0);
    expect(response.headers.get('x-ratelimit-remaining-requests')).toBe('2');
  });

  it('says so when the context does not hold the answer', async () => {
    const r = await client.chat.completions.create({
      model: 'llama-3.1-8b-instant',
      messages: [
        { role: 'system', content: context },
        { role: 'user', content: 'Is there a pool?' },
      ],
    });
    expect(r.choices[0]?.message.content).toBe('The context does not contain the answer.');
  });

  it('streams when asked', async () => {
    const stream = await client.chat.completions.create({
      model: 'llama-3.1-8b-instant',
      stream: true,
      messages: [
        { role: 'system', content: context },
        { role: 'user', content: 'when is check-in?' },
      ],
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('Check-in is at 3pm at the front desk. [1]');
  });

  it('answers 429 with retry-after past the per-minute limit, and again after the window moves', async () => {
    const ask = () =>
      client.chat.completions.create({ model: 'llama-3.1-8b-instant', messages: [{ role: 'user', content: 'hi' }] });
    const refused = await ask().catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
    const e = refused as InstanceType<typeof OpenAI.RateLimitError>;
    expect(Number(e.headers?.get('retry-after'))).toBeGreaterThan(0);
    expect(e.message).toContain('requests per minute');
    clock += 61_000;
    await expect(ask()).resolves.toBeTruthy();
    sim.state.rateLimitNext(1, 2);
    const forced = (await ask().catch((x: unknown) => x)) as InstanceType<typeof OpenAI.RateLimitError>;
    expect(forced.status).toBe(429);
    expect(forced.headers?.get('retry-after')).toBe('2');
  });

  it('refuses a bad key (401) and an unknown model (404)', async () => {
    const bad = new OpenAI({ apiKey: 'sk-nope', baseURL: `${sim.url}/openai/v1`, maxRetries: 0 });
    await expect(bad.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    await expect(
      client.chat.completions.create({ model: 'gpt-5', messages: [{ role: 'user', content: 'x' }] }),
    ).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toContain('llama-3.1-8b-instant');
  });
});
