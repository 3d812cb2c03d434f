/** When the next pass runs after a good one: the interval plus up to `jitter` × interval at random. */
export function nextIntervalMs(intervalMs: number, jitter: number, random: () => number = Math.random): number {
  return Math.round(intervalMs * (1 + jitter * random()));
}

/**
 * Backoff after `failures` consecutive failed passes (1 = the first failure): first × 2^(n-1),
 * capped at `maxMs`, with up to 10 % jitter so that replicas do not retry in step.
 */
export function backoffMs(
  failures: number,
  firstMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const base = Math.min(maxMs, firstMs * 2 ** Math.max(0, failures - 1));
  return Math.round(Math.min(maxMs, base * (1 + 0.1 * random())));
}
