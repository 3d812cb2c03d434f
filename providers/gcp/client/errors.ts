import { type ErrorClass, type ErrorCode, KeelsonError } from '../../sdk/index.ts';

/** gRPC status codes as Google's clients report them (HTTP answers are mapped to these). */
export const Status = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

const BY_NAME: Record<string, number> = Status;
const HTTP_TO_STATUS: Record<number, number> = {
  400: Status.INVALID_ARGUMENT,
  401: Status.UNAUTHENTICATED,
  403: Status.PERMISSION_DENIED,
  404: Status.NOT_FOUND,
  409: Status.ABORTED,
  412: Status.FAILED_PRECONDITION,
  429: Status.RESOURCE_EXHAUSTED,
  499: Status.CANCELLED,
  500: Status.INTERNAL,
  501: Status.UNIMPLEMENTED,
  503: Status.UNAVAILABLE,
  504: Status.DEADLINE_EXCEEDED,
};

/** What keelson needs from any error a Google client threw. */
export interface GoogleFailure {
  /** gRPC status code, or undefined when no answer came back (a dropped connection). */
  readonly status: number | undefined;
  readonly httpStatus: number | undefined;
  readonly message: string;
  /** From a `google.rpc.RetryInfo` detail, ms. */
  readonly retryDelayMs: number | undefined;
  /** From a `google.rpc.ErrorInfo` detail, e.g. `SERVICE_DISABLED`. */
  readonly reason: string | undefined;
}

/**
 * Reads a client error. Two shapes exist: the current google-gax maps the answer to a gRPC code and
 * decodes `details`; the older google-gax that service usage pins, and keelson's own REST calls,
 * leaves the HTTP status in `code` and the JSON body in `message`.
 */
