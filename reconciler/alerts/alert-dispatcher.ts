import { errorMessage, type Logger } from '../../providers/sdk/index.ts';
import type { KeelsonMetrics } from '../observability/metrics.ts';
import type { OutboxMessage } from '../state/types.ts';
import type { Alert } from './alert.ts';
import type { AlertChannel } from './channel.ts';

/**
 * Delivery retries. Defaults: 1 s doubling to at most 60 s, 10 s per attempt. After `attempts`
 * failures in a row a delivery is logged as failing, and it keeps being retried at `maxDelayMs`
 * while the daemon runs: a message leaves the outbox only when its receiver accepted it.
 */
export interface DeliveryPolicy {
  readonly attempts: number;
  readonly firstDelayMs: number;
  readonly maxDelayMs: number;
  readonly attemptTimeoutMs: number;
}

const DEFAULT_DELIVERY: DeliveryPolicy = {
  attempts: 6,
  firstDelayMs: 1000,
  maxDelayMs: 60_000,
  attemptTimeoutMs: 10_000,
};

/** At most this many undelivered messages are kept per channel; the oldest are dropped (and counted) beyond it. */
export const OUTBOX_LIMIT = 500;

/**
 * Sends alerts to every channel in the background, at least once. Each message goes first into
 * the channel's outbox in the state store (the caller saves it in the same write as the drift
 * records it comes from), then to the receiver. It leaves the outbox only after the receiver
 * answered 2xx: the dispatcher remembers what was delivered and the caller removes those messages
 * in its next state write (`settleOutbox`), so the dispatcher itself never writes the state while
 * a pass may be writing it. A daemon that stops while a delivery is being retried sends the message
 * again after its restart, with the same id, so a receiver can drop the duplicate. One queue per
 * channel keeps each channel's messages in order. `dispatch` and `enqueue` return at once: a
 * channel that is down never holds up a pass.
 */
export class AlertDispatcher {
  readonly #channels: readonly AlertChannel[];
  readonly #log: Logger;
  readonly #metrics: KeelsonMetrics | undefined;
  readonly #policy: DeliveryPolicy;
  readonly #delivered = new Map<string, Set<string>>();
  readonly #tails = new Map<string, Promise<void>>();
  readonly #queued = new Set<string>();
  readonly #stop = new AbortController();

  constructor(options: {
    channels: readonly AlertChannel[];
    log: Logger;
    metrics?: KeelsonMetrics;
    policy?: Partial<DeliveryPolicy>;
  }) {
    this.#channels = options.channels;
    this.#log = options.log;
    this.#metrics = options.metrics;
    this.#policy = { ...DEFAULT_DELIVERY, ...options.policy };
  }

  get channelNames(): string[] {
    return this.#channels.map((c) => c.name);
  }

  /** The outbox entries for `alerts`, per channel, for the caller to save with its own state change. */
  outboxEntries(alerts: readonly Alert[], queuedAt: string): Record<string, OutboxMessage[]> {
    const out: Record<string, OutboxMessage[]> = {};
    for (const channel of this.#channels)
      out[channel.name] = alerts.map((alert) => ({ id: alert.id, alert, queuedAt }));
    return out;
  }

  /** Queues messages that are already in the outbox (saved by the caller) for delivery. */
  enqueue(entries: Record<string, readonly OutboxMessage[]>): void {
    for (const channel of this.#channels) for (const m of entries[channel.name] ?? []) this.#queue(channel, m);
  }

  /** Queues `alert` for every channel without an outbox entry (tests, one-off messages). */
  dispatch(alert: Alert): void {
    this.enqueue(this.outboxEntries([alert], new Date().toISOString()));
  }

  /** Queues every message left in the outbox by an earlier run (call once at start). */
  resume(outbox: Readonly<Record<string, readonly OutboxMessage[]>> | undefined): number {
    let count = 0;
    for (const channel of this.#channels) {
      for (const m of outbox?.[channel.name] ?? []) {
        this.#queue(channel, m);
        count++;
      }
    }
    if (count > 0) this.#log.info({ messages: count }, 'resending alerts left undelivered before the restart');
    return count;
  }

  /**
   * Removes from `state`'s outbox the messages delivered since the last call. Call it inside a state
   * write; what is not removed yet (a crash in between) is sent again after a restart, same id.
   */
  settleOutbox(state: { outbox?: Record<string, OutboxMessage[]> }): void {
    if (this.#delivered.size === 0 || !state.outbox) return;
    const outbox = { ...state.outbox };
    for (const [channel, ids] of this.#delivered) {
      const list = outbox[channel];
      if (list) outbox[channel] = list.filter((m) => !ids.has(m.id));
    }
    this.#delivered.clear();
    state.outbox = outbox;
  }

  /** Resolves when everything queued so far is delivered (or the dispatcher is closed). */
  async idle(): Promise<void> {
    await Promise.all(this.#tails.values());
  }

  /** Waits up to `graceMs` for queued alerts, then stops; undelivered ones stay in the outbox for the next start. */
  async close(graceMs = 5000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.idle(), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    this.#stop.abort();
  }

  #queue(channel: AlertChannel, message: OutboxMessage): void {
    const token = `${channel.name}\n${message.id}`;
    if (this.#queued.has(token)) return;
    this.#queued.add(token);
    const tail = this.#tails.get(channel.name) ?? Promise.resolve();
    const next = tail.then(() => this.#deliver(channel, message)).finally(() => this.#queued.delete(token));
    this.#tails.set(channel.name, next);
  }

  async #deliver(channel: AlertChannel, message: OutboxMessage): Promise<void> {
    const { alert } = message;
    let delay = this.#policy.firstDelayMs;
    for (let attempt = 1; ; attempt++) {
      if (this.#stop.signal.aborted) return;
      try {
        await channel.send(
          alert,
          AbortSignal.any([this.#stop.signal, AbortSignal.timeout(this.#policy.attemptTimeoutMs)]),
        );
      } catch (error) {
        if (this.#stop.signal.aborted) return;
        const failing = attempt >= this.#policy.attempts;
        if (attempt === this.#policy.attempts)
          this.#metrics?.alertsSent.inc({ channel: channel.name, type: alert.type, result: 'failed' });
        this.#log.warn(
          { channel: channel.name, resource: alert.key, id: alert.id, attempt, err: errorMessage(error) },
          failing ? 'alert delivery keeps failing; still retrying' : 'alert delivery failed, retrying',
        );
        await sleep(delay, this.#stop.signal);
        delay = Math.min(delay * 2, this.#policy.maxDelayMs);
        continue;
      }
      this.#metrics?.alertsSent.inc({ channel: channel.name, type: alert.type, result: 'sent' });
      this.#log.info(
        { channel: channel.name, resource: alert.key, alert: alert.type, id: alert.id, fingerprint: alert.fingerprint },
        'alert sent',
      );
      const ids = this.#delivered.get(channel.name) ?? new Set<string>();
      ids.add(message.id);
      this.#delivered.set(channel.name, ids);
      return;
    }
  }
}

/** Adds messages to the outbox of a state (deduplicated by id, capped per channel). */
export function addToOutbox(
  state: { outbox?: Record<string, OutboxMessage[]> },
  entries: Record<string, readonly OutboxMessage[]>,
): void {
  const outbox = { ...(state.outbox ?? {}) };
  for (const [channel, messages] of Object.entries(entries)) {
    const list = [...(outbox[channel] ?? [])];
    for (const m of messages) if (!list.some((x) => x.id === m.id)) list.push(m);
    outbox[channel] = list.slice(-OUTBOX_LIMIT);
  }
  state.outbox = outbox;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
