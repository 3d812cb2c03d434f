import { ApiError, resourceExhausted, statusForHttp } from './api-error.ts';

/** Which requests a fault applies to. */
export interface FaultMatch {
  readonly method?: string;
  /** A substring of the path, or a RegExp tested against it. */
  readonly path?: string | RegExp;
  /** An API name: `pubsub`, `scheduler`, `functions`, `run`, `secretmanager`, `firestore`, `serviceusage`, `iam`. */
  readonly api?: string;
}

/** One injected fault; it hits the next `times` matching requests (default 1). */
export type FaultRule =
  | {
      readonly type: 'status';
      /** HTTP status (e.g. 503, 500, 409, 429); the body carries the matching Google status. */
      readonly status: number;
      readonly message?: string;
      /** For 429: the `RetryInfo` delay (default 1 s). */
      readonly retryAfterSeconds?: number;
      readonly match?: FaultMatch;
      readonly times?: number;
    }
  /** The request is carried out, then the connection is cut before the answer: the client never learns. */
  | { readonly type: 'drop-response'; readonly match?: FaultMatch; readonly times?: number };

interface Active {
  readonly rule: FaultRule;
  left: number;
}

/** Fault injection: error answers, quota storms and responses lost after the work was done. */
export class Faults {
  readonly #active: Active[] = [];

  inject(rule: FaultRule): void {
    this.#active.push({ rule, left: rule.times ?? 1 });
  }

  /** The next `count` matching requests get `429 RESOURCE_EXHAUSTED` with a `RetryInfo` detail. */
  quotaStorm(count: number, options: { match?: FaultMatch; retryAfterSeconds?: number } = {}): void {
    this.inject({ type: 'status', status: 429, times: count, ...options });
  }

  clear(): void {
    this.#active.length = 0;
  }

  /** Injected faults not yet used up. */
  remaining(): number {
    return this.#active.reduce((n, f) => n + f.left, 0);
  }

  /** The fault for this request, consumed. */
  take(method: string, path: string, api: string): FaultRule | undefined {
    for (const f of this.#active) {
      if (f.left <= 0 || !matches(f.rule.match, method, path, api)) continue;
      f.left -= 1;
      return f.rule;
    }
    return undefined;
  }
}

/** The error an injected status fault answers with. */
export function faultError(rule: Extract<FaultRule, { type: 'status' }>): ApiError {
  if (rule.status === 429)
    return resourceExhausted(rule.message ?? 'Quota exceeded (injected fault)', rule.retryAfterSeconds ?? 1);
  return new ApiError(statusForHttp(rule.status), rule.message ?? `injected fault: ${rule.status}`);
}

function matches(m: FaultMatch | undefined, method: string, path: string, api: string): boolean {
  if (!m) return true;
  if (m.method && m.method.toUpperCase() !== method) return false;
  if (m.api && m.api !== api) return false;
  if (m.path === undefined) return true;
  return typeof m.path === 'string' ? path.includes(m.path) : m.path.test(path);
}
