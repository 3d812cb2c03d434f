import { fromFields } from '../../../functions/vectorize/src/document-event.ts';

/** A Firestore document as the sync app reads it: its path below `documents/` and plain fields. */
export interface SourceDocument {
  readonly path: string;
  readonly fields: Record<string, unknown>;
}

export interface FirestoreReaderSettings {
  /** API origin. Default https://firestore.googleapis.com. */
  readonly baseUrl?: string;
  readonly projectId: string;
  /** A bearer token (an OAuth access token from Application Default Credentials in production). */
  readonly token: () => Promise<string>;
  readonly timeoutMs: number;
}

type RawDocument = { name: string; fields?: Record<string, Record<string, unknown>> };

/** Reads collections over Firestore's REST API, page by page; split documents are put back together. */
export class FirestoreReader {
  readonly #s: FirestoreReaderSettings;

  constructor(settings: FirestoreReaderSettings) {
    this.#s = settings;
  }

  #url(path: string): string {
    const base = (this.#s.baseUrl ?? 'https://firestore.googleapis.com').replace(/\/$/, '');
    return `${base}/v1/projects/${encodeURIComponent(this.#s.projectId)}/databases/(default)/documents/${path}`;
  }

  async #get(url: string): Promise<{ documents?: RawDocument[]; nextPageToken?: string }> {
    const response = await fetch(url, {
      headers: { authorization: `Bearer ${await this.#s.token()}` },
      signal: AbortSignal.timeout(this.#s.timeoutMs),
    });
    if (response.status === 404) return {};
    if (!response.ok)
      throw new Error(`Firestore answered ${response.status} to GET ${url.split('/documents/')[1] ?? url}`);
    return (await response.json()) as { documents?: RawDocument[]; nextPageToken?: string };
  }

  async *list(collection: string): AsyncGenerator<SourceDocument> {
    let pageToken: string | undefined;
    do {
      const page = await this.#get(
        `${this.#url(collection)}?pageSize=300${pageToken ? `&pageToken=${encodeURIComponent(pageToken)}` : ''}`,
      );
      for (const raw of page.documents ?? []) {
        const path = raw.name.split('/documents/')[1] ?? raw.name;
        let fields = fromFields(raw.fields ?? {});
        if (Array.isArray(fields.splitFields)) fields = await this.#joinParts(path, fields);
        yield { path, fields };
      }
      pageToken = page.nextPageToken;
    } while (pageToken);
  }

  /** A document the Workers split for size: its moved fields are JSON text in `parts/NNN`. */
  async #joinParts(path: string, fields: Record<string, unknown>): Promise<Record<string, unknown>> {
    const parts: SourceDocument[] = [];
    for await (const part of this.list(`${path}/parts`)) parts.push(part);
    parts.sort((a, b) => (a.path < b.path ? -1 : 1));
    const moved = JSON.parse(parts.map((p) => String(p.fields.json ?? '')).join('')) as Record<string, unknown>;
    const { splitFields: _f, splitParts: _p, ...rest } = fields;
    return { ...rest, ...moved };
  }
}
