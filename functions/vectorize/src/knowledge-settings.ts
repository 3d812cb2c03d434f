/**
 * The knowledge base's settings shared by the vectorize function (which writes points) and the
 * LLM query Worker (which queries them): both embed with Qdrant Cloud Inference, so the model
 * must be the same on both sides or queries stop matching. The Worker's bundle imports this file.
 */

/** Embedding model (Qdrant Cloud Inference). Override with `EMBEDDING_MODEL` on both sides. */
export const DEFAULT_EMBEDDING_MODEL = 'sentence-transformers/all-minilm-l6-v2';

/** Output size of the known models; `EMBEDDING_SIZE` gives it for another one. */
export const MODEL_SIZES: Readonly<Record<string, number>> = {
  'sentence-transformers/all-minilm-l6-v2': 384,
  'BAAI/bge-small-en-v1.5': 384,
  'BAAI/bge-base-en-v1.5': 768,
  'mixedbread-ai/mxbai-embed-large-v1': 1024,
};

/** Qdrant collection. Override with `QDRANT_COLLECTION`. */
export const DEFAULT_COLLECTION = 'knowledge';

/**
 * Payload indexes the collection gets at creation: the fields the Worker, the function and the
 * sync app filter on (Qdrant Cloud's strict mode refuses filters on unindexed fields).
 */
export const PAYLOAD_INDEXES: Readonly<Record<string, 'keyword' | 'integer'>> = {
  source: 'keyword',
  sourceId: 'keyword',
  document: 'keyword',
  room: 'keyword',
  model: 'keyword',
  chunk: 'integer',
};
