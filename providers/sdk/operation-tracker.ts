import { type Clock, systemClock } from './clock.ts';
import { KeelsonError } from './errors.ts';

/** Where a vendor's long-running operation stands. */
export type OperationStatus = 'running' | 'succeeded' | 'failed';

/**
 * How one vendor's long-running operations are read: Hetzner actions (`GET /actions?id=…`), Google
 * long-running operations (`GET …/operations/NAME`, `done`, `error`). A few small functions.
 */
export interface OperationAdapter<Op> {
  /** A stable id: Hetzner's action id, a Google operation's `name`. */
  id(op: Op): string;
  status(op: Op): OperationStatus;
  /** What it is, for messages: `action create_server`, `operation operations/abc (create function f)`. */
  describe(op: Op): string;
  /** The vendor's reason for a failed operation, one sentence. */
  reason(op: Op): string;
  /** The current state of these operations, in as few calls as the API allows; a missing one is kept as it was. */
  read(ops: readonly Op[], signal?: AbortSignal): Promise<readonly Op[]>;
  /** The error to throw for a failed operation; `what` says what keelson was doing ("create hetzner.Server/a"). */
  failure(op: Op, what: string, resource: string): Error;
}

/** Options of an `OperationTracker`. */
export interface OperationTrackerOptions {
  /** Clock and sleep of the polling; tests pass a fake one. Default the system clock. */
  readonly clock?: Clock;
  /** First wait between two reads of a running operation, ms; it doubles up to `maxPollMs`. Default 50. */
  readonly firstPollMs?: number;
  /** Longest wait between two reads, ms. Default 1,000. */
  readonly maxPollMs?: number;
}

interface Tracked<Op> {
  readonly op: Op;
  /** What keelson was doing when it started the operation. */
  readonly what: string;
}

/**
 * Operations keelson started, per resource key, so that a handler never blocks on them: the next
 * observe reads all of them in one `refresh` and shows the resource as not ready while one runs
 * (`running(key)`), or with the vendor's reason once one failed (`failure(key)`); `settle` waits for
 * them. `wait` is for the operations a handler must see finish before its next call (an action on
 * a Hetzner server is refused with `423 locked` while another runs).
 */
export class OperationTracker<Op> {
  readonly #adapter: OperationAdapter<Op>;
  readonly #clock: Clock;
  readonly #firstPollMs: number;
  readonly #maxPollMs: number;
  readonly #pending = new Map<string, Tracked<Op>[]>();
  readonly #failed = new Map<string, Tracked<Op>>();

  constructor(adapter: OperationAdapter<Op>, options: OperationTrackerOptions = {}) {
    this.#adapter = adapter;
    this.#clock = options.clock ?? systemClock;
    this.#firstPollMs = options.firstPollMs ?? 50;
    this.#maxPollMs = options.maxPollMs ?? 1000;
  }

  /**
   * Tracks operations started on a resource; a new start forgets the resource's last failure. An
   * operation that came back already finished is not tracked; one that came back failed is kept as
   * the resource's failure.
   */
  track(key: string, what: string, ops: readonly (Op | null | undefined)[]): void {
    this.#failed.delete(key);
    const list = this.#pending.get(key) ?? [];
    for (const op of ops) {
      if (!op) continue;
      const status = this.#adapter.status(op);
      if (status === 'running') list.push({ op, what });
      else if (status === 'failed') this.#failed.set(key, { op, what });
    }
    if (list.length > 0) this.#pending.set(key, list);
  }

