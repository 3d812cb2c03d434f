// A probe deployed by the simulator's end-to-end test. Each entry point records what it received
// as a Firestore document through the REST API of the endpoint in GCP_API_ENDPOINT.
const path = require('node:path');
const functions = require('@google-cloud/functions-framework');
const protobuf = require('protobufjs');

const root = protobuf.loadSync(path.join(__dirname, 'data.proto'));
const DocumentEventData = root.lookupType('google.events.cloud.firestore.v1.DocumentEventData');

async function record(collection, id, fields) {
  const base = `${process.env.GCP_API_ENDPOINT}/v1/projects/${process.env.GCP_PROJECT_ID}/databases/(default)/documents`;
  const body = { fields: {} };
  for (const [k, v] of Object.entries(fields)) body.fields[k] = { stringValue: String(v) };
  const res = await fetch(`${base}/${collection}/${encodeURIComponent(id)}`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${process.env.GCP_ACCESS_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`cannot record ${collection}/${id}: ${res.status} ${await res.text()}`);
}

const seenEvents = new Set();
functions.cloudEvent('onDocument', async (event) => {
  const data = DocumentEventData.toObject(DocumentEventData.decode(event.data), { longs: String });
  const text = data.value?.fields?.text?.stringValue ?? '';
  if (text === 'fail-once' && !seenEvents.has(event.id)) {
    seenEvents.add(event.id);
    throw new Error('failing the first delivery of this event on purpose');
  }
  const old = data.oldValue?.fields?.text?.stringValue ?? '';
  const id = event.document.split('/').at(-1);
  await record('markers', `${id}-${data.value ? data.value.updateTime.seconds : 'deleted'}-${event.id}`, {
    type: event.type,
    document: event.document,
    database: event.database,
    text,
    old,
    mask: (data.updateMask?.fieldPaths ?? []).join(','),
    contentType: event.datacontenttype ?? '',
  });
});

const attempts = new Map();
functions.cloudEvent('onMessage', async (event) => {
  const message = event.data.message;
  const n = (attempts.get(message.messageId) ?? 0) + 1;
  attempts.set(message.messageId, n);
  if (message.attributes?.fail === 'once' && n === 1) throw new Error('failing the first delivery on purpose');
  await record('messages', message.messageId, {
    data: Buffer.from(message.data, 'base64').toString('utf8'),
    attempt: n,
    type: event.type,
    source: event.source,
    subscription: event.data.subscription,
  });
});

functions.http('onRequest', async (req, res) => {
  const { createRemoteJWKSet, jwtVerify } = await import('jose');
  const token = (req.get('authorization') ?? '').replace(/^Bearer /, '');
  const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(process.env.GCP_OIDC_JWKS_URL)), {
    issuer: 'https://accounts.google.com',
  });
  await record('invocations', req.get('x-cloudscheduler-scheduletime') ?? 'manual', {
    email: payload.email,
    aud: payload.aud,
    secret: process.env.SECRET_VALUE ?? '',
    plain: process.env.PLAIN ?? '',
    jobName: req.get('x-cloudscheduler-jobname') ?? '',
  });
  res.status(200).send('done');
});
