import { type Clock, KeelsonError, RateBudget, systemClock } from '../../sdk/index.ts';
import { type GapicClient, GcpClients } from './clients.ts';
import type { GcpConfig } from './config.ts';
import { isLocal, readFailure, Status, toKeelsonError } from './errors.ts';

export interface GcpApiOptions {
  /**
   * Shared budget (one per project). Default: no fixed quota; a `429 RESOURCE_EXHAUSTED` pauses every
   * caller for its `RetryInfo` delay (Google sends no remaining-quota headers).
   */
  readonly budget?: RateBudget;
  /** Clock of the backoff between retries (tests pass a fake one). Default the system clock. */
  readonly clock?: Clock;
  /** Retries of an idempotent call after a transient failure (default 4). */
  readonly maxRetries?: number;
  /** First backoff, ms (default 200), doubled per attempt. */
  readonly backoffMs?: number;
  /** Longest total wait for rate limits inside one call before giving up with RATE_LIMITED (default 60 s). */
  readonly maxRateWaitMs?: number;
  /** Timeout of one request, ms (default 30 s). */
  readonly timeoutMs?: number;
}

export interface CallOptions {
  /** Safe to send twice (reads, PUT-like writes). Default true. */
  readonly idempotent?: boolean;
  readonly signal?: AbortSignal | undefined;
}

/** Paged list answer of a generated client with `autoPaginate: false`: items, next request, raw page. */
type PageAnswer<T> = [T[], { pageToken?: string } | null | undefined, unknown];

/**
 * Every Google Cloud call keelson makes goes through here: the rate budget first, then the client
 * with its own retries turned off, then keelson's retry rules (transient failures of idempotent
 * calls, and 429s with their RetryInfo delay), and finally one classified `KeelsonError`.
 */
export class GcpApi {
  readonly clients: GcpClients;
  readonly projectId: string;
  readonly region: string;
  readonly root: string;
  readonly budget: RateBudget;
  readonly #clock: Clock;
  /** Requests sent (for benches and metrics). */
  requestCount = 0;
  readonly #maxRetries: number;
  readonly #backoffMs: number;
  readonly #maxRateWaitMs: number;
  readonly #timeoutMs: number;

  constructor(config: GcpConfig, options: GcpApiOptions = {}) {
    this.clients = new GcpClients(config);
    this.projectId = config.projectId;
    this.region = config.region;
    this.root = config.root;
    this.#clock = options.clock ?? systemClock;
    this.budget = options.budget ?? new RateBudget({ clock: this.#clock });
    this.#maxRetries = options.maxRetries ?? 4;
    this.#backoffMs = options.backoffMs ?? 200;
    this.#maxRateWaitMs = options.maxRateWaitMs ?? 60_000;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  get project(): string {
    return `projects/${this.projectId}`;
  }

  location(region?: string): string {
    return `projects/${this.projectId}/locations/${region ?? this.region}`;
  }

  /** Call options for a generated client: its own retries off (keelson's apply here), one timeout. */
  get gax(): Record<string, unknown> {
    return { retry: { retryCodes: [] }, timeout: this.#timeoutMs };
  }

  async call<T>(
    what: string,
    resource: string | undefined,
    fn: (gax: Record<string, unknown>) => Promise<T>,
    options: CallOptions = {},
  ): Promise<T> {
    const idempotent = options.idempotent ?? true;
    let attempt = 0;
    let rateWaited = 0;
    for (;;) {
      if (rateWaited + this.budget.delay() > this.#maxRateWaitMs) {
        throw this.#rateLimited(what, resource, this.budget.delay());
      }
      rateWaited += await this.budget.acquire(options.signal);
      this.requestCount++;
      try {
        return await fn(this.gax);
      } catch (error) {
        if (options.signal?.aborted) throw error;
        if (error instanceof KeelsonError) throw error;
        const f = readFailure(error);
        if (f.status === Status.RESOURCE_EXHAUSTED) {
          // Nothing was done: retried whatever the call, after the delay Google asked for.
          const wait = this.budget.rateLimited(f.retryDelayMs, attempt++);
          if (rateWaited + wait > this.#maxRateWaitMs) throw toKeelsonError(error, what, resource);
          continue;
        }
        const transient =
          (f.status === undefined && !isLocal(error)) ||
          f.status === Status.UNAVAILABLE ||
          f.status === Status.DEADLINE_EXCEEDED ||
          f.status === Status.INTERNAL ||
          f.status === Status.UNKNOWN;
        if (transient && idempotent && attempt < this.#maxRetries) {
          await this.#clock.sleep(this.#backoff(attempt++), options.signal);
          continue;
        }
        const e = toKeelsonError(error, what, resource);
        if (transient && !idempotent) {
          throw new KeelsonError(`${e.message}; the outcome is unknown, the next observe decides`, {
            code: e.code,
            class: 'transient',
            cause: error,
            ...(resource === undefined ? {} : { resource }),
          });
        }
        throw e;
      }
    }
  }

  /** Every item of a paged list, one call per page (each page retried on its own). */
  async list<T>(
    what: string,
    client: GapicClient,
    method: string,
    request: Record<string, unknown>,
    options: CallOptions = {},
  ): Promise<T[]> {
    const out: T[] = [];
    let pageToken: string | undefined;
    do {
      const req = { pageSize: 1000, ...request, ...(pageToken ? { pageToken } : {}) };
      const [items, next] = await this.call<PageAnswer<T>>(
        what,
        undefined,
        (gax) => client[method](req, { ...gax, autoPaginate: false }),
        options,
      );
      out.push(...(items ?? []));
      pageToken = next?.pageToken || undefined;
    } while (pageToken);
    return out;
  }

  /** A REST call without a Node client (IAM service accounts), with the same rules. */
  async rest<T>(
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    host: string,
    path: string,
    what: string,
    resource: string | undefined,
    body?: unknown,
    options: CallOptions = {},
  ): Promise<T> {
    const url = `${this.clients.baseUrl(host)}${path}`;
    return this.call(
      what,
      resource,
      async () => {
        const headers = await this.clients.headers(url);
        const signals = [AbortSignal.timeout(this.#timeoutMs)];
        if (options.signal) signals.push(options.signal);
        const response = await netFetch(url, {
          method,
          headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.any(signals),
        });
        const text = await response.text();
        if (response.ok) return (text === '' ? {} : JSON.parse(text)) as T;
        // Same shape as the older clients' errors: HTTP status in code, the body in the message.
        throw Object.assign(new Error(text || `HTTP ${response.status}`), { code: response.status });
      },
      { idempotent: options.idempotent ?? method !== 'POST', signal: options.signal },
    );
  }

  #backoff(attempt: number): number {
    return Math.min(this.#backoffMs * 2 ** attempt, 10_000);
  }

  #rateLimited(what: string, resource: string | undefined, retryAfterMs: number): KeelsonError {
    return new KeelsonError(`cannot ${what}: the project's API quota is exhausted; retry in ${retryAfterMs} ms`, {
      code: 'RATE_LIMITED',
      class: 'waiting',
      retryAfterMs,
      ...(resource === undefined ? {} : { resource }),
    });
  }

  async close(): Promise<void> {
    await this.clients.close();
  }
}

/**
 * `fetch`, with a failed connection (Node's `TypeError: fetch failed`) turned into a plain error, so
 * it is told apart from a request the client refused to build: the first may have done the work.
 */
export async function netFetch(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (error) {
    if (init.signal?.aborted) throw error;
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(
      `the connection to ${new URL(url).host} failed (${cause?.code ?? cause?.message ?? String(error)})`,
      {
        cause: error,
      },
    );
  }
}
