/**
 * The simulator's stand-in for Qdrant Cloud Inference: a deterministic local embedding that makes
 * lexical matches retrievable. Words and their character trigrams are hashed (FNV-1a, salted with
 * the model name so two models give different vectors) into `size` signed buckets, then normalised.
 * Texts sharing words land close in cosine distance; it is not a language model.
 */

/** Models the simulator embeds, with their output size (as Qdrant Cloud lists them). */
export const INFERENCE_MODELS: Readonly<Record<string, number>> = {
  'sentence-transformers/all-minilm-l6-v2': 384,
  'BAAI/bge-small-en-v1.5': 384,
  'BAAI/bge-base-en-v1.5': 768,
  'mixedbread-ai/mxbai-embed-large-v1': 1024,
};

const STOPWORDS = new Set(
  'a an and are as at be by for from has have i in is it its of on or that the this to was were what when where which who why will with you your do does did how can'.split(
    ' ',
  ),
);

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** Lower-cased words (letters and digits), stopwords dropped. */
export function words(text: string): string[] {
  return (text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).filter((w) => !STOPWORDS.has(w));
}

export function embedText(text: string, model: string, size: number): number[] {
  const vector = new Array<number>(size).fill(0);
  const add = (feature: string, weight: number) => {
    const h = fnv1a(`${model}\u0000${feature}`);
    vector[h % size] = (vector[h % size] ?? 0) + ((h >>> 31) & 1 ? -weight : weight);
  };
  for (const word of words(text)) {
    add(`w:${word}`, 1);
    const padded = `^${word}$`;
    for (let i = 0; i + 3 <= padded.length; i++) add(`t:${padded.slice(i, i + 3)}`, 0.25);
  }
  const norm = Math.hypot(...vector);
  if (norm === 0) {
    vector[fnv1a(model) % size] = 1;
    return vector;
  }
  return vector.map((v) => v / norm);
}
