/**
 * Writes documents to Firestore over its REST API from a Worker (no SDK: the Workers runtime has no
 * gRPC). Values are encoded as Firestore `Value`s.
 */

/** A Firestore REST `Value`. */
export type FirestoreValue =
  | { stringValue: string }
  | { integerValue: string }
  | { doubleValue: number }
  | { booleanValue: boolean }
  | { nullValue: null }
  | { timestampValue: string }
  | { mapValue: { fields: Record<string, FirestoreValue> } }
  | { arrayValue: { values: FirestoreValue[] } };

/** Encodes a JSON value as a Firestore value (integers as `integerValue`, as Firestore wants). */
export function toFirestoreValue(value: unknown): FirestoreValue {
  if (value === null || value === undefined) return { nullValue: null };
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { booleanValue: value };
  if (typeof value === 'number')
    return Number.isInteger(value) ? { integerValue: String(value) } : { doubleValue: value };
  if (value instanceof Date) return { timestampValue: value.toISOString() };
  if (Array.isArray(value)) return { arrayValue: { values: value.map(toFirestoreValue) } };
  if (typeof value === 'object') return { mapValue: { fields: toFirestoreFields(value as Record<string, unknown>) } };
  return { stringValue: String(value) };
}

export function toFirestoreFields(record: Record<string, unknown>): Record<string, FirestoreValue> {
  const fields: Record<string, FirestoreValue> = {};
  for (const [k, v] of Object.entries(record)) if (v !== undefined) fields[k] = toFirestoreValue(v);
  return fields;
}

/** Where and how to write. */
export interface FirestoreTarget {
  /** API origin. Default `https://firestore.googleapis.com`. */
  readonly baseUrl?: string;
  readonly projectId: string;
  /** Default `(default)`. */
  readonly database?: string;
  /** OAuth access token, sent as a bearer token when set. */
  readonly accessToken?: string;
}

/**
 * Creates or replaces `collection/id` (PATCH is an upsert), so a webhook retried by its sender
 * writes the same document again instead of a duplicate.
 */
export async function upsertDocument(
  target: FirestoreTarget,
  collection: string,
  id: string,
  data: Record<string, unknown>,
): Promise<Response> {
  const base = (target.baseUrl ?? 'https://firestore.googleapis.com').replace(/\/$/, '');
  const database = target.database ?? '(default)';
  const url = `${base}/v1/projects/${encodeURIComponent(target.projectId)}/databases/${database}/documents/${collection}/${encodeURIComponent(id)}`;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (target.accessToken) headers.authorization = `Bearer ${target.accessToken}`;
  return fetch(url, { method: 'PATCH', headers, body: JSON.stringify({ fields: toFirestoreFields(data) }) });
}
