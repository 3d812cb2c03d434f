/** Google's canonical status names with the HTTP status each maps to (google.rpc.Code). */
const statusOf = {
  INVALID_ARGUMENT: 400,
  FAILED_PRECONDITION: 400,
  OUT_OF_RANGE: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  ABORTED: 409,
  ALREADY_EXISTS: 409,
  RESOURCE_EXHAUSTED: 429,
  CANCELLED: 499,
  INTERNAL: 500,
  UNIMPLEMENTED: 501,
  UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
} as const;

export type RpcStatus = keyof typeof statusOf;

/** The gRPC code number of each status (for LRO `error` fields, which carry the number). */
export const rpcCode: Record<RpcStatus, number> = {
  CANCELLED: 1,
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
  UNAUTHENTICATED: 16,
};

/** An error answered in Google's model: `{error: {code, message, status, details}}`. */
export class ApiError extends Error {
  readonly status: RpcStatus;
  readonly httpStatus: number;
  readonly details: readonly Record<string, unknown>[];
  readonly headers: Readonly<Record<string, string>>;
  constructor(
    status: RpcStatus,
    message: string,
    details: readonly Record<string, unknown>[] = [],
    headers: Record<string, string> = {},
  ) {
    super(message);
    this.status = status;
    this.httpStatus = statusOf[status];
    this.details = details;
    this.headers = headers;
  }

  toBody(): {
    error: { code: number; message: string; status: RpcStatus; details: readonly Record<string, unknown>[] };
  } {
    return { error: { code: this.httpStatus, message: this.message, status: this.status, details: this.details } };
  }

  /** The `google.rpc.Status` form an operation's `error` carries. */
  toRpcStatus(): { code: number; message: string; details: readonly Record<string, unknown>[] } {
    return { code: rpcCode[this.status], message: this.message, details: this.details };
  }
}

/** The status name for an HTTP status a fault rule names (e.g. 503 → UNAVAILABLE). */
export function statusForHttp(http: number): RpcStatus {
  if (http === 409) return 'ABORTED';
  if (http === 400) return 'INVALID_ARGUMENT';
  for (const [name, code] of Object.entries(statusOf)) if (code === http) return name as RpcStatus;
  return http >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION';
}

export function notFound(what: string, name: string): ApiError {
  return new ApiError('NOT_FOUND', `${what} not found: ${name}`, [
    { '@type': 'type.googleapis.com/google.rpc.ResourceInfo', resourceType: what, resourceName: name },
  ]);
}

export function alreadyExists(what: string, name: string): ApiError {
  return new ApiError('ALREADY_EXISTS', `${what} already exists: ${name}`, [
    { '@type': 'type.googleapis.com/google.rpc.ResourceInfo', resourceType: what, resourceName: name },
  ]);
}

export function invalidArgument(field: string, description: string): ApiError {
  return new ApiError('INVALID_ARGUMENT', `Invalid value for field '${field}': ${description}`, [
    {
      '@type': 'type.googleapis.com/google.rpc.BadRequest',
      fieldViolations: [{ field, description }],
    },
  ]);
}

export function failedPrecondition(message: string): ApiError {
  return new ApiError('FAILED_PRECONDITION', message);
}

/** A quota error with the `RetryInfo` detail the clients and keelson's rate budget honour. */
export function resourceExhausted(message: string, retryAfterSeconds: number): ApiError {
  return new ApiError(
    'RESOURCE_EXHAUSTED',
    message,
    [
      { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${retryAfterSeconds}s` },
      {
        '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
        reason: 'RATE_LIMIT_EXCEEDED',
        domain: 'googleapis.com',
        metadata: { quota_limit: 'WriteRequestsPerMinutePerProject' },
      },
    ],
    { 'retry-after': String(retryAfterSeconds) },
  );
}

/** Throws `error` (for `map[key] ?? raise(notFound(…))`). */
export function raise(error: Error): never {
  throw error;
}
