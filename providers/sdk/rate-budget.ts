import { type Clock, systemClock } from './clock.ts';

/** A documented fixed quota, for vendors whose answers do not say how much is left. */
export interface RateQuota {
  /** Requests allowed per window (Cloudflare: 1,200 per API token). */
  readonly limit: number;
  /** Window length, ms (Cloudflare: 5 minutes). */
  readonly windowMs: number;
}

/** Options of a `RateBudget`. Every field is optional. */
export interface RateBudgetOptions {
  /**
   * A documented fixed quota, counted here in a sliding window (Cloudflare; a Google API's
   * per-minute quota). Default none: the budget learns the limit from the vendor's
   * `RateLimit-Limit/Remaining/Reset` headers (Hetzner), and does not slow down until they come.
   */
  readonly quota?: RateQuota;
  /**
   * Share of the budget spent at full speed; past it, requests are spread over the time the budget
   * needs to refill, so keelson slows down before the vendor says 429. Default 0.8.
   */
  readonly slowDownAt?: number;
  /** Longest pause before one request while slowing down on a header-fed budget, ms. Default 5,000. */
  readonly maxPauseMs?: number;
  /** Longest wait after a 429 that names no retry time, ms (it doubles from one refill interval). Default 10,000. */
  readonly maxBackoffMs?: number;
  /** Clock and sleep; tests pass a fake one (`fakeClock` in `testing.ts`). Default the system clock. */
  readonly clock?: Clock;
}

/**
 * One request budget per vendor credential (a Hetzner project, a Cloudflare token, a Google
 * project), shared by every handler of a provider. Before each request `acquire()` waits as needed:
 * nothing while the budget is comfortable, then spacing that spends what is left over the time it
 * takes to refill; after a 429 every caller waits for the vendor's retry time. Fed either by the
 * vendor's headers (`observe`) or by a documented fixed quota.
 */
export class RateBudget {
  readonly #quota: RateQuota | undefined;
  readonly #slowDownAt: number;
  readonly #maxPauseMs: number;
  readonly #maxBackoffMs: number;
  readonly #clock: Clock;
  /** Quota mode: start times of the requests in the current window, oldest first. */
  readonly #sent: number[] = [];
  /** What the vendor last reported. */
  #reportedLimit: number | undefined;
  #reportedRemaining: number | undefined;
  /** Epoch ms at which the vendor's bucket is full again (header-fed). */
  #resetAt = 0;
  /** Epoch ms before which nobody sends (after a 429). */
  #pausedUntil = 0;

