/** A cancellable timer handle of a {@link SimClock}. */
export interface ClockTimer {
  cancel(): void;
}

/**
 * The simulator's time: operation durations, ack deadlines, retry backoff and Scheduler firing all
 * read it, so a test can drive them with {@link FakeClock} instead of waiting.
 */
export interface SimClock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` once the clock has moved `ms` forward. */
  setTimer(ms: number, fn: () => void): ClockTimer;
}

/** Wall-clock time. */
export const realClock: SimClock = {
  now: () => Date.now(),
  setTimer(ms, fn) {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};

interface PendingTimer {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

/** A clock that only moves when told to; timers fire in time order during {@link FakeClock.advance}. */
export class FakeClock implements SimClock {
  #now: number;
  #seq = 0;
  #timers: PendingTimer[] = [];
  readonly #settlers = new Set<() => Promise<void>>();

  /** Starts at `start` (default 2026-01-05T08:00:00Z, a Monday). */
  constructor(start: number | Date = Date.UTC(2026, 0, 5, 8, 0, 0)) {
    this.#now = typeof start === 'number' ? start : start.getTime();
  }

  now(): number {
    return this.#now;
  }

  setTimer(ms: number, fn: () => void): ClockTimer {
    const timer: PendingTimer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn, cancelled: false };
    this.#timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  /**
   * Registers work to wait for after each timer fires during {@link FakeClock.advance} (the
   * simulator waits for the deliveries a timer started, so a lease cannot expire under a push that
   * is still on the wire). Answers a function that removes it.
   */
  addSettler(settle: () => Promise<void>): () => void {
    this.#settlers.add(settle);
    return () => this.#settlers.delete(settle);
  }

  /** Timers still waiting. */
  pending(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }

  /**
   * Moves time forward by `ms`, firing each due timer at its own instant (timers set by a firing
   * timer fire too when they fall inside the window). After each timer it waits for the registered
   * settlers and a macrotask, so the work a timer started finishes before time moves on.
   */
  async advance(ms: number): Promise<void> {
    const end = this.#now + Math.max(0, ms);
    for (;;) {
      await new Promise<void>((r) => setImmediate(r));
      this.#timers = this.#timers.filter((t) => !t.cancelled);
      const due = this.#timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.#timers.splice(this.#timers.indexOf(due), 1);
      this.#now = Math.max(this.#now, due.at);
      due.fn();
      for (const settle of this.#settlers) await settle();
    }
    this.#now = end;
  }

  /** Sets the time (forward only), firing the timers passed on the way. */
  async advanceTo(at: number | Date): Promise<void> {
    const t = typeof at === 'number' ? at : at.getTime();
    await this.advance(t - this.#now);
  }
}
