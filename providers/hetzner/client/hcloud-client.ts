import {
  KeelsonError,
  RateBudget,
  type RateBudgetOptions,
  retryAfterMs,
  type SecretValue,
  sleep,
} from '../../sdk/index.ts';
import { HcloudApiError, hcloudError } from './api-error.ts';
import type { HcloudAction } from './api-types.ts';

/** Options of the Hetzner Cloud client. */
export interface HcloudClientOptions {
  /** API base, e.g. `https://api.hetzner.cloud/v1` or the simulator's `http://127.0.0.1:PORT/v1`. */
  readonly endpoint: string;
  readonly token: SecretValue;
  /**
   * The project's budget, fed by Hetzner's `RateLimit-*` headers (3,600 requests refilled at 1/s);
   * it slows down below 10% left by default. Tests pass a fake `clock` here.
   */
  readonly rateBudget?: RateBudgetOptions;
  /** Retries of idempotent calls after a 5xx, a `conflict` or a dropped connection (default 4). */
  readonly maxRetries?: number;
  /** First backoff step, doubled on each retry (default 250 ms). */
  readonly backoffMs?: number;
  /** Longest total wait for the rate budget to refill before a 429 is given up as RATE_LIMITED (default 60 s). */
  readonly maxRateWaitMs?: number;
  /** Timeout of one HTTP request (default 30 s). */
  readonly timeoutMs?: number;
  /**
   * How long to keep asking while the resource is `423 locked` by a running action (the API refused
   * the request, so asking again is safe), before it is given up as a LOCKED waiting error (default 10 s).
   */
  readonly maxLockWaitMs?: number;
}

export interface RequestOptions {
  readonly query?: Record<string, string | number | readonly (string | number)[] | undefined>;
  readonly body?: unknown;
  /**
   * Whether the call may be repeated after a 5xx or a dropped connection. Default: true for GET, PUT
   * and DELETE, false for POST (`POST /servers` must never be retried blindly). A 429 is always
   * retried: the API did not process the request.
   */
  readonly idempotent?: boolean;
  /** What the call does, for error messages: "create server swarm-1". */
  readonly what: string;
  /** The resource key the call is about. */
  readonly resource?: string;
  readonly signal?: AbortSignal;
}

const PER_PAGE = 50;

/** A small typed client for the Hetzner Cloud API on Node's `fetch`. Never logs or returns the token. */
export class HcloudClient {
  readonly endpoint: string;
  readonly budget: RateBudget;
  readonly #token: SecretValue;
  readonly #maxRetries: number;
  readonly #backoffMs: number;
  readonly #maxRateWaitMs: number;
  readonly #timeoutMs: number;
  readonly #maxLockWaitMs: number;
  /** Requests sent (for tests and benchmarks). */
  requestCount = 0;

  constructor(options: HcloudClientOptions) {
    this.endpoint = options.endpoint.replace(/\/+$/, '');
    this.#token = options.token;
    this.budget = new RateBudget({ slowDownAt: 0.9, ...options.rateBudget });
    this.#maxRetries = options.maxRetries ?? 4;
    this.#backoffMs = options.backoffMs ?? 250;
    this.#maxRateWaitMs = options.maxRateWaitMs ?? 60_000;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#maxLockWaitMs = options.maxLockWaitMs ?? 10_000;
  }

