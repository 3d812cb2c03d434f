/**
 * Errors are classified once, where they happen (ARCHITECTURE §3):
 * - `transient`: retry with backoff (a 503, a dropped connection, a rate limit);
 * - `terminal`: retrying cannot help; wait for a new revision (a validation error from the API,
 *   an unowned resource in the way);
 * - `waiting`: come back after `retryAfterMs` (a dependency not ready, a running action).
 */
export type ErrorClass = 'transient' | 'terminal' | 'waiting';

/** Stable error codes. Each has a line in README's error table. */
export type ErrorCode =
  | 'API_ERROR'
  | 'RATE_LIMITED'
  | 'NOT_READY'
  | 'LOCKED'
  | 'CONFLICT_UNOWNED'
  | 'INVALID_SPEC'
  | 'ROLLBACK'
  | 'UPDATE_PAUSED'
  | 'TASK_FAILED'
  | 'TIMEOUT'
  | 'UNSTABLE_FIELD'
  | 'PROTECTED'
  | 'REPLACE_REFUSED'
  | 'NOT_FOUND'
  | 'UNAVAILABLE'
  | 'JOURNAL_UNRESOLVED'
  | 'DEPENDENCY_FAILED';

export interface ProviderErrorOptions {
  readonly code: ErrorCode;
  readonly class: ErrorClass;
  /** The resource key (`kind/name`) the error is about, when there is one. */
  readonly resource?: string;
  readonly retryAfterMs?: number;
  /** HTTP status from the vendor, when there was one. */
  readonly status?: number;
  readonly cause?: unknown;
}

/**
 * An error raised by a provider or the engine. Its message says what could not be done and why,
 * e.g. "cannot create server swarm-1: location fsn9 does not exist". Never put a secret in it.
 */
export class KeelsonError extends Error {
  readonly code: ErrorCode;
  readonly class: ErrorClass;
  readonly resource: string | undefined;
  readonly retryAfterMs: number | undefined;
  readonly status: number | undefined;

  constructor(message: string, options: ProviderErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KeelsonError';
    this.code = options.code;
    this.class = options.class;
    this.resource = options.resource;
    this.retryAfterMs = options.retryAfterMs;
    this.status = options.status;
  }
}

/** Classifies anything thrown: a `KeelsonError` keeps its class; anything else is transient. */
export function classify(error: unknown): ErrorClass {
  if (error instanceof KeelsonError) return error.class;
  return 'transient';
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
