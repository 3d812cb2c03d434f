import { classify, KeelsonError } from '../../providers/sdk/index.ts';

/** How hard the applier tries a call before it gives up for this pass. */
export interface RetryPolicy {
  /** Attempts in all, including the first. Default 4. */
  readonly attempts: number;
  /** First backoff, doubled each time with jitter. Default 250 ms. */
  readonly baseDelayMs: number;
  /** Longest single wait (also caps `retryAfterMs`). Default 30 s. */
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 250, maxDelayMs: 30_000 };

/**
 * Runs `call`, retrying transient and waiting errors with backoff (waiting errors after the time
 * they ask for); terminal errors, errors `giveUp` accepts and the last failure are thrown. Only for
 * idempotent calls.
 */
export async function withRetry<T>(
  call: () => Promise<T>,
  policy: RetryPolicy,
  signal?: AbortSignal,
  giveUp?: (error: unknown) => boolean,
): Promise<T> {
  let attempt = 0;
  for (;;) {
    attempt++;
    try {
      return await call();
    } catch (error) {
      const kind = classify(error);
      if (kind === 'terminal' || attempt >= policy.attempts || signal?.aborted || giveUp?.(error)) throw error;
      const asked = error instanceof KeelsonError ? error.retryAfterMs : undefined;
      const backoff = policy.baseDelayMs * 2 ** (attempt - 1) * (0.5 + Math.random() / 2);
      await sleep(Math.min(policy.maxDelayMs, asked ?? backoff), signal);
    }
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
