import { createHash } from 'node:crypto';
import { chunkText } from '../../../functions/vectorize/src/chunk.ts';
import { extractFromDocument, type KnowledgeItem } from '../../../functions/vectorize/src/extract.ts';
import type { KnowledgeIndex } from '../../../functions/vectorize/src/knowledge-index.ts';
import type { FirestoreReader, SourceDocument } from './firestore-reader.ts';
import type { SyncMetrics } from './metrics.ts';
import type { S3Archive } from './s3-archive.ts';
import { type SummarizerSettings, summarize } from './summarizer.ts';

/** An attachment a document links to, and where the archive keeps it. */
export interface Attachment {
  readonly url: string;
  readonly key: string;
}

export interface SyncDeps {
  readonly reader: FirestoreReader;
  readonly index: KnowledgeIndex;
  readonly metrics: SyncMetrics;
  readonly log: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
  /** Collections the vectorize function indexes. */
  readonly collections: readonly string[];
  /** Texts longer than this many words get a Groq summary point. */
  readonly longWords: number;
  readonly summarizer?: SummarizerSettings;
  readonly archive?: S3Archive;
  /** Downloads an attachment (recording URLs are pre-signed, short-lived). */
  readonly download?: (url: string) => Promise<{ body: Uint8Array; contentType: string }>;
}

export interface SyncReport {
  documents: number;
  backfilled: string[];
  orphans: string[];
  reembedded: number;
  summarized: string[];
  summariesDeferred: number;
  archived: string[];
  problems: string[];
}

/** Source ids whose truth is Firestore (RocketChat messages live in MongoDB and are left alone). */
const FIRESTORE_SOURCES = /^(aircall|guesty|qa):/;
const SUMMARY_SUFFIX = ':summary';

const textHash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

