/** A response the simulator sends: status, JSON body, extra headers. */
export interface SimResponse {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Cloudflare's pagination info for page/per_page lists. */
export interface ResultInfo {
  readonly page?: number;
  readonly per_page?: number;
  readonly count?: number;
  readonly total_count?: number;
  readonly total_pages?: number;
  readonly cursor?: string;
}

/** `{success: true, errors: [], messages: [], result}` (plus `result_info` for lists). */
export function ok(result: unknown, resultInfo?: ResultInfo, status = 200): SimResponse {
  const body: Record<string, unknown> = { success: true, errors: [], messages: [], result };
  if (resultInfo) body.result_info = resultInfo;
  return { status, body };
}

/** `{success: false, errors: [{code, message}], messages: [], result: null}`. */
export function fail(
  status: number,
  code: number,
  message: string,
  headers?: Record<string, string>,
  chain?: readonly { code: number; message: string }[],
): SimResponse {
  return {
    status,
    body: {
      success: false,
      errors: [{ code, message, ...(chain ? { error_chain: chain } : {}) }],
      messages: [],
      result: null,
    },
    ...(headers ? { headers } : {}),
  };
}

/** One page of `items` for `page`/`per_page` (1-based); a page past the end is empty, as Cloudflare answers. */
export function paginate<T>(
  items: readonly T[],
  query: URLSearchParams,
  defaultPerPage: number,
  maxPerPage: number,
): SimResponse {
  const page = Math.max(1, Number(query.get('page') ?? 1) || 1);
  const perPage = Math.min(maxPerPage, Math.max(1, Number(query.get('per_page') ?? defaultPerPage) || defaultPerPage));
  const slice = items.slice((page - 1) * perPage, page * perPage);
  return ok(slice, {
    page,
    per_page: perPage,
    count: slice.length,
    total_count: items.length,
    total_pages: Math.ceil(items.length / perPage),
  });
}
