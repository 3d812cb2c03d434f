import type { FirestoreDocuments, StoredDocument } from '../../workers/shared/firestore-documents.ts';
import { type BinaryCloudEvent, firestoreWrittenEvent, type RunningFunction } from './flows-function.ts';

/**
 * Eventarc's part in the flows, as explicit steps: every write to a watched collection becomes the
 * CloudEvent a Firestore `document.written` trigger sends (built from the real written document),
 * delivered to the function; an event the function did not acknowledge (non-2xx) is kept and
 * sent again on `redeliver()` (Eventarc retries with backoff; the test decides when).
 */
export interface EventarcTrigger {
  /** Events delivered and acknowledged, in order. */
  readonly acknowledged: BinaryCloudEvent[];
  /** Events the function failed, waiting for redelivery. */
  readonly failed: BinaryCloudEvent[];
  /** Sends an event again as a duplicate delivery (at-least-once). */
  deliver(event: BinaryCloudEvent): Promise<number>;
  redeliver(): Promise<void>;
  /** Resolves when every event so far has been delivered once. */
  idle(): Promise<void>;
}

export function firestoreTrigger(
  firestore: FirestoreDocuments,
  fn: RunningFunction,
  options: { project: string; collections: readonly string[] },
): EventarcTrigger {
  const acknowledged: BinaryCloudEvent[] = [];
  const failed: BinaryCloudEvent[] = [];
  let chain: Promise<void> = Promise.resolve();
  const deliver = async (event: BinaryCloudEvent) => {
    const status = await fn.send(event);
    if (status >= 200 && status < 300) acknowledged.push(event);
    else failed.push(event);
    return status;
  };
  firestore.onWrite((before: StoredDocument | undefined, after: StoredDocument | undefined) => {
    const path = ((after ?? before)?.name ?? '').split('/documents/')[1] ?? '';
    const parts = path.split('/');
    // A trigger on `collection/{doc}` matches documents of the collection, not of its subcollections.
    if (parts.length !== 2 || !options.collections.includes(parts[0] ?? '')) return;
    const event = firestoreWrittenEvent(options.project, before, after);
    chain = chain.then(() => deliver(event).then(() => undefined));
  });
  return {
    acknowledged,
    failed,
    deliver,
    async redeliver() {
      await chain;
      const again = failed.splice(0);
      for (const event of again) await deliver(event);
    },
    async idle() {
      let seen: Promise<void>;
      do {
        seen = chain;
        await seen;
      } while (seen !== chain);
    },
  };
}
