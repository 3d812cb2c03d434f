import { QdrantClient } from '@qdrant/js-client-rest';
import { chunkText, pointId } from './chunk.ts';
import type { KnowledgeItem } from './extract.ts';
import { DEFAULT_COLLECTION, DEFAULT_EMBEDDING_MODEL, MODEL_SIZES, PAYLOAD_INDEXES } from './knowledge-settings.ts';

/** Where the points go. */
export interface IndexSettings {
  readonly qdrantUrl: string;
  readonly apiKey: string | undefined;
  readonly collection: string;
  readonly model: string;
  readonly vectorSize: number;
  /** Per-call timeout, ms. */
  readonly timeoutMs: number;
}

/** Reads the settings from the environment; every problem is named at once. */
export function settingsFromEnv(env: NodeJS.ProcessEnv): IndexSettings {
  const problems: string[] = [];
  const model = env.EMBEDDING_MODEL || DEFAULT_EMBEDDING_MODEL;
  const size = env.EMBEDDING_SIZE ? Number(env.EMBEDDING_SIZE) : MODEL_SIZES[model];
  if (!env.QDRANT_URL) problems.push('QDRANT_URL is not set (the Qdrant cluster URL)');
  if (size === undefined || !Number.isInteger(size) || size <= 0)
    problems.push(`EMBEDDING_SIZE must be set to the vector size of ${model} (a positive integer)`);
  if (problems.length > 0) throw new Error(`vectorize: configuration: ${problems.join('; ')}`);
  return {
    qdrantUrl: env.QDRANT_URL as string,
    apiKey: env.QDRANT_API_KEY || undefined,
    collection: env.QDRANT_COLLECTION || DEFAULT_COLLECTION,
    model,
    vectorSize: size as number,
    timeoutMs: Number(env.QDRANT_TIMEOUT_MS || 20_000),
  };
}

/** A Qdrant failure: transient ones (network, 5xx, 429, timeouts) are retried by redelivery. */
export function isTransient(err: unknown): boolean {
  const status = (err as { status?: unknown }).status;
  if (typeof status === 'number') return status >= 500 || status === 408 || status === 429;
  return true;
}

/** The knowledge base in Qdrant: one source object is a set of points, one per chunk. */
export class KnowledgeIndex {
  readonly #client: QdrantClient;
  readonly #settings: IndexSettings;
  #ready: Promise<void> | undefined;

  constructor(settings: IndexSettings) {
    this.#settings = settings;
    this.#client = new QdrantClient({
      url: settings.qdrantUrl,
      ...(settings.apiKey ? { apiKey: settings.apiKey } : {}),
      checkCompatibility: false,
      timeout: settings.timeoutMs,
    });
  }

  get settings(): IndexSettings {
    return this.#settings;
  }

  /** Creates the collection and its payload indexes when missing (once per process once it worked). */
  ensureCollection(): Promise<void> {
    this.#ready ??= this.#create().catch((err: unknown) => {
      this.#ready = undefined;
      throw err;
    });
    return this.#ready;
  }

  async #create(): Promise<void> {
    const { collection, vectorSize } = this.#settings;
    if (!(await this.#client.collectionExists(collection)).exists) {
      try {
        await this.#client.createCollection(collection, { vectors: { size: vectorSize, distance: 'Cosine' } });
      } catch (err) {
        // Another instance created it first.
        if ((err as { status?: number }).status !== 409) throw err;
      }
    }
    for (const [field_name, field_schema] of Object.entries(PAYLOAD_INDEXES)) {
      await this.#client.createPayloadIndex(collection, { field_name, field_schema, wait: true });
    }
  }

  /**
   * Writes the points of one source object: upserts its chunks (deterministic ids), then deletes
   * chunks beyond the new count. Skips an item older than what is indexed (an event redelivered
   * after a newer one). Returns the number of points written.
   */
  async put(item: KnowledgeItem): Promise<{ written: number; stale: boolean }> {
    await this.ensureCollection();
    const { collection, model } = this.#settings;
    const bySource = { must: [{ key: 'sourceId', match: { value: item.sourceId } }] };
    const existing = await this.#client.scroll(collection, { filter: bySource, limit: 1, with_payload: ['version'] });
    const indexedVersion = Number(existing.points[0]?.payload?.version ?? -1);
    if (indexedVersion > item.version) return { written: 0, stale: true };
    const chunks = chunkText(item.heading, item.text);
    if (chunks.length > 0) {
      await this.#client.upsert(collection, {
        wait: true,
        points: chunks.map((text, chunk) => ({
          id: pointId(item.sourceId, chunk),
          vector: { text, model },
          payload: {
            ...item.payload,
            source: item.source,
            sourceId: item.sourceId,
            chunk,
            chunks: chunks.length,
            text,
            model,
            version: item.version,
          },
        })),
      });
    }
    await this.#client.delete(collection, {
      wait: true,
      filter: { must: [...bySource.must, { key: 'chunk', range: { gte: chunks.length } }] },
    });
    return { written: chunks.length, stale: false };
  }

  /** The vector size of the existing collection, or undefined when there is none yet. */
  async collectionVectorSize(): Promise<number | undefined> {
    if (!(await this.#client.collectionExists(this.#settings.collection)).exists) return undefined;
    const vectors = (await this.#client.getCollection(this.#settings.collection)).config.params.vectors as
      | { size?: number }
      | undefined;
    return vectors?.size;
  }

  /** Every point with its payload (the sync app compares them with Firestore). */
  async *allPoints(): AsyncGenerator<{ id: string | number; payload: Record<string, unknown> }> {
    if (!(await this.#client.collectionExists(this.#settings.collection)).exists) return;
    let offset: string | number | undefined;
    do {
      const page = await this.#client.scroll(this.#settings.collection, {
        limit: 256,
        with_payload: true,
        with_vector: false,
        ...(offset !== undefined ? { offset } : {}),
      });
      for (const p of page.points) yield { id: p.id, payload: (p.payload ?? {}) as Record<string, unknown> };
      offset = (page.next_page_offset ?? undefined) as string | number | undefined;
    } while (offset !== undefined);
  }

  /** Embeds points again with the current model, keeping their ids and payloads (a model change). */
  async reembed(points: readonly { id: string | number; payload: Record<string, unknown> }[]): Promise<void> {
    if (points.length === 0) return;
    await this.ensureCollection();
    const { collection, model } = this.#settings;
    await this.#client.upsert(collection, {
      wait: true,
      points: points.map((p) => ({
        id: p.id,
        vector: { text: String(p.payload.text ?? ''), model },
        payload: { ...p.payload, model },
      })),
    });
  }

  /** Deletes every point whose payload `field` equals `value` (a source id, a document path). */
  async deleteWhere(field: 'sourceId' | 'document', value: string): Promise<void> {
    await this.ensureCollection();
    await this.#client.delete(this.#settings.collection, {
      wait: true,
      filter: { must: [{ key: field, match: { value } }] },
    });
  }
}
