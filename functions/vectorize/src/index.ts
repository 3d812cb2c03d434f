import functions from '@google-cloud/functions-framework';
import { handleEvent, type IncomingEvent } from './handle-event.ts';
import { KnowledgeIndex, settingsFromEnv } from './knowledge-index.ts';

/**
 * The vectorize Cloud Function (v2), entry point `vectorize`: one function behind two triggers,
 * Firestore `document.written` on the webhook and Q&A collections, and the Pub/Sub topic the
 * RocketChat listener publishes to. See ../README.md.
 */
let index: KnowledgeIndex | undefined;

functions.cloudEvent<unknown>('vectorize', async (event: unknown) => {
  index ??= new KnowledgeIndex(settingsFromEnv(process.env));
  await handleEvent(event as unknown as IncomingEvent, index);
});
