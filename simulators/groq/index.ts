import { words } from '../qdrant/embedding.ts';
import { BadJson, type SimRequest, type SimResponse, startJsonServer } from '../shared/json-server.ts';

/**
 * A stateful simulator of Groq's OpenAI-compatible chat API (`/openai/v1/chat/completions`,
 * `/openai/v1/models`), checked with the `openai` client. Answers are deterministic and use the
 * context given: the assistant quotes the context line (`[n] ...` in the system message) sharing
 * most words with the question, or says the context does not hold the answer; a request to
 * summarise gets the text's first sentences. Rate limits per API key over a one-minute window
 * (requests and tokens), with Groq's `x-ratelimit-*` headers and a 429 with `retry-after`.
 */

export const GROQ_MODELS = ['llama-3.1-8b-instant', 'llama-3.3-70b-versatile', 'openai/gpt-oss-20b'];

export interface GroqCall {
  readonly model: string;
  readonly messages: { role: string; content: string }[];
  readonly answer: string;
}

export interface GroqSimulatorState {
  /** Every completion served, in order. */
  readonly calls: GroqCall[];
  /** Answers refused with 429 so far. */
  rateLimited: number;
  /** The next `count` requests answer 429 with `retry-after: seconds` (a burst from other tenants). */
  rateLimitNext(count: number, seconds?: number): void;
  /** While true every request answers 503 (`service_unavailable`). */
  unavailable: boolean;
  /** While true requests get no answer at all (a hung upstream: callers need timeouts). */
  stalled: boolean;
}

export interface GroqSimulatorOptions {
  readonly port?: number;
  /** Accepted API keys. Default: any key starting with `gsk_`. */
  readonly apiKeys?: readonly string[];
  /** Requests per minute per key. Default 30 (Groq's free tier). */
  readonly requestsPerMinute?: number;
  /** Tokens per minute per key. Default 6000. */
  readonly tokensPerMinute?: number;
  /** The clock, ms since the epoch (tests drive it). Default `Date.now`. */
  readonly now?: () => number;
}

export interface GroqSimulator {
  readonly url: string;
  readonly state: GroqSimulatorState;
  close(): Promise<void>;
}

const err = (
  status: number,
  message: string,
  type: string,
  code?: string,
  headers?: Record<string, string>,
): SimResponse => ({
  status,
  body: { error: { message, type, ...(code ? { code } : {}) } },
  ...(headers ? { headers } : {}),
});

/** Tokens as a rough count (Groq's tokenizer is not simulated): a token per 4 characters. */
const tokens = (text: string) => Math.max(1, Math.ceil(text.length / 4));

/** Groq's duration format in reset headers: `2m59.56s`, `7.66s`. */
function duration(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  const m = Math.floor(s / 60);
  const rest = (s - m * 60).toFixed(2).replace(/\.?0+$/, '');
  return m > 0 ? `${m}m${rest}s` : `${rest}s`;
}

/** The deterministic answer: quote the best-matching context line, or summarise when asked. */
export function answerFor(messages: { role: string; content: string }[]): string {
  const system = messages
    .filter((m) => m.role === 'system')
    .map((m) => m.content)
    .join('\n');
  const user = [...messages].reverse().find((m) => m.role === 'user')?.content ?? '';
  if (/summari[sz]e/i.test(system)) {
    const sentences =
      user
        .match(/[^.!?\n]+[.!?]?/g)
        ?.map((s) => s.trim())
        .filter(Boolean) ?? [];
    return `Summary: ${sentences.slice(0, 2).join(' ')}`;
  }
  const question = new Set(words(user));
  let best: { line: string; overlap: number } | undefined;
  for (const line of system.split('\n')) {
    const passage = /^\[(\d+)\]\s*(.*)$/.exec(line.trim());
    if (!passage) continue;
    const overlap = new Set(words(passage[2] ?? '').filter((w) => question.has(w))).size;
    if (overlap > 0 && (!best || overlap > best.overlap)) best = { line: `${passage[2]} [${passage[1]}]`, overlap };
  }
  return best ? best.line : 'The context does not contain the answer.';
}

