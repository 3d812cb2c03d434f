/** Options of a `RateBudget`. */
export interface RateBudgetOptions {
  /** Requests allowed per window (Cloudflare: 1,200 per token). Default 1200. */
  readonly limit?: number;
  /** Window length in ms (Cloudflare: 5 minutes). Default 300,000. */
  readonly windowMs?: number;
  /**
   * Share of the window's budget spent at full speed; past it, requests are spread evenly over
   * what is left of the window. Default 0.8.
   */
  readonly slowDownAt?: number;
  /** Clock and sleep, replaceable in tests. */
  readonly now?: () => number;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/**
 * One sliding-window request budget per API token. `acquire()` waits as needed before each request:
 * nothing below `slowDownAt`, then spacing so that the window is never exceeded; a 429 pauses every
 * caller until the vendor's `retry-after` has passed.
 */
export class RateBudget {
  readonly limit: number;
  readonly windowMs: number;
  readonly #slowDownAt: number;
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Start times of requests in the current window, oldest first. */
  readonly #sent: number[] = [];
  #pausedUntil = 0;
  /** Last remaining count the vendor reported, if any. */
  #vendorRemaining: number | undefined;

  constructor(options: RateBudgetOptions = {}) {
    this.limit = options.limit ?? 1200;
    this.windowMs = options.windowMs ?? 300_000;
    this.#slowDownAt = options.slowDownAt ?? 0.8;
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? sleep;
    if (!(this.limit > 0)) throw new TypeError(`RateBudget limit must be positive, received ${this.limit}`);
  }

  /** Waits until one more request fits the budget, then counts it. */
  async acquire(signal?: AbortSignal): Promise<void> {
    for (;;) {
      const wait = this.#delay();
      if (wait <= 0) break;
      await this.#sleep(wait, signal);
    }
    this.#sent.push(this.#now());
  }

  /** The vendor said 429: nobody sends before `ms` from now. */
  pause(ms: number): void {
    this.#pausedUntil = Math.max(this.#pausedUntil, this.#now() + ms);
  }

  /** Records the vendor's own view of the budget when it sends one. */
  report(remaining: number | undefined): void {
    if (remaining !== undefined && Number.isFinite(remaining)) this.#vendorRemaining = remaining;
  }

  remaining(): number {
    this.#expire();
    const own = this.limit - this.#sent.length;
    return Math.max(0, this.#vendorRemaining === undefined ? own : Math.min(own, this.#vendorRemaining));
  }

  #expire(): void {
    const cutoff = this.#now() - this.windowMs;
    while (this.#sent.length > 0 && (this.#sent[0] as number) <= cutoff) this.#sent.shift();
  }

  #delay(): number {
    const now = this.#now();
    if (this.#pausedUntil > now) return this.#pausedUntil - now;
    this.#expire();
    const used = this.#sent.length;
    if (used >= this.limit) return (this.#sent[0] as number) + this.windowMs - now + 1;
    const soft = Math.floor(this.limit * this.#slowDownAt);
    if (used < soft) return 0;
    // Spread what is left evenly over the time until the oldest request leaves the window.
    const left = this.limit - used;
    const windowLeft = (this.#sent[0] as number) + this.windowMs - now;
    const spacing = windowLeft / (left + 1);
    const last = this.#sent[this.#sent.length - 1] as number;
    return last + spacing - now;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
