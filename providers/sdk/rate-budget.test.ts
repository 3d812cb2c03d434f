import { describe, expect, it } from 'vitest';
import { RateBudget, retryAfterMs, retryInfoDelayMs } from './rate-budget.ts';
import { fakeClock } from './testing.ts';

/** A budget with a documented quota on a fake clock: sleeping advances time, so nothing waits for real. */
function quotaBudget(limit: number, windowMs: number, slowDownAt = 0.8) {
  const clock = fakeClock();
  return { budget: new RateBudget({ quota: { limit, windowMs }, slowDownAt, clock }), clock };
}

/** A realistic now: Hetzner's reset is an epoch second, told apart from a delta by its size. */
const EPOCH = 1_700_000_000_000;

/** Headers as Hetzner sends them: `RateLimit-Reset` is the epoch second at which the bucket is full. */
function hetznerHeaders(limit: number, remaining: number, resetAtMs: number): Headers {
  return new Headers({
    'RateLimit-Limit': String(limit),
    'RateLimit-Remaining': String(remaining),
    'RateLimit-Reset': String(Math.ceil(resetAtMs / 1000)),
  });
}

describe('RateBudget with a documented quota (Cloudflare: 1,200 per 5 minutes)', () => {
  it('spends the first part of the window at full speed', async () => {
    const { budget, clock } = quotaBudget(100, 10_000);
    for (let i = 0; i < 80; i++) await budget.acquire();
    expect(clock.slept).toEqual([]);
    expect(budget.snapshot()).toEqual({ remaining: 20, limit: 100 });
  });

  it('past slowDownAt, spreads the rest so that no window ever holds more than the limit', async () => {
    const { budget, clock } = quotaBudget(100, 10_000);
    const sentAt: number[] = [];
    for (let i = 0; i < 250; i++) {
      await budget.acquire();
      sentAt.push(clock.now());
    }
    for (const t of sentAt) {
      expect(sentAt.filter((u) => u > t - 10_000 && u <= t).length).toBeLessThanOrEqual(100);
    }
    // and it did not stall: 250 requests in about 2.5 windows
    expect(clock.now()).toBeLessThan(30_000);
  });

  it('a 429 with a retry time holds every caller until it has passed', async () => {
    const { budget, clock } = quotaBudget(1000, 300_000);
    await budget.acquire();
    expect(budget.rateLimited(2_000)).toBe(2_000);
    expect(await budget.acquire()).toBe(2_000);
    expect(clock.now()).toBe(2_000);
  });

  it('a 429 without a retry time backs off from one refill interval, doubling, capped', () => {
    const { budget } = quotaBudget(1200, 300_000);
    expect(budget.rateLimited(undefined, 0)).toBe(250);
    expect(budget.rateLimited(undefined, 2)).toBe(1000);
    expect(budget.rateLimited(undefined, 20)).toBe(10_000);
  });

  it("reports the vendor's own remaining count when it is lower", async () => {
    const { budget } = quotaBudget(1200, 300_000);
    await budget.acquire();
    budget.observe(new Headers({ 'X-RateLimit-Remaining': '17' }));
    expect(budget.snapshot()).toEqual({ remaining: 17, limit: 1200 });
  });

  it('refuses a non-positive quota with a TypeError that says what it got', () => {
    expect(() => new RateBudget({ quota: { limit: 0, windowMs: 1000 } })).toThrow(/received 0/);
    expect(() => new RateBudget({ slowDownAt: 2 })).toThrow(/received 2/);
  });
});

describe("RateBudget fed by the vendor's headers (Hetzner: RateLimit-Limit/Remaining/Reset)", () => {
  it('knows nothing and never waits before the first answer', async () => {
    const budget = new RateBudget({ clock: fakeClock() });
    expect(budget.snapshot()).toBeUndefined();
    expect(await budget.acquire()).toBe(0);
  });

  it('does not slow down while plenty is left, and counts its own requests down', async () => {
    const clock = fakeClock(EPOCH);
    const budget = new RateBudget({ slowDownAt: 0.9, clock });
    budget.observe(hetznerHeaders(3600, 3000, clock.now() + 600_000));
    expect(await budget.acquire()).toBe(0);
    expect(budget.snapshot()).toEqual({ remaining: 2999, limit: 3600 });
  });

  it('near the limit it spaces requests by the refill rate, longer the closer to zero', () => {
    const clock = fakeClock(EPOCH);
    const budget = new RateBudget({ slowDownAt: 0.9, clock });
    // 3600 refilled at 1/s: 1 s per request; low water is 360
    budget.observe(hetznerHeaders(3600, 300, clock.now() + 3300_000));
    const at300 = budget.delay();
    budget.observe(hetznerHeaders(3600, 10, clock.now() + 3590_000));
    const at10 = budget.delay();
    expect(at300).toBeGreaterThan(0);
    expect(at10).toBeGreaterThan(at300);
    expect(at10).toBeLessThanOrEqual(1000);
  });

  it('after a 429 nobody sends before the retry time, and the budget counts as spent', async () => {
    const clock = fakeClock(EPOCH);
    const budget = new RateBudget({ clock });
    budget.observe(hetznerHeaders(40, 20, clock.now() + 20_000));
    budget.rateLimited(3_000);
    expect(budget.snapshot()).toEqual({ remaining: 0, limit: 40 });
    expect(await budget.acquire()).toBeGreaterThanOrEqual(3_000);
  });

  it('reads a reset given as seconds from now (the IETF draft) as well as an epoch second', () => {
    const clock = fakeClock(EPOCH);
    const budget = new RateBudget({ clock });
    budget.observe(new Headers({ 'RateLimit-Limit': '100', 'RateLimit-Remaining': '0', 'RateLimit-Reset': '50' }));
    expect(budget.refillIntervalMs()).toBe(500);
  });
});

describe('retry times', () => {
  it('Retry-After in seconds or as an HTTP date', () => {
    expect(retryAfterMs(new Headers({ 'Retry-After': '3' }))).toBe(3000);
    expect(retryAfterMs(new Headers({ 'Retry-After': 'Thu, 01 Jan 1970 00:00:10 GMT' }), 4000)).toBe(6000);
    expect(retryAfterMs(new Headers())).toBeUndefined();
  });

  it("Google's RetryInfo detail of a 429 RESOURCE_EXHAUSTED", () => {
    const body = {
      error: {
        code: 429,
        status: 'RESOURCE_EXHAUSTED',
        details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '1.5s' }],
      },
    };
    expect(retryInfoDelayMs(body)).toBe(1500);
    expect(retryInfoDelayMs({ error: { code: 429 } })).toBeUndefined();
  });
});
