/**
 * One rate budget per Google Cloud project. Google sends no remaining-quota headers, so the budget
 * is fed by what it does send: a `429 RESOURCE_EXHAUSTED` with a `RetryInfo` delay blocks every
 * request of the project until that delay has passed (without RetryInfo: exponential backoff).
 * An optional fixed quota (requests per minute, like the documented per-project quotas) spaces
 * requests out before a 429 is ever seen.
 */
export class GcpRateBudget {
  /** Epoch ms before which no request is sent. */
  #blockedUntil = 0;
  readonly #perMinute: number | undefined;
  readonly #sent: number[] = [];
  readonly #now: () => number;

  constructor(options: { perMinute?: number; now?: () => number } = {}) {
    this.#perMinute = options.perMinute;
    this.#now = options.now ?? Date.now;
  }

  /** How long to wait before the next request: 0 while the budget is comfortable. */
  pauseBeforeRequest(): number {
    const now = this.#now();
    let pause = Math.max(0, this.#blockedUntil - now);
    if (this.#perMinute !== undefined) {
      while (this.#sent.length > 0 && (this.#sent[0] as number) <= now - 60_000) this.#sent.shift();
      if (this.#sent.length >= this.#perMinute) pause = Math.max(pause, (this.#sent[0] as number) + 60_000 - now);
    }
    return pause;
  }

  spend(): void {
    if (this.#perMinute !== undefined) this.#sent.push(this.#now());
  }

  /** After a 429: nobody sends until `ms` has passed. */
  blockFor(ms: number): void {
    this.#blockedUntil = Math.max(this.#blockedUntil, this.#now() + ms);
  }

  /** For the `keelson_provider_rate_budget_remaining` metric; undefined without a fixed quota. */
  snapshot(): { remaining: number; limit: number } | undefined {
    if (this.#perMinute === undefined) return undefined;
    return { remaining: Math.max(0, this.#perMinute - this.#sent.length), limit: this.#perMinute };
  }
}
