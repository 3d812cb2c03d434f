import type { HcloudAction } from './api-types.ts';
import type { HcloudClient } from './hcloud-client.ts';
import { actionError } from './hcloud-client.ts';

/**
 * Actions keelson started, per resource key, so a handler never blocks on them: the next observe
 * reads their state in one call and shows the resource as not ready while one runs; `settle`
 * waits for them and reports a failed action with the vendor's error.
 */
export class ActionTracker {
  readonly #pending = new Map<string, HcloudAction[]>();
  readonly #failed = new Map<string, { action: HcloudAction; what: string }>();

  track(key: string, what: string, actions: readonly (HcloudAction | null | undefined)[]): void {
    this.#failed.delete(key);
    const list = this.#pending.get(key) ?? [];
    for (const a of actions) if (a) list.push({ ...a, command: a.command ?? what });
    this.#pending.set(key, list);
  }

  /** Reads every pending action in as few list calls as pages allow; no call when nothing is pending. */
  async refresh(client: HcloudClient, signal?: AbortSignal): Promise<void> {
    const ids = [...this.#pending.values()]
      .flat()
      .filter((a) => a.status === 'running')
      .map((a) => a.id);
    if (ids.length === 0) return;
    const fresh = new Map((await client.actions(ids, signal)).map((a) => [a.id, a]));
    for (const [key, list] of this.#pending) {
      const next = list.map((a) => fresh.get(a.id) ?? a);
      const failed = next.find((a) => a.status === 'error');
      if (failed) this.#failed.set(key, { action: failed, what: failed.command });
      const running = next.filter((a) => a.status === 'running');
      if (running.length === 0) this.#pending.delete(key);
      else this.#pending.set(key, running);
    }
  }

  running(key: string): boolean {
    return (this.#pending.get(key) ?? []).some((a) => a.status === 'running');
  }

  /** The last failed action of a resource, as a sentence, until something new is started on it. */
  failure(key: string): string | undefined {
    const f = this.#failed.get(key);
    return f ? `${f.action.command} failed: ${f.action.error?.message ?? 'unknown error'}` : undefined;
  }

  /** Waits for every pending action of a resource; throws the vendor's error for a failed one. */
  async settle(client: HcloudClient, key: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const list = this.#pending.get(key) ?? [];
    try {
      for (const a of list) await client.waitForAction(a, `finish ${a.command} of ${key}`, key, timeoutMs, signal);
    } catch (e) {
      this.#pending.delete(key);
      const failed = list.find((a) => e instanceof Error && e.message.includes(a.command));
      if (failed) this.#failed.set(key, { action: { ...failed, status: 'error' }, what: failed.command });
      throw e;
    }
    this.#pending.delete(key);
    const f = this.#failed.get(key);
    if (f) throw actionError(f.action, `apply ${key}`, key);
  }
}
