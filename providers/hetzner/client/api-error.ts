import { type ErrorClass, type ErrorCode, KeelsonError } from '../../sdk/index.ts';

/** An error answer from the Hetzner API, classified once (STYLE: errors are classified where they happen). */
export class HcloudApiError extends KeelsonError {
  /** Hetzner's machine code, e.g. `uniqueness_error`, `locked`, `rate_limit_exceeded`. */
  readonly vendorCode: string;
  readonly details: unknown;
  constructor(
    message: string,
    vendorCode: string,
    details: unknown,
    options: ConstructorParameters<typeof KeelsonError>[1],
  ) {
    super(message, options);
    this.vendorCode = vendorCode;
    this.details = details;
  }
}

/** Waiting time after `423 locked` before the resource is tried again. */
export const LOCKED_RETRY_MS = 2000;

/** Maps an HTTP status and Hetzner error code to keelson's error code and class. */
export function classifyHcloudError(status: number, vendorCode: string): { code: ErrorCode; class: ErrorClass } {
  if (status === 429 || vendorCode === 'rate_limit_exceeded') return { code: 'RATE_LIMITED', class: 'transient' };
  if (status === 423 || vendorCode === 'locked') return { code: 'LOCKED', class: 'waiting' };
  if (vendorCode === 'conflict' || status >= 500) return { code: 'API_ERROR', class: 'transient' };
  if (vendorCode === 'protected') return { code: 'PROTECTED', class: 'terminal' };
  if (status === 404) return { code: 'NOT_FOUND', class: 'terminal' };
  if (status === 401 || status === 403) return { code: 'UNAVAILABLE', class: 'terminal' };
  if (vendorCode === 'invalid_input' || vendorCode === 'json_error' || status === 400 || status === 422) {
    return { code: 'INVALID_SPEC', class: 'terminal' };
  }
  return { code: 'API_ERROR', class: 'terminal' };
}

export function hcloudError(
  what: string,
  status: number,
  body: unknown,
  resource: string | undefined,
  retryAfterMs?: number,
): HcloudApiError {
  const err = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)?.error;
  const vendorCode = typeof err?.code === 'string' ? err.code : `http_${status}`;
  const vendorMessage = typeof err?.message === 'string' ? err.message : `HTTP ${status}`;
  const { code, class: cls } = classifyHcloudError(status, vendorCode);
  const wait = cls === 'waiting' ? (retryAfterMs ?? LOCKED_RETRY_MS) : retryAfterMs;
  return new HcloudApiError(`cannot ${what}: ${vendorMessage} (${vendorCode})`, vendorCode, err?.details, {
    code,
    class: cls,
    status,
    ...(resource === undefined ? {} : { resource }),
    ...(wait === undefined ? {} : { retryAfterMs: wait }),
  });
}
