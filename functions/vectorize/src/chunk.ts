import { createHash } from 'node:crypto';

/** Words per chunk and words repeated from the previous chunk (so a sentence cut in two is still found). */
export const CHUNK_WORDS = 120;
export const CHUNK_OVERLAP = 20;

/**
 * Splits a text into passages of at most `CHUNK_WORDS` words, each starting with the heading so a
 * passage retrieved alone still says what it is about. Deterministic: the same text always gives
 * the same chunks, which keeps point ids stable across redeliveries.
 */
export function chunkText(heading: string, text: string): string[] {
  const words = text.split(/\s+/).filter(Boolean);
  if (words.length === 0) return [];
  const chunks: string[] = [];
  for (let start = 0; ; start += CHUNK_WORDS - CHUNK_OVERLAP) {
    chunks.push(`${heading}\n${words.slice(start, start + CHUNK_WORDS).join(' ')}`);
    if (start + CHUNK_WORDS >= words.length) break;
  }
  return chunks;
}

/** The namespace of the knowledge base's point ids (a fixed random UUID). */
const NAMESPACE = '3f6c1b8e-2d4a-4c7e-9b1f-6a5d8e2c4b70';

/** RFC 4122 version 5 UUID (SHA-1 of namespace and name). */
export function uuidV5(name: string, namespace = NAMESPACE): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const hash = createHash('sha1').update(ns).update(name, 'utf8').digest();
  hash[6] = ((hash[6] ?? 0) & 0x0f) | 0x50;
  hash[8] = ((hash[8] ?? 0) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The point id of chunk `index` of a source: a redelivered event writes the same points. */
export const pointId = (sourceId: string, index: number): string => uuidV5(`${sourceId}#${index}`);
