import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { encodeDocumentEventData } from '../../functions/vectorize/src/document-event.ts';

/**
 * A Cloud Function from `functions/<name>` running in Google's Functions Framework as its own Node
 * process (what Cloud Functions v2 runs), and the CloudEvents Eventarc sends it, encoded the way a
 * real trigger encodes them (binary mode; Firestore data as protobuf `DocumentEventData`).
 */
export interface RunningFunction {
  readonly url: string;
  /** Lines the function printed (its structured log). */
  readonly logs: string[];
  /** Sends a CloudEvent; resolves with the HTTP status the function answered (2xx = acknowledged). */
  send(event: BinaryCloudEvent): Promise<number>;
  stop(): Promise<void>;
}

export interface BinaryCloudEvent {
  readonly headers: Record<string, string>;
  readonly body: Uint8Array | string;
}

export async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? done(a.port) : fail(new Error('no port'))));
    });
  });
}

export async function startFunction(
  name: string,
  target: string,
  env: Record<string, string>,
): Promise<RunningFunction> {
  const root = resolve(import.meta.dirname, '../..');
  const port = await freePort();
  const main = resolve(root, 'node_modules/@google-cloud/functions-framework/build/src/main.js');
  const child: ChildProcess = spawn(
    process.execPath,
    [
      main,
      `--target=${target}`,
      '--signature-type=cloudevent',
      `--port=${port}`,
      `--source=${resolve(root, 'functions', name)}`,
    ],
    { env: { ...process.env, ...env, NODE_ENV: 'production' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const logs: string[] = [];
  const collect = (chunk: Buffer) => logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const url = `http://127.0.0.1:${port}`;
  // Ready when it answers anything (a GET to a cloudevent function answers 500 by design).
  for (;;) {
    if (child.exitCode !== null) throw new Error(`function ${name} exited: ${logs.join('\n')}`);
    const answered = await fetch(url).then(
      () => true,
      () => false,
    );
    if (answered) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    logs,
    async send(event) {
      const response = await fetch(url, { method: 'POST', headers: event.headers, body: event.body });
      await response.arrayBuffer();
      return response.status;
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A Firestore REST document (`{name, fields, createTime, updateTime}`) as a written document. */
export interface FirestoreDocument {
  readonly name: string;
  readonly fields: Record<string, unknown>;
  readonly createTime?: string;
  readonly updateTime?: string;
}

/**
 * The CloudEvent Eventarc sends for a Firestore `document.written` trigger: binary mode,
 * `application/protobuf` data, the document path in `subject` and the `document` extension.
 */
export function firestoreWrittenEvent(
  project: string,
  before: FirestoreDocument | undefined,
  after: FirestoreDocument | undefined,
): BinaryCloudEvent {
  const name = (after ?? before)?.name ?? '';
  const path = name.split('/documents/')[1] ?? '';
  return {
    headers: {
      'ce-specversion': '1.0',
      'ce-id': randomUUID(),
      'ce-type': 'google.cloud.firestore.document.v1.written',
      'ce-source': `//firestore.googleapis.com/projects/${project}/databases/(default)`,
      'ce-subject': `documents/${path}`,
      'ce-time': new Date().toISOString(),
      'ce-dataschema':
        'https://github.com/googleapis/google-cloudevents/blob/main/proto/google/events/cloud/firestore/v1/data.proto',
      'ce-project': project,
      'ce-database': '(default)',
      'ce-namespace': '(default)',
      'ce-document': path,
      'ce-location': 'europe-west1',
      'content-type': 'application/protobuf',
    },
    body: encodeDocumentEventData({ ...(before ? { oldValue: before } : {}), ...(after ? { value: after } : {}) }),
  };
}

/** The CloudEvent Eventarc sends for a Pub/Sub message (`messagePublished`, JSON data). */
export function pubsubEvent(
  project: string,
  topic: string,
  message: {
    data: string;
    attributes?: Record<string, string>;
    messageId: string;
    publishTime?: string;
    orderingKey?: string;
  },
): BinaryCloudEvent {
  return {
    headers: {
      'ce-specversion': '1.0',
      'ce-id': message.messageId,
      'ce-type': 'google.cloud.pubsub.topic.v1.messagePublished',
      'ce-source': `//pubsub.googleapis.com/projects/${project}/topics/${topic}`,
      'ce-time': message.publishTime ?? new Date().toISOString(),
      'content-type': 'application/json',
    },
    body: JSON.stringify({
      message: { ...message, publishTime: message.publishTime ?? new Date().toISOString() },
      subscription: `projects/${project}/subscriptions/eventarc-${topic}`,
    }),
  };
}
