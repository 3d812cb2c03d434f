/**
 * Writes documents to Firestore over its REST API from a Worker (no SDK: the Workers runtime has no
 * gRPC). Values are encoded as Firestore `Value`s, within Firestore's limits: an array directly
 * inside an array (which Firestore refuses) is stored as its JSON text, and a document over the
 * size limit is split (see `upsertDocument`).
 */
import { accessToken, CredentialsError, parseServiceAccountKey, type ServiceAccountKey } from './google-auth.ts';

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
export function toFirestoreValue(value: unknown, insideArray = false): FirestoreValue {
  if (value === null || value === undefined) return { nullValue: null };
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { booleanValue: value };
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value)) return { integerValue: String(value) };
    return Number.isFinite(value) ? { doubleValue: value } : { stringValue: String(value) };
  }
  if (value instanceof Date) return { timestampValue: value.toISOString() };
  // Firestore refuses an array directly inside an array: keep the inner one as JSON text.
  if (Array.isArray(value))
    return insideArray
      ? { stringValue: JSON.stringify(value) }
      : { arrayValue: { values: value.map((v) => toFirestoreValue(v, true)) } };
  if (typeof value === 'object') return { mapValue: { fields: toFirestoreFields(value as Record<string, unknown>) } };
  return { stringValue: String(value) };
}

export function toFirestoreFields(record: Record<string, unknown>): Record<string, FirestoreValue> {
  const fields: Record<string, FirestoreValue> = {};
  for (const [k, v] of Object.entries(record)) if (v !== undefined) fields[k] = toFirestoreValue(v);
  return fields;
}

const utf8 = (s: string) => new TextEncoder().encode(s).length;

/** Storage size of a value, by Firestore's documented rules. */
export function valueSize(value: FirestoreValue): number {
  if ('stringValue' in value) return utf8(value.stringValue) + 1;
  if ('booleanValue' in value || 'nullValue' in value) return 1;
  if ('integerValue' in value || 'doubleValue' in value || 'timestampValue' in value) return 8;
  if ('arrayValue' in value) return value.arrayValue.values.reduce((n, v) => n + valueSize(v), 0);
  return fieldsSize(value.mapValue.fields);
}

const fieldsSize = (fields: Record<string, FirestoreValue>) =>
  Object.entries(fields).reduce((n, [k, v]) => n + utf8(k) + 1 + valueSize(v), 0);

/** Storage size of a document (name, fields, and Firestore's 32 extra bytes). */
export function documentSize(path: string, fields: Record<string, FirestoreValue>): number {
  return path.split('/').reduce((n, part) => n + utf8(part) + 1, 16) + fieldsSize(fields) + 32;
}

/** Firestore's maximum document size. */
export const MAX_DOCUMENT_BYTES = 1_048_576;
/** What a part document of a split document carries at most (well under the limit). */
const PART_BYTES = 512 * 1024;

/** Where and how to write. */
export interface FirestoreTarget {
  /** API origin. Default `https://firestore.googleapis.com`. */
  readonly baseUrl?: string;
  readonly projectId: string;
  /** Default `(default)`. */
  readonly database?: string;
  /** Service account key: requests carry a self-signed JWT. None: no Authorization (emulators). */
  readonly credentials?: ServiceAccountKey;
  /** A fixed bearer token instead (simulators and emulators that hand one out). */
  readonly accessToken?: string;
}

/** The bindings every Worker that writes Firestore has. */
export interface FirestoreEnv {
  readonly GCP_PROJECT: string;
  /** Secret: the service account's JSON key (roles/datastore.user). */
  readonly GCP_SERVICE_ACCOUNT_KEY?: string;
  /** Default https://firestore.googleapis.com. Another origin (an emulator) may go without a key. */
  readonly FIRESTORE_URL?: string;
}

/** The Firestore target from a Worker's bindings; a `CredentialsError` names what is wrong. */
export function firestoreTarget(env: FirestoreEnv): FirestoreTarget {
  if (!env.GCP_PROJECT) throw new CredentialsError('GCP_PROJECT is not set');
  const emulator = env.FIRESTORE_URL !== undefined && !env.FIRESTORE_URL.startsWith('https://firestore.googleapis.com');
  const credentials =
    env.GCP_SERVICE_ACCOUNT_KEY || !emulator
      ? parseServiceAccountKey(env.GCP_SERVICE_ACCOUNT_KEY, 'GCP_SERVICE_ACCOUNT_KEY')
      : undefined;
  return {
    projectId: env.GCP_PROJECT,
    ...(env.FIRESTORE_URL ? { baseUrl: env.FIRESTORE_URL } : {}),
    ...(credentials ? { credentials } : {}),
  };
}