  constructor(options: RateBudgetOptions = {}) {
    this.#quota = options.quota;
    this.#slowDownAt = options.slowDownAt ?? 0.8;
    this.#maxPauseMs = options.maxPauseMs ?? 5000;
    this.#maxBackoffMs = options.maxBackoffMs ?? 10_000;
    this.#clock = options.clock ?? systemClock;
    const q = options.quota;
    if (q !== undefined && !(q.limit > 0))
      throw new TypeError(`RateBudget quota.limit must be positive, received ${q.limit}`);
    if (q !== undefined && !(q.windowMs > 0)) {
      throw new TypeError(`RateBudget quota.windowMs must be positive, received ${q.windowMs}`);
    }
    if (!(this.#slowDownAt > 0 && this.#slowDownAt <= 1)) {
      throw new TypeError(`RateBudget slowDownAt must be in (0, 1], received ${this.#slowDownAt}`);
    }
  }

  /** The documented or last reported limit; undefined until a header-fed vendor has said. */
  get limit(): number | undefined {
    return this.#quota?.limit ?? this.#reportedLimit;
  }

  /** Waits until one more request fits the budget, then counts it. Resolves with the time it waited, ms. */
  async acquire(signal?: AbortSignal): Promise<number> {
    let waited = 0;
    // A 429 pause and a full quota window are conditions: wait until they have passed.
    for (;;) {
      const now = this.#clock.now();
      const wait =
        this.#pausedUntil > now ? this.#pausedUntil - now : this.#quota ? this.#quotaDelay(now, this.#quota) : 0;
      if (wait <= 0) break;
      await this.#clock.sleep(wait, signal);
      waited += wait;
    }
    // Near a header-fed limit, one pause per request: the vendor's next answer says what is left.
    const spacing = this.#quota ? 0 : this.#reportedDelay(this.#clock.now());
    if (spacing > 0) {
      await this.#clock.sleep(spacing, signal);
      waited += spacing;
    }
    if (this.#quota) this.#sent.push(this.#clock.now());
    // Count our own copy down so concurrent callers see the pressure before the next answer.
    if (this.#reportedRemaining !== undefined && this.#reportedRemaining > 0) this.#reportedRemaining--;
    return waited;
  }

  /** How long the next request should wait, ms: 0 while the budget is comfortable. */
  delay(): number {
    const now = this.#clock.now();
    if (this.#pausedUntil > now) return this.#pausedUntil - now;
    return this.#quota ? this.#quotaDelay(now, this.#quota) : this.#reportedDelay(now);
  }

  /**
   * Reads the vendor's view from an answer's headers: `RateLimit-Limit`, `RateLimit-Remaining` and
   * `RateLimit-Reset` (epoch seconds as Hetzner sends it, or seconds from now as the IETF draft
   * does), and `X-RateLimit-Remaining`.
   */
  observe(headers: Headers): void {
    const limit = numberHeader(headers, 'ratelimit-limit');
    const remaining = numberHeader(headers, 'ratelimit-remaining') ?? numberHeader(headers, 'x-ratelimit-remaining');
    const reset = numberHeader(headers, 'ratelimit-reset');
    if (limit !== undefined) this.#reportedLimit = limit;
    if (remaining !== undefined) this.#reportedRemaining = remaining;
    if (reset !== undefined) this.#resetAt = reset > 1e9 ? reset * 1000 : this.#clock.now() + reset * 1000;
  }

  /**
   * The vendor answered 429: nobody sends before the retry time it named (`retryAfterMs`), or, when it
   * named none, a backoff doubling from one refill interval with `attempt`. Returns the wait, ms.
   */
  rateLimited(retryAfterMs: number | undefined, attempt = 0): number {
    const wait =
      retryAfterMs ?? Math.min(this.#maxBackoffMs, this.refillIntervalMs() * 2 ** Math.min(Math.max(attempt, 0), 6));
    this.#pausedUntil = Math.max(this.#pausedUntil, this.#clock.now() + wait);
    if (!this.#quota) this.#reportedRemaining = 0;
    return wait;
  }

  /** Remaining and limit, for the `keelson_provider_rate_budget_remaining` metric; undefined when unknown. */
  snapshot(): { remaining: number; limit: number } | undefined {
    if (this.#quota) {
      this.#expire(this.#clock.now(), this.#quota);
      const own = this.#quota.limit - this.#sent.length;
      const remaining = this.#reportedRemaining === undefined ? own : Math.min(own, this.#reportedRemaining);
      return { remaining: Math.max(0, remaining), limit: this.#quota.limit };
    }
    if (this.#reportedLimit === undefined || this.#reportedRemaining === undefined) return undefined;
    return { remaining: this.#reportedRemaining, limit: this.#reportedLimit };
  }

  /** Time one request takes to come back into the budget, ms. */
  refillIntervalMs(): number {
    if (this.#quota) return this.#quota.windowMs / this.#quota.limit;
    if (this.#reportedLimit === undefined || this.#reportedRemaining === undefined) return 1000;
    const missing = Math.max(1, this.#reportedLimit - this.#reportedRemaining);
    return Math.max(1, (this.#resetAt - this.#clock.now()) / missing);
  }

  #expire(now: number, quota: RateQuota): void {
    const cutoff = now - quota.windowMs;
    while (this.#sent.length > 0 && (this.#sent[0] as number) <= cutoff) this.#sent.shift();
  }

  #quotaDelay(now: number, quota: RateQuota): number {
    this.#expire(now, quota);
    const used = this.#sent.length;
    const oldest = this.#sent[0] as number;
    if (used >= quota.limit) return oldest + quota.windowMs - now + 1;
    if (used < Math.floor(quota.limit * this.#slowDownAt)) return 0;
    // Spread what is left evenly over the time until the oldest request leaves the window.
    const spacing = (oldest + quota.windowMs - now) / (quota.limit - used + 1);
    return (this.#sent[used - 1] as number) + spacing - now;
  }

  #reportedDelay(now: number): number {
    const limit = this.#reportedLimit;
    const remaining = this.#reportedRemaining;
    if (limit === undefined || remaining === undefined) return 0;
    const lowWater = Math.max(5, Math.floor(limit * (1 - this.#slowDownAt) + 1e-9));
    if (remaining > lowWater) return 0;
    // Spend what is left at the refill rate: the closer to zero, the longer each pause.
    const pressure = (lowWater - remaining + 1) / (lowWater + 1);
    const interval = Math.max(1, (this.#resetAt - now) / Math.max(1, limit - remaining));
    return Math.min(this.#maxPauseMs, interval * pressure);
  }
}

/** `Retry-After` (seconds, or an HTTP date) in ms; undefined when absent or unreadable. */
export function retryAfterMs(headers: Headers, now = Date.now()): number | undefined {
  const value = headers.get('retry-after');
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

/**
 * The retry time of a Google API error body (`429 RESOURCE_EXHAUSTED`, `503 UNAVAILABLE`): the
 * `retryDelay` of its `google.rpc.RetryInfo` detail (`"1.5s"`), in ms; undefined when it has none.
 */
export function retryInfoDelayMs(body: unknown): number | undefined {
  const details = (body as { error?: { details?: unknown } } | undefined)?.error?.details;
  if (!Array.isArray(details)) return undefined;
  for (const d of details) {
    const detail = d as { '@type'?: unknown; retryDelay?: unknown };
    if (detail['@type'] !== 'type.googleapis.com/google.rpc.RetryInfo') continue;
    const match = typeof detail.retryDelay === 'string' ? /^(\d+(?:\.\d+)?)s$/.exec(detail.retryDelay) : null;
    if (match) return Number(match[1]) * 1000;
  }
  return undefined;
}

function numberHeader(headers: Headers, name: string): number | undefined {
  const value = headers.get(name);
  if (value === null || value.trim() === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}
