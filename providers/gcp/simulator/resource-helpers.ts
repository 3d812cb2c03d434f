import { createHash } from 'node:crypto';
import { invalidArgument } from './api-error.ts';
import type { Json } from './state.ts';

/**
 * One page of `items` in Google's style: `pageSize` (default `defaultSize`, at most `maxSize`) and an
 * opaque `pageToken`; `nextPageToken` only when more remain.
 */
export function page<T>(
  items: readonly T[],
  query: URLSearchParams,
  key: string,
  defaultSize = 50,
  maxSize = 1000,
): Json {
  const requested = Number(query.get('pageSize') ?? 0);
  if (!Number.isFinite(requested) || requested < 0) throw invalidArgument('page_size', 'must not be negative');
  const size = requested === 0 ? defaultSize : Math.min(requested, maxSize);
  const token = query.get('pageToken') ?? '';
  let offset = 0;
  if (token !== '') {
    const m = /^o(\d+)$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
    if (!m) throw invalidArgument('page_token', 'is not a token this API issued');
    offset = Number(m[1]);
  }
  const slice = items.slice(offset, offset + size);
  const out: Json = { [key]: slice };
  if (offset + size < items.length) out.nextPageToken = Buffer.from(`o${offset + size}`).toString('base64url');
  return out;
}

/** Field-mask paths from `updateMask` (a comma list, camelCase or snake_case). */
export function maskPaths(mask: unknown): string[] | undefined {
  if (mask === undefined || mask === null || mask === '') return undefined;
  const text =
    typeof mask === 'string'
      ? mask
      : Array.isArray((mask as Json).paths)
        ? ((mask as Json).paths as string[]).join(',')
        : '';
  return text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .map((p) => p.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase()));
}

/**
 * Copies the masked fields from `patch` onto a copy of `current` (a field absent from `patch` is
 * cleared). Without a mask every field `patch` carries is copied, except `immutable` ones.
 */
export function applyMask(current: Json, patch: Json, paths: string[] | undefined, allowed?: readonly string[]): Json {
  const out = structuredClone(current);
  const list = paths ?? Object.keys(patch);
  for (const path of list) {
    const top = path.split('.')[0]!;
    if (allowed && !allowed.includes(top) && !allowed.includes(path))
      throw invalidArgument('update_mask', `field ${path} cannot be updated`);
    setPath(out, path, getPath(patch, path));
  }
  return out;
}

function getPath(obj: Json, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Json)[part];
  }
  return cur;
}

function setPath(obj: Json, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = obj;
  for (const part of parts.slice(0, -1)) {
    if (cur[part] === null || typeof cur[part] !== 'object') cur[part] = {};
    cur = cur[part] as Json;
  }
  const last = parts.at(-1)!;
  if (value === undefined) delete cur[last];
  else cur[last] = structuredClone(value);
}

/** A weak etag over a resource's content. */
export function etagOf(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('base64').slice(0, 16);
}

const labelKey = /^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$/u;
const labelValue = /^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$/u;

/** GCP's label rules: at most 64; keys start with a lowercase letter; lowercase, digits, `_` and `-` only. */
export function checkLabels(labels: unknown, field = 'labels'): void {
  if (labels === undefined) return;
  const entries = Object.entries((labels ?? {}) as Record<string, unknown>);
  if (entries.length > 64) throw invalidArgument(field, 'at most 64 labels');
  for (const [k, v] of entries) {
    if (!labelKey.test(k))
      throw invalidArgument(
        `${field}.${k}`,
        `label key "${k}" must start with a lowercase letter and use only lowercase letters, digits, "_" and "-" (at most 63)`,
      );
    if (typeof v !== 'string' || !labelValue.test(v))
      throw invalidArgument(
        `${field}.${k}`,
        `label value "${String(v)}" may use only lowercase letters, digits, "_" and "-" (at most 63)`,
      );
  }
}

/** A resource id check (`[a-z]([-a-z0-9]*[a-z0-9])?` style), with the API's own pattern. */
export function checkId(id: string | null | undefined, field: string, pattern: RegExp, hint: string): string {
  if (!id) throw invalidArgument(field, 'is required');
  if (!pattern.test(id)) throw invalidArgument(field, `"${id}" ${hint}`);
  return id;
}

/** Seconds of a Duration string (`"600s"`, `"3.5s"`). */
export function durationSeconds(value: unknown, fallback: number): number {
  if (typeof value !== 'string') return fallback;
  const m = /^(-?\d+(?:\.\d+)?)s$/.exec(value);
  return m ? Number(m[1]) : fallback;
}
