/** Options of the simulated per-project rate budget. Hetzner: 3600 requests, refilled at 1/s. */
export interface RateLimitOptions {
  /** Bucket size (default 3600). */
  readonly limit?: number;
  /** Requests added back per second (default 1). */
  readonly refillPerSecond?: number;
}

/** A token bucket that answers like Hetzner's `RateLimit-*` headers. */
export class SimulatedRateLimit {
  limit: number;
  refillPerSecond: number;
  #tokens: number;
  #at: number;

  constructor(options: RateLimitOptions = {}) {
    this.limit = options.limit ?? 3600;
    this.refillPerSecond = options.refillPerSecond ?? 1;
    this.#tokens = this.limit;
    this.#at = Date.now();
  }

  /** Changes the budget; the bucket starts full unless `remaining` is given. */
  configure(options: RateLimitOptions & { readonly remaining?: number }): void {
    if (options.limit !== undefined) this.limit = options.limit;
    if (options.refillPerSecond !== undefined) this.refillPerSecond = options.refillPerSecond;
    this.#tokens = options.remaining ?? this.limit;
    this.#at = Date.now();
  }

  #refill(): void {
    const now = Date.now();
    this.#tokens = Math.min(this.limit, this.#tokens + ((now - this.#at) / 1000) * this.refillPerSecond);
    this.#at = now;
  }

  /** Takes one request from the budget; false when it is spent. */
  take(): boolean {
    this.#refill();
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  headers(): Record<string, string> {
    this.#refill();
    const remaining = Math.floor(this.#tokens);
    const secondsToFull = (this.limit - this.#tokens) / Math.max(this.refillPerSecond, 1e-9);
    return {
      'RateLimit-Limit': String(this.limit),
      'RateLimit-Remaining': String(remaining),
      'RateLimit-Reset': String(Math.ceil(Date.now() / 1000 + secondsToFull)),
    };
  }
}