const AUDIENCE = 'https://firestore.googleapis.com/';

function documentsUrl(target: FirestoreTarget): string {
  const base = (target.baseUrl ?? 'https://firestore.googleapis.com').replace(/\/$/, '');
  return `${base}/v1/projects/${encodeURIComponent(target.projectId)}/databases/${target.database ?? '(default)'}/documents`;
}

async function headers(target: FirestoreTarget): Promise<Record<string, string>> {
  const h: Record<string, string> = { 'content-type': 'application/json' };
  if (target.credentials) h.authorization = `Bearer ${await accessToken(target.credentials, AUDIENCE)}`;
  else if (target.accessToken) h.authorization = `Bearer ${target.accessToken}`;
  return h;
}

/** The answer of a write: `ok`, and the HTTP status of the first request that failed. */
export interface WriteResult {
  readonly ok: boolean;
  readonly status: number;
}

async function patch(
  target: FirestoreTarget,
  path: string,
  fields: Record<string, FirestoreValue>,
  signal?: AbortSignal,
): Promise<WriteResult> {
  const encodedPath = path.split('/').map(encodeURIComponent).join('/');
  const response = await fetch(`${documentsUrl(target)}/${encodedPath}`, {
    method: 'PATCH',
    headers: await headers(target),
    body: JSON.stringify({ fields }),
    ...(signal ? { signal } : {}),
  });
  await response.arrayBuffer();
  return { ok: response.ok, status: response.status };
}

/**
 * Creates or replaces `collection/id` (PATCH is an upsert), so a webhook retried by its sender
 * writes the same document again instead of a duplicate. A document over Firestore's size limit
 * is split: its large fields go, as JSON text in parts of 512 KiB, to `collection/id/parts/NNN`
 * (written first), and the document keeps its small fields plus `splitFields` and `splitParts`.
 */
export async function upsertDocument(
  target: FirestoreTarget,
  collection: string,
  id: string,
  data: Record<string, unknown>,
  signal?: AbortSignal,
): Promise<WriteResult> {
  const path = `${collection}/${id}`;
  const fields = toFirestoreFields(data);
  if (documentSize(path, fields) <= MAX_DOCUMENT_BYTES - 1024) return patch(target, path, fields, signal);
  const kept: Record<string, FirestoreValue> = {};
  const moved: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields)) {
    if (valueSize(value) <= 16 * 1024) kept[name] = value;
    else moved[name] = data[name];
  }
  const json = JSON.stringify(moved);
  const parts: string[] = [];
  // Cut by characters, each part well under the limit even with 4-byte characters.
  for (let i = 0; i < json.length; i += PART_BYTES / 4) parts.push(json.slice(i, i + PART_BYTES / 4));
  for (const [n, text] of parts.entries()) {
    const written = await patch(
      target,
      `${path}/parts/${String(n).padStart(3, '0')}`,
      { json: { stringValue: text } },
      signal,
    );
    if (!written.ok) return written;
  }
  kept.splitFields = toFirestoreValue(Object.keys(moved));
  kept.splitParts = { integerValue: String(parts.length) };
  return patch(target, path, kept, signal);
}

/**
 * Creates `collection/id` only if it does not exist (a lock for work that must happen once).
 * Resolves `created`, `exists`, or the failure's status.
 */
export async function createDocument(
  target: FirestoreTarget,
  collection: string,
  id: string,
  data: Record<string, unknown>,
  signal?: AbortSignal,
): Promise<'created' | 'exists' | { failed: number }> {
  const response = await fetch(`${documentsUrl(target)}/${collection}?documentId=${encodeURIComponent(id)}`, {
    method: 'POST',
    headers: await headers(target),
    body: JSON.stringify({ fields: toFirestoreFields(data) }),
    ...(signal ? { signal } : {}),
  });
  await response.arrayBuffer();
  if (response.ok) return 'created';
  if (response.status === 409) return 'exists';
  return { failed: response.status };
}