  async request<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, options: RequestOptions): Promise<T> {
    const idempotent = options.idempotent ?? method !== 'POST';
    const url = this.#url(path, options.query);
    let attempt = 0;
    let rateWaited = 0;
    let lockWaited = 0;
    for (;;) {
      rateWaited += await this.budget.acquire(options.signal);
      this.requestCount++;
      let response: Response;
      try {
        const signals = [AbortSignal.timeout(this.#timeoutMs)];
        if (options.signal) signals.push(options.signal);
        response = await fetch(url, {
          method,
          headers: {
            Authorization: `Bearer ${this.#token.reveal()}`,
            ...(options.body === undefined ? {} : { 'Content-Type': 'application/json' }),
          },
          ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
          signal: AbortSignal.any(signals),
        });
      } catch (e) {
        if (options.signal?.aborted) throw e;
        if (idempotent && attempt < this.#maxRetries) {
          await sleep(this.#backoff(attempt++), options.signal);
          continue;
        }
        throw new KeelsonError(
          `cannot ${options.what}: the connection to ${new URL(url).host} failed (${(e as Error).message})${
            idempotent ? '' : '; the outcome is unknown, the next observe decides'
          }`,
          {
            code: 'API_ERROR',
            class: 'transient',
            cause: e,
            ...(options.resource ? { resource: options.resource } : {}),
          },
        );
      }
      this.budget.observe(response.headers);
      const text = await response.text();
      const body: unknown = text === '' ? undefined : safeJson(text);
      if (response.ok) return body as T;

      const error = hcloudError(options.what, response.status, body, options.resource);
      if (response.status === 429) {
        // The API did not process the request: waiting out the retry time and asking again is safe.
        const wait = this.budget.rateLimited(retryAfterMs(response.headers), attempt++);
        if (rateWaited + wait <= this.#maxRateWaitMs) continue;
        throw hcloudError(options.what, response.status, body, options.resource, wait);
      }
      if (response.status === 423 && lockWaited < this.#maxLockWaitMs) {
        const wait = Math.min(100 * 2 ** Math.min(attempt, 4), 1000);
        lockWaited += wait;
        await sleep(wait, options.signal);
        continue;
      }
      const retryable = error.vendorCode === 'conflict' || [502, 503, 504].includes(response.status);
      if (retryable && idempotent && attempt < this.#maxRetries) {
        await sleep(this.#backoff(attempt++), options.signal);
        continue;
      }
      throw error;
    }
  }

  /** Every item of a list endpoint, 50 per page, following `meta.pagination.next_page`. */
  async list<T>(path: string, key: string, options: RequestOptions): Promise<T[]> {
    const out: T[] = [];
    let page: number | null = 1;
    while (page !== null) {
      const body: Record<string, unknown> & { meta?: { pagination?: { next_page?: number | null } } } =
        await this.request('GET', path, { ...options, query: { ...options.query, page, per_page: PER_PAGE } });
      out.push(...((body[key] as T[] | undefined) ?? []));
      page = body.meta?.pagination?.next_page ?? null;
    }
    return out;
  }

  /** The current state of some actions, in as few calls as pages allow. */
  async actions(ids: readonly number[], signal?: AbortSignal): Promise<HcloudAction[]> {
    const out: HcloudAction[] = [];
    for (let i = 0; i < ids.length; i += PER_PAGE) {
      out.push(
        ...(await this.list<HcloudAction>('/actions', 'actions', {
          query: { id: ids.slice(i, i + PER_PAGE) },
          what: 'read actions',
          ...(signal ? { signal } : {}),
        })),
      );
    }
    return out;
  }

  #url(path: string, query: RequestOptions['query']): string {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v === undefined) continue;
      if (Array.isArray(v)) for (const item of v) params.append(k, String(item));
      else params.set(k, String(v));
    }
    const qs = params.toString();
    return `${this.endpoint}${path}${qs === '' ? '' : `?${qs}`}`;
  }

  #backoff(attempt: number): number {
    const base = this.#backoffMs * 2 ** attempt;
    return base / 2 + Math.random() * (base / 2);
  }
}

/** A failed action, with the vendor's error code and message. */
export function actionError(action: HcloudAction, what: string, resource: string): HcloudApiError {
  const code = action.error?.code ?? 'action_failed';
  const message = action.error?.message ?? 'action failed';
  return new HcloudApiError(`cannot ${what}: action ${action.command} failed: ${message} (${code})`, code, undefined, {
    code: 'API_ERROR',
    class: 'terminal',
    resource,
  });
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
