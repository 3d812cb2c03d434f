import functions from '@google-cloud/functions-framework';
import { handleEvent, type IncomingEvent } from './handle-event.ts';
import { KnowledgeIndex, settingsFromEnv } from './knowledge-index.ts';

/**
 * The vectorize Cloud Function (v2): one handler behind every trigger, Firestore `document.written`
 * on the webhook and Q&A collections and the Pub/Sub topic the RocketChat listener publishes to.
 * A function has one trigger, so the source is deployed once per event source; the entry points
 * `vectorizeDocument` and `vectorizeMessage` (the names the desired state uses) and `vectorize`
 * are the same handler, which tells the events apart by type. See ../README.md.
 */
let index: KnowledgeIndex | undefined;

const handler = async (event: unknown) => {
  index ??= new KnowledgeIndex(settingsFromEnv(process.env));
  await handleEvent(event as IncomingEvent, index);
};

for (const entryPoint of ['vectorize', 'vectorizeDocument', 'vectorizeMessage'])
  functions.cloudEvent<unknown>(entryPoint, handler);
