import { errorMessage, type Logger } from '../../providers/sdk/index.ts';
import type { KeelsonMetrics } from '../observability/metrics.ts';
import type { Alert } from './alert.ts';
import type { AlertChannel } from './channel.ts';

/** Delivery retries. Defaults: 6 attempts, 1 s doubling to at most 60 s, 10 s per attempt. */
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

/**
 * Sends alerts to every channel in the background. `dispatch` returns at once: a channel that is
 * down retries on its own and never holds up a pass. One queue per channel keeps each channel's
 * messages in order.
 */
export class AlertDispatcher {
  readonly #channels: readonly AlertChannel[];
  readonly #log: Logger;
  readonly #metrics: KeelsonMetrics | undefined;
  readonly #policy: DeliveryPolicy;
  readonly #tails = new Map<string, Promise<void>>();
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

  dispatch(alert: Alert): void {
    for (const channel of this.#channels) {
      const tail = this.#tails.get(channel.name) ?? Promise.resolve();
      const next = tail.then(() => this.#deliver(channel, alert));
      this.#tails.set(channel.name, next);
    }
  }

  /** Resolves when everything queued so far is delivered or given up. */
  async idle(): Promise<void> {
    await Promise.all(this.#tails.values());
  }

  /** Waits up to `graceMs` for queued alerts, then abandons the rest. */
  async close(graceMs = 5000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.idle(), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    this.#stop.abort();
  }

  async #deliver(channel: AlertChannel, alert: Alert): Promise<void> {
    let delay = this.#policy.firstDelayMs;
    for (let attempt = 1; attempt <= this.#policy.attempts; attempt++) {
      if (this.#stop.signal.aborted) return;
      try {
        await channel.send(
          alert,
          AbortSignal.any([this.#stop.signal, AbortSignal.timeout(this.#policy.attemptTimeoutMs)]),
        );
        this.#metrics?.alertsSent.inc({ channel: channel.name, type: alert.type, result: 'sent' });
        this.#log.info(
          { channel: channel.name, resource: alert.key, alert: alert.type, fingerprint: alert.fingerprint },
          'alert sent',
        );
        return;
      } catch (error) {
        const last = attempt === this.#policy.attempts;
        this.#log.warn(
          { channel: channel.name, resource: alert.key, attempt, err: errorMessage(error) },
          last ? 'alert delivery failed, giving up' : 'alert delivery failed, retrying',
        );
        if (last) {
          this.#metrics?.alertsSent.inc({ channel: channel.name, type: alert.type, result: 'failed' });
          return;
        }
        await sleep(delay, this.#stop.signal);
        delay = Math.min(delay * 2, this.#policy.maxDelayMs);
      }
    }
  }
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
