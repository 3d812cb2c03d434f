import { createRequire } from 'node:module';
import type { APIError } from 'cloudflare';
import { KeelsonError } from '../../sdk/index.ts';

/** The SDK's error class, from the same (CommonJS) copy of the SDK the client requires on first use. */
function isApiError(error: unknown): error is APIError {
  if (!(error instanceof Error)) return false;
  return error instanceof (createRequire(import.meta.url)('cloudflare') as typeof import('cloudflare')).APIError;
}

/** Cloudflare error codes that mean "the thing is not there" (record, bucket, script, route, zone). */
const NOT_FOUND_CODES = new Set([81044, 10006, 10007, 7003, 10019]);

/** True when the vendor said the resource does not exist (a 404, or one of its not-found codes). */
export function isNotFound(error: unknown): boolean {
  if (!isApiError(error)) return false;
  return error.status === 404 || error.errors.some((e) => e.code !== undefined && NOT_FOUND_CODES.has(e.code));
}

/** The vendor's error codes, for messages and tests. */
export function errorCodes(error: unknown): number[] {
  return isApiError(error) ? error.errors.flatMap((e) => (e.code === undefined ? [] : [e.code])) : [];
}

/**
 * Classifies a failed Cloudflare call once: 429 and 5xx and network failures are transient, other
 * 4xx are terminal (the request itself is wrong). `action` says what could not be done, naming the
 * resource: "cannot create DNS record api (A) in example.com".
 */
export function toKeelsonError(error: unknown, action: string, resource?: string): KeelsonError {
  if (error instanceof KeelsonError) return error;
  const base = resource === undefined ? {} : { resource };
  if (isApiError(error)) {
    const status = error.status;
    const detail = error.errors.length
      ? error.errors.map((e) => `${e.message} (code ${e.code})`).join('; ')
      : `HTTP ${status ?? 'error'}`;
    if (status === 429) {
      const retryAfter = Number(error.headers?.get('retry-after'));
      return new KeelsonError(`${action}: rate limited by Cloudflare: ${detail}`, {
        ...base,
        code: 'RATE_LIMITED',
        class: 'transient',
        status,
        cause: error,
        ...(Number.isFinite(retryAfter) ? { retryAfterMs: retryAfter * 1000 } : {}),
      });
    }
    const transient = status === undefined || status >= 500 || status === 408;
    return new KeelsonError(`${action}: ${detail}`, {
      ...base,
      code: isNotFound(error) ? 'NOT_FOUND' : 'API_ERROR',
      class: transient ? 'transient' : 'terminal',
      ...(status === undefined ? {} : { status }),
      cause: error,
    });
  }
  return new KeelsonError(`${action}: ${(error as Error)?.message ?? String(error)}`, {
    ...base,
    code: 'API_ERROR',
    class: 'transient',
    cause: error,
  });
}

/** Runs one SDK call and classifies its failure once (`toKeelsonError`): a 404 becomes `NOT_FOUND`. */
export async function cloudflareCall<T>(call: () => Promise<T>, action: string, resource?: string): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw toKeelsonError(error, action, resource);
  }
}