/** Attachments of a document worth keeping: Aircall recordings and voicemails, any `attachments[]`. */
export function attachmentsOf(doc: SourceDocument): Attachment[] {
  const found: Attachment[] = [];
  const data = (doc.fields.data ?? doc.fields.payload ?? {}) as Record<string, unknown>;
  const id = String(data.id ?? doc.path.split('/').at(-1));
  const ext = (url: string) => /\.(mp3|wav|m4a|pdf|png|jpe?g)(\?|$)/i.exec(url)?.[1]?.toLowerCase() ?? 'bin';
  if (doc.path.startsWith('aircall-events/') && String(doc.fields.event ?? '').startsWith('call.')) {
    for (const field of ['recording', 'voicemail']) {
      const url = data[field];
      if (typeof url === 'string' && /^https?:\/\//.test(url))
        found.push({ url, key: `aircall/calls/${id}/${field}.${ext(url)}` });
    }
  }
  const list = Array.isArray(data.attachments) ? data.attachments : [];
  for (const [i, a] of list.entries()) {
    const url = (a as { url?: unknown })?.url;
    if (typeof url === 'string' && /^https?:\/\//.test(url))
      found.push({ url, key: `${doc.path}/attachments/${i}.${ext(url)}` });
  }
  return found;
}

/**
 * One reconciliation of the knowledge base, level-based and idempotent: reads every indexed
 * Firestore collection and every Qdrant point, then (1) indexes the sources whose points are
 * missing, behind, incomplete or embedded with another model; (2) adds a Groq summary point for
 * long texts (once per text: the text's hash is kept on the summary); (3) deletes the points of
 * Firestore sources that no longer exist; (4) embeds the remaining points of another model again;
 * (5) archives attachments to S3 that are not there yet. A failure in one step is counted and
 * reported; the others still run.
 */
export async function reconcileKnowledge(deps: SyncDeps): Promise<SyncReport> {
  const { index, metrics, log } = deps;
  const report: SyncReport = {
    documents: 0,
    backfilled: [],
    orphans: [],
    reembedded: 0,
    summarized: [],
    summariesDeferred: 0,
    archived: [],
    problems: [],
  };
  const problem = (stage: string, text: string) => {
    metrics.errors.inc({ stage });
    report.problems.push(text);
    log('error', `sync-app: ${text}`);
  };
  const model = index.settings.model;
  const size = await index.collectionVectorSize();
  if (size !== undefined && size !== index.settings.vectorSize) {
    problem(
      'qdrant',
      `collection ${index.settings.collection} holds vectors of size ${size}, the model ${model} makes ${index.settings.vectorSize}: point QDRANT_COLLECTION (here and in the vectorize function) at a new collection, let this app fill it, then switch the LLM Worker`,
    );
    return report;
  }

  // What Firestore says the knowledge base holds: one item per source, the newest event's.
  const expected = new Map<string, KnowledgeItem>();
  const attachments: Attachment[] = [];
  for (const collection of deps.collections) {
    try {
      for await (const doc of deps.reader.list(collection)) {
        report.documents++;
        metrics.documents.inc();
        attachments.push(...attachmentsOf(doc));
        const extraction = extractFromDocument(doc.path, doc.fields);
        if (extraction.type !== 'index') continue;
        const known = expected.get(extraction.item.sourceId);
        if (!known || known.version <= extraction.item.version) expected.set(extraction.item.sourceId, extraction.item);
      }
    } catch (err) {
      problem('firestore', `cannot read ${collection}: ${(err as Error).message}`);
      return report;
    }
  }

  // What Qdrant holds, by source.
  const bySource = new Map<string, { id: string | number; payload: Record<string, unknown> }[]>();
  for await (const point of index.allPoints()) {
    const sourceId = String(point.payload.sourceId ?? '');
    bySource.set(sourceId, [...(bySource.get(sourceId) ?? []), point]);
  }

  // (1) Backfill and catch up.
  for (const item of expected.values()) {
    const points = bySource.get(item.sourceId) ?? [];
    const chunks = chunkText(item.heading, item.text).length;
    const behind = points.some((p) => Number(p.payload.version ?? -1) < item.version || p.payload.model !== model);
    if (points.length === chunks && !behind) continue;
    try {
      await index.put(item);
      report.backfilled.push(item.sourceId);
      metrics.backfilled.inc();
    } catch (err) {
      problem('qdrant', `cannot index ${item.sourceId}: ${(err as Error).message}`);
    }
  }

  // (2) Summaries of long texts.
  const wanted = new Set<string>();
  for (const item of expected.values()) {
    if (item.text.split(/\s+/).length <= deps.longWords) continue;
    const summaryId = `${item.sourceId}${SUMMARY_SUFFIX}`;
    wanted.add(summaryId);
    const hash = textHash(item.text);
    const current = bySource.get(summaryId)?.[0]?.payload;
    if (current?.textHash === hash && current.model === model) continue;
    if (!deps.summarizer || report.summariesDeferred > 0) {
      report.summariesDeferred++;
      continue;
    }
    try {
      const result = await summarize(deps.summarizer, item.heading, item.text);
      if ('rateLimitedSeconds' in result) {
        report.summariesDeferred++;
        metrics.summaries.inc({ result: 'rate-limited' });
        log(
          'warn',
          `sync-app: Groq is rate limiting (retry after ${result.rateLimitedSeconds} s); the remaining summaries wait for the next run`,
        );
        continue;
      }
      await index.put({
        sourceId: summaryId,
        source: 'summary',
        heading: `Summary: ${item.heading}`,
        text: result.summary,
        version: item.version,
        payload: { ...item.payload, summaryOf: item.sourceId, textHash: hash },
      });
      report.summarized.push(item.sourceId);
      metrics.summaries.inc({ result: 'made' });
    } catch (err) {
      metrics.summaries.inc({ result: 'failed' });
      problem('summary', `cannot summarise ${item.sourceId}: ${(err as Error).message}`);
    }
  }

  // (3) Orphans: points of Firestore sources that are gone (or summaries no longer wanted).
  for (const sourceId of bySource.keys()) {
    if (!FIRESTORE_SOURCES.test(sourceId) || expected.has(sourceId) || wanted.has(sourceId)) continue;
    try {
      await index.deleteWhere('sourceId', sourceId);
      report.orphans.push(sourceId);
      metrics.orphans.inc();
    } catch (err) {
      problem('qdrant', `cannot delete the points of ${sourceId}: ${(err as Error).message}`);
    }
  }

  // (4) Points of another model not covered above (RocketChat messages): embedded again in place.
  const stale = [...bySource.entries()]
    .filter(([sourceId]) => !expected.has(sourceId) && !wanted.has(sourceId) && !FIRESTORE_SOURCES.test(sourceId))
    .flatMap(([, points]) => points)
    .filter((p) => p.payload.model !== model);
  for (let i = 0; i < stale.length; i += 64) {
    try {
      await index.reembed(stale.slice(i, i + 64));
      report.reembedded += Math.min(64, stale.length - i);
      metrics.reembedded.inc(Math.min(64, stale.length - i));
    } catch (err) {
      problem('qdrant', `cannot embed points again: ${(err as Error).message}`);
    }
  }

  // (5) Archive attachments.
  if (deps.archive && deps.download) {
    for (const a of attachments) {
      try {
        if (await deps.archive.exists(a.key)) continue;
        const { body, contentType } = await deps.download(a.url);
        await deps.archive.put(a.key, body, contentType);
        report.archived.push(a.key);
        metrics.archived.inc({ result: 'stored' });
      } catch (err) {
        metrics.archived.inc({ result: 'failed' });
        problem('archive', `cannot archive ${a.key}: ${(err as Error).message}`);
      }
    }
  }
  return report;
}
