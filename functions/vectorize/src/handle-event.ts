import { decodeDocumentEventData } from './document-event.ts';
import { type Extraction, extractFromChatMessage, extractFromDocument } from './extract.ts';
import { isTransient, type KnowledgeIndex } from './knowledge-index.ts';

/** The CloudEvent fields the function reads. */
export interface IncomingEvent {
  readonly id?: string;
  readonly type: string;
  readonly subject?: string;
  readonly data?: unknown;
  readonly [extension: string]: unknown;
}

/** What one event did, for the log line and for tests. */
export type Outcome =
  | { readonly result: 'indexed'; readonly sourceId: string; readonly points: number }
  | { readonly result: 'stale'; readonly sourceId: string }
  | { readonly result: 'deleted'; readonly by: string }
  | { readonly result: 'skipped'; readonly reason: string }
  | { readonly result: 'rejected'; readonly problem: string };

export type Log = (severity: 'INFO' | 'WARNING' | 'ERROR', message: string, fields: Record<string, unknown>) => void;

/** Structured lines Cloud Logging understands (`severity`, `message`). */
export const cloudLog: Log = (severity, message, fields) => {
  console.log(JSON.stringify({ severity, message, ...fields }));
};

/** The message a listener publishes for one RocketChat message. */
interface ChatEnvelope {
  readonly op: 'upsert' | 'delete';
  readonly messageId: string;
  readonly message?: Record<string, unknown>;
}

/** `documents/aircall-events/x` or the full resource name, as the path below `documents/`. */
function documentPath(event: IncomingEvent, name: string | undefined): string {
  const fromName = name?.split('/documents/')[1];
  if (fromName) return fromName;
  if (typeof event.document === 'string') return event.document;
  return (event.subject ?? '').replace(/^documents\//, '');
}

/** What an event asks for, once decoded. */
type Work =
  | { readonly kind: 'put'; readonly extraction: Extraction }
  | { readonly kind: 'delete'; readonly field: 'sourceId' | 'document'; readonly value: string; readonly what: string }
  | { readonly kind: 'reject'; readonly problem: string };

/** Decodes an event into work; throws only on undecodable input (a permanent problem). */
function decode(event: IncomingEvent): { work: Work; where: string } {
  if (event.type.startsWith('google.cloud.firestore.document.v1.')) {
    const change = decodeDocumentEventData(event.data);
    const path = documentPath(event, change.value?.name ?? change.oldValue?.name);
    const where = `documents/${path}`;
    if (!change.value)
      return { where, work: { kind: 'delete', field: 'document', value: path, what: `document ${path}` } };
    return { where, work: { kind: 'put', extraction: extractFromDocument(path, change.value.fields) } };
  }
  if (event.type === 'google.cloud.pubsub.topic.v1.messagePublished') {
    const message = (
      event.data as { message?: { data?: string; attributes?: Record<string, string>; messageId?: string } }
    )?.message;
    const where = `pubsub message ${message?.messageId ?? '?'} (RocketChat message ${message?.attributes?.messageId ?? '?'})`;
    const envelope = JSON.parse(Buffer.from(message?.data ?? '', 'base64').toString('utf8')) as ChatEnvelope;
    if (envelope.op === 'delete' && typeof envelope.messageId === 'string')
      return {
        where,
        work: {
          kind: 'delete',
          field: 'sourceId',
          value: `rocketchat:${envelope.messageId}`,
          what: `RocketChat message ${envelope.messageId}`,
        },
      };
    if (envelope.op === 'upsert' && envelope.message)
      return { where, work: { kind: 'put', extraction: extractFromChatMessage(envelope.message) } };
    return { where, work: { kind: 'reject', problem: 'op must be upsert (with message) or delete (with messageId)' } };
  }
  return { where: event.type, work: { kind: 'reject', problem: `event type ${event.type} is not handled` } };
}

async function perform(index: KnowledgeIndex, work: Work): Promise<Outcome> {
  if (work.kind === 'reject') return { result: 'rejected', problem: work.problem };
  if (work.kind === 'delete') {
    await index.deleteWhere(work.field, work.value);
    return { result: 'deleted', by: work.what };
  }
  const extraction = work.extraction;
  if (extraction.type === 'nothing') return { result: 'skipped', reason: extraction.reason };
  if (extraction.type === 'invalid') return { result: 'rejected', problem: extraction.problem };
  const { written, stale } = await index.put(extraction.item);
  return stale
    ? { result: 'stale', sourceId: extraction.item.sourceId }
    : { result: 'indexed', sourceId: extraction.item.sourceId, points: written };
}

/**
 * Handles one event: a Firestore write (created, updated or deleted document) or a Pub/Sub
 * message from the RocketChat listener. Transient Qdrant failures throw, so the platform
 * redelivers; a document that can never be indexed is logged with its path and acknowledged.
 */
export async function handleEvent(event: IncomingEvent, index: KnowledgeIndex, log: Log = cloudLog): Promise<Outcome> {
  let decoded: { work: Work; where: string };
  try {
    decoded = decode(event);
  } catch (err) {
    decoded = {
      where: event.subject ?? event.type,
      work: { kind: 'reject', problem: `cannot decode the event: ${(err as Error).message}` },
    };
  }
  const { where, work } = decoded;
  let outcome: Outcome;
  try {
    outcome = await perform(index, work);
  } catch (err) {
    if (isTransient(err)) {
      log('WARNING', 'vectorize: Qdrant failed, the event will be redelivered', {
        event: event.id,
        where,
        error: (err as Error).message,
      });
      throw err;
    }
    const detail = (err as { data?: { status?: { error?: string } } }).data?.status?.error ?? (err as Error).message;
    outcome = { result: 'rejected', problem: `Qdrant refused it: ${detail}` };
  }
  const rejected = outcome.result === 'rejected';
  log(
    rejected ? 'ERROR' : 'INFO',
    rejected ? 'vectorize: event rejected (acknowledged, not retried)' : `vectorize: ${outcome.result}`,
    {
      event: event.id,
      where,
      ...outcome,
    },
  );
  return outcome;
}