export function readFailure(error: unknown): GoogleFailure {
  const e = (error ?? {}) as {
    code?: unknown;
    httpStatusCode?: unknown;
    message?: unknown;
    details?: unknown;
    statusDetails?: unknown;
    response?: { status?: number };
  };
  let message = typeof e.message === 'string' ? e.message : String(error);
  let status = typeof e.code === 'number' ? e.code : undefined;
  let httpStatus = typeof e.httpStatusCode === 'number' ? e.httpStatusCode : undefined;
  let details: unknown[] = Array.isArray(e.statusDetails) ? e.statusDetails : [];
  if (status !== undefined && status >= 100) {
    httpStatus = status;
    status = HTTP_TO_STATUS[status] ?? (status >= 500 ? Status.INTERNAL : Status.UNKNOWN);
    const body = parseJson(message.slice(message.indexOf('{')));
    const inner = (body as { error?: { status?: string; message?: string; details?: unknown[] } })?.error;
    if (inner) {
      if (typeof inner.status === 'string' && BY_NAME[inner.status] !== undefined) status = BY_NAME[inner.status];
      if (typeof inner.message === 'string') message = inner.message;
      if (Array.isArray(inner.details)) details = inner.details;
    }
  } else if (typeof e.code === 'string' && BY_NAME[e.code] !== undefined) {
    status = BY_NAME[e.code];
  }
  // "5 NOT_FOUND: topic not found" → "topic not found"
  message = message.replace(/^\d+ [A-Z_]+: /, '');
  let reason = typeof (e as { reason?: unknown }).reason === 'string' ? (e as { reason: string }).reason : undefined;
  for (const d of details) {
    const r = (d as { reason?: unknown })?.reason;
    if (!reason && typeof r === 'string') reason = r;
  }
  return { status, httpStatus, message, retryDelayMs: retryDelay(details), reason };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** `retryDelay` of a RetryInfo detail: `{seconds, nanos}` once decoded, `"2.5s"` in JSON. */
function retryDelay(details: readonly unknown[]): number | undefined {
  for (const d of details) {
    const delay = (d as { retryDelay?: unknown })?.retryDelay;
    if (typeof delay === 'string' && /^\d+(\.\d+)?s$/.test(delay)) return Math.ceil(Number(delay.slice(0, -1)) * 1000);
    if (delay && typeof delay === 'object') {
      const { seconds, nanos } = delay as { seconds?: unknown; nanos?: unknown };
      return Math.ceil(Number(seconds ?? 0) * 1000 + Number(nanos ?? 0) / 1e6);
    }
  }
  return undefined;
}

/** The client's own error, also when it is wrapped in a `KeelsonError` as its cause. */
function unwrap(error: unknown): unknown {
  return error instanceof KeelsonError && error.cause !== undefined ? error.cause : error;
}

export function isNotFound(error: unknown): boolean {
  return readFailure(unwrap(error)).status === Status.NOT_FOUND;
}

export function isAlreadyExists(error: unknown): boolean {
  return readFailure(unwrap(error)).status === Status.ALREADY_EXISTS;
}

/** An etag mismatch on a read-modify-write (IAM policies): read again and retry. */
export function isConflict(error: unknown): boolean {
  const s = readFailure(unwrap(error)).status;
  return s === Status.ABORTED || s === Status.FAILED_PRECONDITION;
}

/** Maps a gRPC status to keelson's error code and class. */
export function classifyStatus(status: number | undefined): { code: ErrorCode; class: ErrorClass } {
  switch (status) {
    case Status.RESOURCE_EXHAUSTED:
      return { code: 'RATE_LIMITED', class: 'transient' };
    case Status.INVALID_ARGUMENT:
    case Status.OUT_OF_RANGE:
      return { code: 'INVALID_SPEC', class: 'terminal' };
    case Status.NOT_FOUND:
      return { code: 'NOT_FOUND', class: 'terminal' };
    case Status.PERMISSION_DENIED:
    case Status.UNAUTHENTICATED:
      return { code: 'UNAVAILABLE', class: 'terminal' };
    case Status.FAILED_PRECONDITION:
      // e.g. an API not enabled yet, or a resource still being created: try again later.
      return { code: 'NOT_READY', class: 'waiting' };
    case Status.ALREADY_EXISTS:
    case Status.UNIMPLEMENTED:
      return { code: 'API_ERROR', class: 'terminal' };
    default:
      // UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, ABORTED, UNKNOWN, no answer at all.
      return { code: 'API_ERROR', class: 'transient' };
  }
}

/** Turns anything a Google client threw into a classified `KeelsonError` saying what could not be done. */
export function toKeelsonError(error: unknown, what: string, resource?: string): KeelsonError {
  if (error instanceof KeelsonError) return error;
  const f = readFailure(error);
  // The client refused the request before sending it (a field of the wrong shape): nothing was sent.
  const local = f.status === undefined && isLocal(error);
  const { code, class: cls } = local
    ? { code: 'API_ERROR' as const, class: 'terminal' as const }
    : f.reason === 'SERVICE_DISABLED'
      ? // The API is not enabled (yet): a gcp.ProjectService enabling it may still be running.
        { code: 'NOT_READY' as const, class: 'waiting' as const }
      : classifyStatus(f.status);
  const name = f.status === undefined ? 'no answer' : (Object.keys(Status)[f.status] ?? String(f.status));
  const retryAfterMs = cls === 'waiting' ? (f.retryDelayMs ?? 5000) : f.retryDelayMs;
  return new KeelsonError(`cannot ${what}: ${f.message} (${name})`, {
    code,
    class: cls,
    cause: error,
    ...(resource === undefined ? {} : { resource }),
    ...(f.httpStatus === undefined ? {} : { status: f.httpStatus }),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });
}

/** The client refused to build the request (a field of the wrong shape): nothing reached the wire. */
export function isLocal(error: unknown): boolean {
  return error instanceof TypeError || (error instanceof Error && /^Cannot build HTTP request/.test(error.message));
}