export async function startGroqSimulator(options: GroqSimulatorOptions = {}): Promise<GroqSimulator> {
  const now = options.now ?? Date.now;
  const rpm = options.requestsPerMinute ?? 30;
  const tpm = options.tokensPerMinute ?? 6000;
  const usage = new Map<string, { at: number; tokens: number }[]>();
  let forced = { count: 0, seconds: 1 };
  let sequence = 0;
  const state: GroqSimulatorState = {
    calls: [],
    rateLimited: 0,
    unavailable: false,
    stalled: false,
    rateLimitNext(count, seconds = 1) {
      forced = { count, seconds };
    },
  };

  function route(req: SimRequest): SimResponse {
    if (state.unavailable) return err(503, 'Service Unavailable', 'internal_server_error', 'service_unavailable');
    const auth = req.headers.authorization ?? '';
    const keyGiven = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    const valid = options.apiKeys ? options.apiKeys.includes(keyGiven) : keyGiven.startsWith('gsk_');
    if (!valid) return err(401, 'Invalid API Key', 'invalid_request_error', 'invalid_api_key');

    if (req.method === 'GET' && req.path === '/openai/v1/models') {
      return {
        status: 200,
        body: {
          object: 'list',
          data: GROQ_MODELS.map((id) => ({ id, object: 'model', created: 1700000000, owned_by: 'groq', active: true })),
        },
      };
    }
    if (req.method !== 'POST' || req.path !== '/openai/v1/chat/completions') {
      return err(
        404,
        `Unknown request URL: ${req.method} ${req.path}. Please check the URL for typos.`,
        'invalid_request_error',
        'unknown_url',
      );
    }
    const body = req.json() as { model?: unknown; messages?: unknown; stream?: unknown } | undefined;
    if (typeof body?.model !== 'string')
      return err(400, "'model' : property 'model' is missing", 'invalid_request_error');
    if (!GROQ_MODELS.includes(body.model))
      return err(
        404,
        `The model \`${body.model}\` does not exist or you do not have access to it.`,
        'invalid_request_error',
        'model_not_found',
      );
    if (!Array.isArray(body.messages) || body.messages.length === 0)
      return err(400, "'messages' : minimum number of items is 1", 'invalid_request_error');
    const messages = body.messages as { role: string; content: string }[];
    for (const [i, m] of messages.entries()) {
      if (!['system', 'user', 'assistant', 'tool'].includes(m?.role) || typeof m.content !== 'string')
        return err(
          400,
          `'messages.${i}' : discriminator property 'role' has invalid value or 'content' is not a string`,
          'invalid_request_error',
        );
    }

    const t = now();
    const window = (usage.get(keyGiven) ?? []).filter((u) => u.at > t - 60_000);
    usage.set(keyGiven, window);
    const promptTokens = messages.reduce((n, m) => n + tokens(m.content), 0);
    const usedTokens = window.reduce((n, u) => n + u.tokens, 0);
    const resetMs = window.length > 0 ? (window[0]?.at ?? t) + 60_000 - t : 0;
    const headers = (remainingRequests: number, remainingTokens: number): Record<string, string> => ({
      'x-ratelimit-limit-requests': String(rpm),
      'x-ratelimit-limit-tokens': String(tpm),
      'x-ratelimit-remaining-requests': String(Math.max(0, remainingRequests)),
      'x-ratelimit-remaining-tokens': String(Math.max(0, remainingTokens)),
      'x-ratelimit-reset-requests': duration(resetMs),
      'x-ratelimit-reset-tokens': duration(resetMs),
    });
    const refuse = (what: string, limit: number, used: number, requested: number, seconds: number) => {
      state.rateLimited++;
      return err(
        429,
        `Rate limit reached for model \`${body.model}\` in organization \`org_simulator\` service tier \`on_demand\` on ${what}: Limit ${limit}, Used ${used}, Requested ${requested}. Please try again in ${duration(seconds * 1000)}.`,
        what.startsWith('requests') ? 'requests' : 'tokens',
        'rate_limit_exceeded',
        { ...headers(rpm - window.length, tpm - usedTokens), 'retry-after': String(seconds) },
      );
    };
    if (forced.count > 0) {
      forced.count--;
      return refuse('requests per minute (RPM)', rpm, rpm, 1, forced.seconds);
    }
    if (window.length >= rpm)
      return refuse('requests per minute (RPM)', rpm, window.length, 1, Math.ceil(resetMs / 1000));
    if (usedTokens + promptTokens > tpm)
      return refuse('tokens per minute (TPM)', tpm, usedTokens, promptTokens, Math.ceil(resetMs / 1000));

    const answer = answerFor(messages);
    const completionTokens = tokens(answer);
    window.push({ at: t, tokens: promptTokens + completionTokens });
    state.calls.push({ model: body.model, messages, answer });
    const id = `chatcmpl-sim-${++sequence}`;
    const created = Math.floor(t / 1000);
    const rateHeaders = headers(rpm - window.length, tpm - usedTokens - promptTokens - completionTokens);
    const usageBody = {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    };
    if (body.stream === true) {
      const chunk = (delta: unknown, finish: string | null) =>
        `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: body.model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`;
      return {
        status: 200,
        headers: { ...rateHeaders, 'content-type': 'text/event-stream' },
        body: `${chunk({ role: 'assistant', content: answer }, null)}${chunk({}, 'stop')}data: [DONE]\n\n`,
      };
    }
    return {
      status: 200,
      headers: rateHeaders,
      body: {
        id,
        object: 'chat.completion',
        created,
        model: body.model,
        choices: [{ index: 0, message: { role: 'assistant', content: answer }, logprobs: null, finish_reason: 'stop' }],
        usage: usageBody,
        system_fingerprint: 'fp_simulator',
        x_groq: { id: `req_sim_${sequence}` },
      },
    };
  }

  const server = await startJsonServer((req) => {
    if (state.stalled) return new Promise<SimResponse>(() => undefined);
    try {
      return route(req);
    } catch (e) {
      if (e instanceof BadJson)
        return err(400, `We could not parse the JSON body of your request. (${e.message})`, 'invalid_request_error');
      throw e;
    }
  }, options.port ?? 0);
  return { url: server.url, state, close: server.close };
}
