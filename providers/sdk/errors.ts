/**
 * Errors are classified once, where they happen (ARCHITECTURE §3):
 * - `transient`: retry with backoff (a 503, a dropped connection, a rate limit);
 * - `terminal`: retrying cannot help; wait for a new revision (a validation error from the API,
 *   an unowned resource in the way);
 * - `waiting`: come back after `retryAfterMs` (a dependency not ready, a running action).
 */
export type ErrorClass = 'transient' | 'terminal' | 'waiting';

/** One entry of the error catalogue: the class it usually has, one line of meaning, a message helper. */
interface ErrorEntry<A extends unknown[]> {
  /** The class an error of this code usually has (a provider may classify a case differently). */
  readonly class: ErrorClass;
  /** One line for README's table of codes ("How a pass works" → "Errors"). */
  readonly meaning: string;
  /** Builds the message: what could not be done and why (never a secret value). */
  readonly message: (...args: A) => string;
}

const entry = <A extends unknown[]>(e: ErrorEntry<A>): ErrorEntry<A> => e;
const cannot = (what: string, why: string): string => `cannot ${what}: ${why}`;
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * The error catalogue: every code keelson reports, with its usual class, its meaning and a message
 * helper. A test checks that README's table of codes lists exactly these, with the same meanings.
 */
export const ERRORS = {
  API_ERROR: entry({
    class: 'transient',
    meaning: 'the vendor API failed (5xx, dropped connection) or refused the request',
    message: cannot,
  }),
  RATE_LIMITED: entry({
    class: 'waiting',
    meaning: "the vendor's rate limit is used up; retried after the time the vendor names",
    message: (what: string, afterMs: number) =>
      `cannot ${what} now: rate limited, retrying in ${Math.ceil(afterMs / 1000)} s`,
  }),
  NOT_READY: entry({
    class: 'waiting',
    meaning: 'the resource, or one it depends on, is still busy at the vendor; the pass comes back for it',
    message: (key: string, why?: string) => `${key} is still busy at the provider${why ? ` (${why})` : ''}`,
  }),
  LOCKED: entry({
    class: 'waiting',
    meaning: 'the vendor has the resource locked by a running operation; retried after it',
    message: (key: string, operation: string) => `${key} is locked by a running ${operation}`,
  }),
  CONFLICT_UNOWNED: entry({
    class: 'terminal',
    meaning: 'a resource of that name exists and keelson does not own it; set `adopt: true` or rename',
    message: (key: string, id: string) =>
      `${key} already exists (id ${id}) and is not owned by keelson; set "adopt: true" to take it over, or rename it`,
  }),
  INVALID_SPEC: entry({
    class: 'terminal',
    meaning: 'the vendor (or keelson) rejects the desired spec, or a secret it names was not given',
    message: cannot,
  }),
  BUILD_FAILED: entry({
    class: 'terminal',
    meaning: "the resource's source (a Worker) does not build; it is skipped, the rest is applied",
    message: (key: string, why: string) => `${key} does not build: ${why}`,
  }),
  ROLLBACK: entry({
    class: 'terminal',
    meaning: 'a Swarm rolling update failed and the service rolled back',
    message: (key: string, why: string) => `${key} rolled back: ${why}`,
  }),
  UPDATE_PAUSED: entry({
    class: 'terminal',
    meaning: 'a Swarm rolling update paused on failures',
    message: (key: string, why: string) => `${key}: the rolling update paused: ${why}`,
  }),
  TIMEOUT: entry({
    class: 'transient',
    meaning: 'a resource did not settle in time (a rollout still going)',
    message: (key: string, seconds: number) => `${key} did not settle within ${seconds} s`,
  }),
  CREATE_UNFINISHED: entry({
    class: 'waiting',
    meaning: 'a create left fields not as Git wants them (its answer was lost part-way); the next pass finishes it',
    message: (key: string, fields: readonly string[]) =>
      `${key} was created but ${fields.join(', ')} ${fields.length === 1 ? 'is' : 'are'} not as Git wants yet; the next pass finishes the create`,
  }),
  UNSTABLE_FIELD: entry({
    class: 'terminal',
    meaning: 'a field still differs right after applying (the vendor rewrites it); reported once, not re-applied',
    message: (key: string, fields: readonly string[]) => {
      const one = fields.length === 1;
      return `${key}: ${fields.join(', ')} still differ${one ? 's' : ''} right after applying (the provider rewrites ${one ? 'it' : 'them'}); keelson will not re-apply until the desired spec changes. Align the desired value with what the provider stores.`;
    },
  }),
  PROTECTED: entry({
    class: 'terminal',
    meaning: 'the vendor refuses to delete a protected resource (delete protection)',
    message: cannot,
  }),
  REPLACE_REFUSED: entry({
    class: 'terminal',
    meaning: 'a change needs a replacement of a stateful resource; set `allowReplace: true`',
    message: (key: string, fields: readonly string[]) =>
      `${key} would have to be replaced (${fields.join(', ')} cannot change in place) and it holds data; set "allowReplace: true" to allow it`,
  }),
  NOT_FOUND: entry({
    class: 'terminal',
    meaning: 'the vendor does not know the resource (or what it refers to)',
    message: cannot,
  }),
  UNAVAILABLE: entry({
    class: 'transient',
    meaning: 'a provider is not configured or not reachable; its resources are skipped, the others go on',
    message: (count: number, provider: string, why: string) =>
      `${plural(count, `${provider} resource`)} skipped: ${why}`,
  }),
  JOURNAL_UNRESOLVED: entry({
    class: 'waiting',
    meaning: 'an interrupted create cannot be checked yet; it is not created again until it can',
    message: (key: string, why: string) =>
      `an interrupted create of ${key} cannot be checked: ${why}; it is not created again until it can`,
  }),
  DEPENDENCY_FAILED: entry({
    class: 'waiting',
    meaning: 'a resource this one depends on failed or does not exist yet; it is skipped this pass',
    message: (key: string, dependency: string, why: string) => `${key} was not applied: ${dependency} ${why}`,
  }),
  DELETION_BUDGET: entry({
    class: 'terminal',
    meaning: 'the plan would delete (or replace) more than the deletion budget per pass; nothing is applied',
    message: (count: number, budget: number) =>
      `this plan would delete or replace ${count} resources, more than the deletion budget of ${budget} per pass; nothing is applied. If this is intended, run again with a higher budget (--deletion-budget ${count}, or deletionBudget in the config); if not, check that the desired-state directory was not emptied by mistake`,
  }),
  PLAN_STALE: entry({
    class: 'terminal',
    meaning: 'the plan that was shown (or saved) is no longer what applying would do; nothing is applied',
    message: (what: string) =>
      `${what} since the plan was shown; nothing is applied. Look at the new plan (keelson plan) and apply again`,
  }),
} as const;

/** Stable error codes: the keys of the catalogue. */
export type ErrorCode = keyof typeof ERRORS;

export function isErrorCode(value: string): value is ErrorCode {
  return Object.hasOwn(ERRORS, value);
}

/** Every code, in catalogue order. */
export const ERROR_CODES: readonly ErrorCode[] = Object.keys(ERRORS).filter(isErrorCode);

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
