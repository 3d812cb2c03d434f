/** Options of the client-side rate budget. */
export interface RateBudgetOptions {
  /** Below this many remaining requests the client spaces its calls out (default 10% of the limit, at least 5). */
  readonly lowWater?: number;
  /** Longest pause before one request when slowing down, ms (default 5000). */
  readonly maxPauseMs?: number;
}

/**
 * One rate budget per Hetzner project, fed from `RateLimit-Limit/Remaining/Reset` on every answer.
 * Near the limit it spaces requests out by the refill rate, so keelson slows down before it hits 429.
 */
export class RateBudget {
  #limit: number | undefined;
  #remaining: number | undefined;
  /** Epoch ms at which the bucket is full again. */
  #resetAt = 0;
  readonly #lowWater: number | undefined;
  readonly #maxPauseMs: number;
  /** Epoch ms before which no request should be sent (after a 429). */
  #blockedUntil = 0;

  constructor(options: RateBudgetOptions = {}) {
    this.#lowWater = options.lowWater;
    this.#maxPauseMs = options.maxPauseMs ?? 5000;
  }

  update(headers: Headers): void {
    const limit = Number(headers.get('ratelimit-limit'));
    const remaining = Number(headers.get('ratelimit-remaining'));
    const reset = Number(headers.get('ratelimit-reset'));
    if (headers.has('ratelimit-limit') && Number.isFinite(limit)) this.#limit = limit;
    if (headers.has('ratelimit-remaining') && Number.isFinite(remaining)) this.#remaining = remaining;
    if (headers.has('ratelimit-reset') && Number.isFinite(reset)) this.#resetAt = reset * 1000;
  }

  /** Remaining and limit as last reported, for the `keelson_provider_rate_budget_remaining` metric. */
  snapshot(): { remaining: number; limit: number } | undefined {
    if (this.#limit === undefined || this.#remaining === undefined) return undefined;
    return { remaining: this.#remaining, limit: this.#limit };
  }

  /** Time one request takes to come back into the bucket, ms. */
  refillIntervalMs(now = Date.now()): number {
    if (this.#limit === undefined || this.#remaining === undefined) return 1000;
    const missing = Math.max(1, this.#limit - this.#remaining);
    return Math.max(1, (this.#resetAt - now) / missing);
  }

  /** How long to wait before the next request: 0 while the budget is comfortable. */
  pauseBeforeRequest(now = Date.now()): number {
    if (this.#blockedUntil > now) return this.#blockedUntil - now;
    if (this.#limit === undefined || this.#remaining === undefined) return 0;
    const lowWater = this.#lowWater ?? Math.max(5, Math.floor(this.#limit / 10));
    if (this.#remaining > lowWater) return 0;
    // Spend what is left at the refill rate: the closer to zero, the longer each pause.
    const pressure = (lowWater - this.#remaining + 1) / (lowWater + 1);
    return Math.min(this.#maxPauseMs, this.refillIntervalMs(now) * pressure);
  }

  /** After a 429: nobody sends until `retryAfterMs` has passed. Count down our own copy too. */
  blockFor(retryAfterMs: number, now = Date.now()): void {
    this.#blockedUntil = Math.max(this.#blockedUntil, now + retryAfterMs);
    this.#remaining = 0;
  }

  /** One request is about to be sent: count it down so concurrent callers see the pressure. */
  spend(): void {
    if (this.#remaining !== undefined && this.#remaining > 0) this.#remaining--;
  }
}
