import { errorMessage, type Logger } from '../../providers/sdk/index.ts';
import { backoffMs, nextIntervalMs } from './schedule.ts';

/** What a pass reports back to the loop, to choose the next delay. */
export type StepOutcome =
  /** Fine: next pass after the interval. */
  | { readonly type: 'done' }
  /** Retry with backoff (something transient failed). */
  | { readonly type: 'retry' }
  /** Come back after this long (a dependency not ready), if sooner than the interval. */
  | { readonly type: 'requeue'; readonly afterMs: number };

/** Why a pass ran, for logs. */
export type TriggerReason = 'start' | 'timer' | 'webhook' | 'file-change' | 'manual';

/** Loop timing. Defaults: interval from config, jitter 0.1, backoff 1 s doubling to `maxBackoffMs`. */
export interface LoopOptions {
  readonly intervalMs: number;
  readonly jitter: number;
  readonly timeoutMs: number;
  readonly firstBackoffMs?: number;
  readonly maxBackoffMs: number;
  readonly log: Logger;
  readonly random?: () => number;
}

/**
 * Level-triggered scheduler (controller-runtime's shape): a trigger only asks for a pass; passes
 * never overlap; every trigger that arrives during a pass folds into one next pass. Each pass gets
 * an AbortSignal that fires at the per-pass timeout or at shutdown. A step that throws is caught
 * here, logged and retried with backoff: nothing a pass does can stop the loop.
 */
export class ReconcileLoop {
  readonly #step: (signal: AbortSignal, reason: TriggerReason) => Promise<StepOutcome>;
  readonly #options: LoopOptions;
  #pending: TriggerReason | undefined;
  #wake: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopping = false;
  #running: Promise<void> | undefined;
  #current: AbortController | undefined;
  #failures = 0;
  /** Passes run so far (for tests and benchmarks). */
  passes = 0;

  constructor(step: (signal: AbortSignal, reason: TriggerReason) => Promise<StepOutcome>, options: LoopOptions) {
    this.#step = step;
    this.#options = options;
  }

  start(): void {
    if (this.#running) return;
    this.#pending = 'start';
    this.#running = this.#run();
  }

  /** Asks for a pass as soon as the current one (if any) is over. Never runs one directly. */
  trigger(reason: TriggerReason): void {
    if (this.#stopping) return;
    this.#pending ??= reason;
    this.#wake?.();
  }

  /** No new pass starts; resolves when the running one has finished (or after `graceMs`, aborting it). */
  async stop(graceMs = 30_000): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#timer);
    this.#wake?.();
    if (!this.#running) return;
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), graceMs)));
    if ((await Promise.race([this.#running.then(() => 'done' as const), graceOver])) === 'late') {
      // The step gets its abort signal so that it can journal and return; we still wait for it.
      this.#current?.abort(new Error('keelson is shutting down'));
      await this.#running;
    }
    clearTimeout(timer);
  }

  async #run(): Promise<void> {
    while (!this.#stopping) {
      if (this.#pending === undefined) await this.#sleep(this.#delay);
      if (this.#stopping) break;
      const reason = this.#pending ?? 'timer';
      this.#pending = undefined;
      const outcome = await this.#once(reason);
      this.passes++;
      this.#delay = this.#delayAfter(outcome);
    }
  }

  #delay = 0;

  async #once(reason: TriggerReason): Promise<StepOutcome> {
    const controller = new AbortController();
    this.#current = controller;
    const timeout = setTimeout(
      () =>
        controller.abort(new Error(`the pass took longer than ${this.#options.timeoutMs} ms (pass.timeoutSeconds)`)),
      this.#options.timeoutMs,
    );
    try {
      return await this.#step(controller.signal, reason);
    } catch (error) {
      this.#options.log.error({ err: errorMessage(error), reason }, 'reconcile pass crashed; retrying with backoff');
      return { type: 'retry' };
    } finally {
      clearTimeout(timeout);
      this.#current = undefined;
    }
  }

  #delayAfter(outcome: StepOutcome): number {
    const interval = nextIntervalMs(this.#options.intervalMs, this.#options.jitter, this.#options.random);
    if (outcome.type === 'retry') {
      this.#failures++;
      return Math.min(
        interval,
        backoffMs(
          this.#failures,
          this.#options.firstBackoffMs ?? 1000,
          this.#options.maxBackoffMs,
          this.#options.random,
        ),
      );
    }
    this.#failures = 0;
    if (outcome.type === 'requeue') return Math.min(interval, outcome.afterMs);
    return interval;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(this.#timer);
        this.#wake = undefined;
        resolve();
      };
      this.#wake = done;
      this.#timer = setTimeout(() => {
        this.#pending ??= 'timer';
        done();
      }, ms);
    });
  }
}
