import Cloudflare from 'cloudflare';
import type { Logger } from '../../sdk/index.ts';
import type { CloudflareConfig } from './config.ts';
import { RateBudget } from './rate-budget.ts';

/** The SDK client plus what every handler needs next to it. */
export interface CloudflareClient {
  readonly sdk: Cloudflare;
  readonly accountId: string;
  readonly budget: RateBudget;
  /** Repository root that Worker sources are resolved against. */
  readonly root: string;
}

/** Options of `createCloudflareClient`. */
export interface CloudflareClientOptions {
  readonly log: Logger;
  /** Shared budget (one per token); a fresh 1,200 / 5 min budget by default. */
  readonly budget?: RateBudget;
  /** Times a 429 is waited out and retried before the error reaches the handler. Default 8. */
  readonly maxRateLimitRetries?: number;
  /** Per-request timeout, ms. Default 60,000. */
  readonly timeoutMs?: number;
}

/**
 * The official SDK with its own retries off: keelson's fetch wrapper spends one rate budget per
 * token and waits out 429s (`retry-after`). Retrying a 429 is safe even for a create: Cloudflare
 * rejected the request before doing anything.
 */
export function createCloudflareClient(config: CloudflareConfig, options: CloudflareClientOptions): CloudflareClient {
  const budget = options.budget ?? new RateBudget();
  const maxRetries = options.maxRateLimitRetries ?? 8;
  const budgetedFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const signal = init?.signal ?? undefined;
    for (let attempt = 0; ; attempt++) {
      await budget.acquire(signal);
      const response = await fetch(input, init);
      const remaining = response.headers.get('x-ratelimit-remaining');
      if (remaining !== null) budget.report(Number(remaining));
      if (response.status !== 429 || attempt >= maxRetries) return response;
      const retryAfter = Number(response.headers.get('retry-after'));
      const waitMs = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : 1000 * 2 ** attempt;
      await response.body?.cancel();
      options.log.warn({ provider: 'cloudflare', waitMs, attempt }, 'Cloudflare answered 429; waiting');
      budget.pause(waitMs);
    }
  };
  // The SDK probes `fetch.Response` to see whether FormData uploads work; point it at the global one.
  const fetchWithResponse = Object.assign(budgetedFetch, { Response });
  const sdk = new Cloudflare({
    apiToken: config.token,
    baseURL: config.baseURL,
    maxRetries: 0,
    timeout: options.timeoutMs ?? 60_000,
    fetch: fetchWithResponse,
  });
  return { sdk, accountId: config.accountId, budget, root: config.root };
}
