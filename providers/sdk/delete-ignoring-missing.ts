import { KeelsonError } from './errors.ts';

/** True for a classified error that says the resource does not exist (`NOT_FOUND`). */
export function isNotFoundError(error: unknown): boolean {
  return error instanceof KeelsonError && error.code === 'NOT_FOUND';
}

/**
 * Runs a delete and treats "it does not exist" as success, since handlers are idempotent and a
 * delete may be retried after its answer was lost. `missing` recognises the vendor's not-found
 * answer (default: a `KeelsonError` with code `NOT_FOUND`). Resolves with the delete's answer, or
 * undefined when the resource was already gone.
 */
export async function deleteIgnoringMissing<T>(
  remove: () => Promise<T>,
  missing: (error: unknown) => boolean = isNotFoundError,
): Promise<T | undefined> {
  try {
    return await remove();
  } catch (error) {
    if (missing(error)) return undefined;
    throw error;
  }
}
