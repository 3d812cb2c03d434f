// PLACEHOLDER: the vectorize flow issue replaces this file with the real function (embed with Groq,
// upsert into Qdrant). Until then each entry point logs what it received and does nothing else.
import functions from '@google-cloud/functions-framework';

// Firestore document written (aircall-events, guesty-events, llm-queries), via Eventarc.
functions.cloudEvent('vectorizeDocument', (event) => {
  console.log(`vectorize placeholder: ${event.type} ${event.subject ?? ''} (not vectorised)`);
});

// A RocketChat message published on the rocketchat-messages topic.
functions.cloudEvent('vectorizeMessage', (event) => {
  console.log(`vectorize placeholder: ${event.type} ${event.id} (not vectorised)`);
});
