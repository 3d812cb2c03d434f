import { describe, expect, it } from 'vitest';
import { RateBudget } from './rate-budget.ts';

/** A budget on a fake clock: sleeping advances time, so nothing waits for real. */
function fakeBudget(limit: number, windowMs: number, slowDownAt = 0.8) {
  let now = 0;
  const slept: number[] = [];
  const budget = new RateBudget({
    limit,
    windowMs,
    slowDownAt,
    now: () => now,
    sleep: async (ms) => {
      slept.push(ms);
      now += ms;
    },
  });
  return { budget, slept, at: () => now };
}

describe('RateBudget', () => {
  it('spends the first part of the window at full speed', async () => {
    const { budget, slept } = fakeBudget(100, 10_000);
    for (let i = 0; i < 80; i++) await budget.acquire();
    expect(slept).toEqual([]);
    expect(budget.remaining()).toBe(20);
  });

  it('past slowDownAt, spreads the rest so the window is never exceeded', async () => {
    const { budget, at } = fakeBudget(100, 10_000);
    const sentAt: number[] = [];
    for (let i = 0; i < 250; i++) {
      await budget.acquire();
      sentAt.push(at());
    }
    // no 10 s window ever holds more than the limit
    for (let i = 0; i < sentAt.length; i++) {
      const inWindow = sentAt.filter((t) => t > (sentAt[i] as number) - 10_000 && t <= (sentAt[i] as number)).length;
      expect(inWindow).toBeLessThanOrEqual(100);
    }
    // and it did not stall: 250 requests in about 2.5 windows
    expect(at()).toBeLessThan(30_000);
  });

  it('a 429 pause holds every caller until retry-after has passed', async () => {
    const { budget, at } = fakeBudget(1000, 300_000);
    await budget.acquire();
    budget.pause(2_000);
    await budget.acquire();
    expect(at()).toBeGreaterThanOrEqual(2_000);
  });

  it("reports the vendor's own remaining count when it is lower", async () => {
    const { budget } = fakeBudget(1200, 300_000);
    await budget.acquire();
    budget.report(17);
    expect(budget.remaining()).toBe(17);
  });

  it('refuses a non-positive limit with a TypeError that says what it got', () => {
    expect(() => new RateBudget({ limit: 0 })).toThrow(/received 0/);
  });
});