  /**
   * Reads the running operations in one adapter call (none when nothing runs); failures are kept per
   * key. `only` limits it to some resources (the kind being observed) when each read costs a call.
   */
  async refresh(signal?: AbortSignal, only?: (key: string) => boolean): Promise<void> {
    const a = this.#adapter;
    const keys = [...this.#pending.keys()].filter((k) => only === undefined || only(k));
    const running = keys.flatMap((k) => this.#pending.get(k) ?? []).filter((t) => a.status(t.op) === 'running');
    if (running.length === 0) return;
    const read = await a.read(
      running.map((t) => t.op),
      signal,
    );
    const fresh = new Map(read.map((op) => [a.id(op), op]));
    for (const key of keys) {
      const next = (this.#pending.get(key) ?? []).map((t) => ({ op: fresh.get(a.id(t.op)) ?? t.op, what: t.what }));
      const failed = next.find((t) => a.status(t.op) === 'failed');
      if (failed) this.#failed.set(key, failed);
      const still = next.filter((t) => a.status(t.op) === 'running');
      if (still.length === 0) this.#pending.delete(key);
      else this.#pending.set(key, still);
    }
  }

  /** What an observe shows for the resource: the operation that runs, else its last failure. */
  message(key: string): string | undefined {
    const running = (this.#pending.get(key) ?? []).find((t) => this.#adapter.status(t.op) === 'running');
    return running ? `${running.what}: ${this.#adapter.describe(running.op)} is running` : this.failure(key);
  }

  /** True while an operation started on this resource runs (as of the last `refresh`). */
  running(key: string): boolean {
    return (this.#pending.get(key) ?? []).some((t) => this.#adapter.status(t.op) === 'running');
  }

  /** The resource's last failed operation, as a sentence, until something new is started on it. */
  failure(key: string): string | undefined {
    const f = this.#failed.get(key);
    return f ? `${this.#adapter.describe(f.op)} failed: ${this.#adapter.reason(f.op)}` : undefined;
  }

  /**
   * Polls these operations until they end. Throws the vendor's error for a failed one, and a
   * `TIMEOUT` waiting error (come back later) when one runs longer than `timeoutMs`.
   */
  async wait(
    key: string,
    ops: readonly (Op | null | undefined)[],
    what: string,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<void> {
    const failed = await this.#until(key, ops, what, timeoutMs, signal);
    if (failed !== undefined) throw this.#adapter.failure(failed, what, key);
  }

  /**
   * Waits for every operation started on a resource; throws the vendor's error when one failed.
   * On a timeout the operations stay tracked, so the next observe still shows the resource as not ready.
   */
  async settle(key: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const list = this.#pending.get(key) ?? [];
    for (const [i, t] of list.entries()) {
      let failed: Op | undefined;
      try {
        failed = await this.#until(key, [t.op], `finish ${t.what}`, timeoutMs, signal);
      } catch (e) {
        this.#pending.set(key, list.slice(i));
        throw e;
      }
      if (failed !== undefined) {
        this.#pending.delete(key);
        this.#failed.set(key, { op: failed, what: t.what });
        throw this.#adapter.failure(failed, `finish ${t.what}`, key);
      }
    }
    this.#pending.delete(key);
    const f = this.#failed.get(key);
    if (f) throw this.#adapter.failure(f.op, `apply ${key}`, key);
  }

  /** Polls until every operation ended; resolves with the first failed one, if any. */
  async #until(
    key: string,
    ops: readonly (Op | null | undefined)[],
    what: string,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<Op | undefined> {
    const a = this.#adapter;
    let current = ops.filter((op): op is Op => op !== null && op !== undefined);
    const deadline = this.#clock.now() + timeoutMs;
    let delay = this.#firstPollMs;
    for (;;) {
      const failed = current.find((op) => a.status(op) === 'failed');
      if (failed !== undefined) return failed;
      const running = current.filter((op) => a.status(op) === 'running');
      if (running.length === 0) return undefined;
      if (this.#clock.now() > deadline) {
        throw new KeelsonError(
          `cannot ${what}: ${a.describe(running[0] as Op)} is still running after ${timeoutMs} ms`,
          { code: 'TIMEOUT', class: 'waiting', resource: key, retryAfterMs: 5000 },
        );
      }
      await this.#clock.sleep(delay, signal);
      delay = Math.min(delay * 2, this.#maxPollMs);
      const fresh = new Map((await a.read(running, signal)).map((op) => [a.id(op), op]));
      current = current.map((op) => fresh.get(a.id(op)) ?? op);
    }
  }
}
