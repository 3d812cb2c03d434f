/**
 * Long-running operations keelson started, per resource key, so a handler never blocks on one:
 * the next observe polls the pending ones (one call each, none when nothing runs) and shows the
 * resource as not ready while one runs; a failed one is reported once with Google's message.
 * Written to be provider-neutral so it can move to `providers/sdk/operation-tracker.ts`.
 */
export interface OperationState {
  readonly done: boolean;
  /** Why it failed, when it did. */
  readonly error?: string;
}

interface Pending {
  readonly what: string;
  readonly name: string;
  readonly poll: () => Promise<OperationState>;
}

export class OperationTracker {
  readonly #pending = new Map<string, Pending>();
  readonly #failed = new Map<string, string>();

  /** Remembers an operation started on a resource (replacing an earlier one). */
  track(key: string, what: string, name: string, poll: () => Promise<OperationState>): void {
    this.#failed.delete(key);
    this.#pending.set(key, { what, name, poll });
  }

  /** Records an operation that was already done when it came back. */
  finished(key: string, what: string, state: OperationState): void {
    this.#pending.delete(key);
    if (state.error) this.#failed.set(key, `${what} failed: ${state.error}`);
    else this.#failed.delete(key);
  }

  /** Polls every pending operation of the given keys (all when omitted). */
  async refresh(keys?: Iterable<string>): Promise<void> {
    const wanted = keys ? new Set(keys) : undefined;
    for (const [key, op] of [...this.#pending]) {
      if (wanted && !wanted.has(key)) continue;
      const state = await op.poll();
      if (state.done) this.finished(key, op.what, state);
    }
  }

  running(key: string): boolean {
    return this.#pending.has(key);
  }

  pendingKeys(prefix: string): string[] {
    return [...this.#pending.keys()].filter((k) => k.startsWith(prefix));
  }

  /** The last failure of a resource, as a sentence, until something new is started on it. */
  failure(key: string): string | undefined {
    return this.#failed.get(key);
  }

  /** The message an observe shows for a busy or failed resource. */
  message(key: string): string | undefined {
    const p = this.#pending.get(key);
    if (p) return `${p.what} is running (operation ${p.name})`;
    return this.#failed.get(key);
  }
}
