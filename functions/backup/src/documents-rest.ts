import type { DocData, DocumentStore, StoredDoc } from './documents.ts';
import type { Secret } from './secret.ts';

/** Firestore's typed value, as the REST API (v1) writes it. */
type Value =
  | { nullValue: null }
  | { booleanValue: boolean }
  | { integerValue: string }
  | { doubleValue: number }
  | { stringValue: string }
  | { timestampValue: string }
  | { arrayValue: { values?: Value[] } }
  | { mapValue: { fields?: Record<string, Value> } };

export function encodeValue(v: unknown): Value {
  if (v === null || v === undefined) return { nullValue: null };
  if (typeof v === 'boolean') return { booleanValue: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { integerValue: String(v) } : { doubleValue: v };
  if (typeof v === 'string') return { stringValue: v };
  if (v instanceof Date) return { timestampValue: v.toISOString() };
  if (Array.isArray(v)) return { arrayValue: { values: v.map(encodeValue) } };
  if (typeof v === 'object') return { mapValue: { fields: encodeFields(v as DocData) } };
  throw new TypeError(`cannot store a ${typeof v} in Firestore`);
}

export function encodeFields(data: DocData): Record<string, Value> {
  const out: Record<string, Value> = {};
  for (const [k, v] of Object.entries(data)) if (v !== undefined) out[k] = encodeValue(v);
  return out;
}

export function decodeValue(v: Value): unknown {
  if ('nullValue' in v) return null;
  if ('booleanValue' in v) return v.booleanValue;
  if ('integerValue' in v) return Number(v.integerValue);
  if ('doubleValue' in v) return Number(v.doubleValue);
  if ('stringValue' in v) return v.stringValue;
  if ('timestampValue' in v) return v.timestampValue;
  if ('arrayValue' in v) return (v.arrayValue.values ?? []).map(decodeValue);
  if ('mapValue' in v) return decodeFields(v.mapValue.fields ?? {});
  return null;
}

export function decodeFields(fields: Record<string, Value>): DocData {
  const out: DocData = {};
  for (const [k, v] of Object.entries(fields)) out[k] = decodeValue(v);
  return out;
}

export interface RestDocumentStoreOptions {
  /** `https://firestore.googleapis.com`, or the GCP simulator's base URL. */
  readonly endpoint: string;
  readonly projectId: string;
  /** A fixed token (`GCP_ACCESS_TOKEN`); without it the metadata server's token is fetched. */
  readonly accessToken?: Secret;
  readonly timeoutMs?: number;
}

const METADATA_TOKEN_URL = 'http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token';

/** Firestore's documents REST API (v1), on `fetch`. */
export class RestDocumentStore implements DocumentStore {
  readonly #base: string;
  readonly #options: RestDocumentStoreOptions;
  #token?: { value: string; expires: number };

  constructor(options: RestDocumentStoreOptions) {
    this.#options = options;
    this.#base = `${options.endpoint}/v1/projects/${encodeURIComponent(options.projectId)}/databases/(default)/documents`;
  }

  async #authorization(): Promise<string> {
    if (this.#options.accessToken) return `Bearer ${this.#options.accessToken.reveal()}`;
    if (!this.#token || this.#token.expires < Date.now() + 60_000) {
      const response = await fetch(METADATA_TOKEN_URL, {
        headers: { 'Metadata-Flavor': 'Google' },
        signal: AbortSignal.timeout(5000),
      });
      if (!response.ok) throw new Error(`cannot get an access token from the metadata server: ${response.status}`);
      const body = (await response.json()) as { access_token: string; expires_in: number };
      this.#token = { value: body.access_token, expires: Date.now() + body.expires_in * 1000 };
    }
    return `Bearer ${this.#token.value}`;
  }

  async #call(
    method: string,
    path: string,
    what: string,
    body?: unknown,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    let response: Response;
    try {
      response = await fetch(`${this.#base}/${path}`, {
        method,
        headers: {
          Authorization: await this.#authorization(),
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.#options.timeoutMs ?? 20_000),
      });
    } catch (e) {
      throw new Error(`cannot ${what}: Firestore did not answer (${(e as Error).message})`);
    }
    const text = await response.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      parsed = { raw: text.slice(0, 200) };
    }
    return { status: response.status, body: parsed };
  }

  #fail(what: string, r: { status: number; body: Record<string, unknown> }): never {
    const error = r.body.error as { message?: string; status?: string } | undefined;
    throw new Error(
      `cannot ${what}: Firestore answered ${r.status} ${error?.status ?? ''} ${error?.message ?? ''}`.trim(),
    );
  }

  async get(collection: string, id: string): Promise<StoredDoc | undefined> {
    const what = `read ${collection}/${id}`;
    const r = await this.#call('GET', `${collection}/${encodeURIComponent(id)}`, what);
    if (r.status === 404) return undefined;
    if (r.status !== 200) this.#fail(what, r);
    return {
      data: decodeFields((r.body.fields ?? {}) as Record<string, Value>),
      version: String(r.body.updateTime ?? ''),
    };
  }

  async create(collection: string, id: string, data: DocData): Promise<boolean> {
    const what = `create ${collection}/${id}`;
    const r = await this.#call('POST', `${collection}?documentId=${encodeURIComponent(id)}`, what, {
      fields: encodeFields(data),
    });
    if (r.status === 409) return false;
    if (r.status !== 200) this.#fail(what, r);
    return true;
  }

  async update(collection: string, id: string, data: DocData, options: { ifVersion?: string } = {}): Promise<boolean> {
    const what = `update ${collection}/${id}`;
    const query = new URLSearchParams();
    for (const field of Object.keys(data)) query.append('updateMask.fieldPaths', field);
    if (options.ifVersion) query.set('currentDocument.updateTime', options.ifVersion);
    else query.set('currentDocument.exists', 'true');
    const r = await this.#call('PATCH', `${collection}/${encodeURIComponent(id)}?${query}`, what, {
      fields: encodeFields(data),
    });
    // A failed precondition: 404 (gone) or 400 FAILED_PRECONDITION / 409 ABORTED (changed since read).
    if (r.status === 404 || r.status === 409) return false;
    if (r.status === 400 && (r.body.error as { status?: string } | undefined)?.status === 'FAILED_PRECONDITION') {
      return false;
    }
    if (r.status !== 200) this.#fail(what, r);
    return true;
  }

  async delete(collection: string, id: string): Promise<void> {
    const what = `delete ${collection}/${id}`;
    const r = await this.#call('DELETE', `${collection}/${encodeURIComponent(id)}`, what);
    if (r.status !== 200 && r.status !== 204 && r.status !== 404) this.#fail(what, r);
  }
}
