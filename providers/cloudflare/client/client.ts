import { createRequire } from 'node:module';
import type Cloudflare from 'cloudflare';
import { type Logger, RateBudget, type RateBudgetOptions, retryAfterMs } from '../../sdk/index.ts';
import type { CloudflareConfig } from './config.ts';

/** Cloudflare's documented quota: 1,200 requests per 5 minutes per API token. */
export const CLOUDFLARE_QUOTA = { limit: 1200, windowMs: 300_000 } as const;

/** A budget on Cloudflare's documented quota (one per token). */
export function cloudflareBudget(options: Omit<RateBudgetOptions, 'quota'> = {}): RateBudget {
  return new RateBudget({ quota: CLOUDFLARE_QUOTA, ...options });
}

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
  const budget = options.budget ?? cloudflareBudget();
  const maxRetries = options.maxRateLimitRetries ?? 8;
  const budgetedFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const signal = init?.signal ?? undefined;
    for (let attempt = 0; ; attempt++) {
      await budget.acquire(signal);
      const response = await fetch(input, init);
      budget.observe(response.headers);
      if (response.status !== 429 || attempt >= maxRetries) return response;
      const waitMs = budget.rateLimited(retryAfterMs(response.headers), attempt);
      await response.body?.cancel();
      options.log.warn({ provider: 'cloudflare', waitMs, attempt }, 'Cloudflare answered 429; waiting');
    }
  };
  // The SDK probes `fetch.Response` to see whether FormData uploads work; point it at the global one.
  const fetchWithResponse = Object.assign(budgetedFetch, { Response });
  // Required on first use, so that validating or planning a tree without Cloudflare never loads the SDK.
  const { Cloudflare: CloudflareSdk } = createRequire(import.meta.url)('cloudflare') as typeof import('cloudflare');
  const sdk = new CloudflareSdk({
    apiToken: config.token,
    baseURL: config.baseURL,
    maxRetries: 0,
    timeout: options.timeoutMs ?? 60_000,
    fetch: fetchWithResponse,
  });
  return { sdk, accountId: config.accountId, budget, root: config.root };
}
