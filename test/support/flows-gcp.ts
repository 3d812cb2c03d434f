import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { zipSync } from 'fflate';
import type { GcpSimulator } from '../../providers/gcp/simulator/index.ts';
import { clientOptions, google } from '../../providers/gcp/simulator/test-clients.ts';

/**
 * Deploys `functions/vectorize` to the GCP simulator with the official Functions v2 client (REST
 * mode), as the company's desired state does: one source, two functions because a Cloud Function
 * has one trigger: `vectorize-documents` on Firestore `document.written` for top-level documents of
 * every collection (the function skips the collections it does not index), and `vectorize-chat` on
 * the Pub/Sub topic the RocketChat listener publishes to. Both retry failed events.
 */
export async function deployVectorize(
  sim: GcpSimulator,
  env: Record<string, string>,
  topic = 'rocketchat-messages',
): Promise<void> {
  const root = resolve(import.meta.dirname, '../../functions/vectorize');
  const files: Record<string, Uint8Array> = { 'package.json': readFileSync(join(root, 'package.json')) };
  for (const f of readdirSync(join(root, 'src')))
    if (!f.endsWith('.test.ts')) files[`src/${f}`] = readFileSync(join(root, 'src', f));
  const parent = `projects/${sim.projectId}/locations/${sim.region}`;
  const fns = new (google.functions().v2.FunctionServiceClient)(clientOptions(sim));
  const [upload] = await fns.generateUploadUrl({ parent });
  const put = await fetch(upload.uploadUrl as string, {
    method: 'PUT',
    headers: { 'content-type': 'application/zip' },
    body: zipSync(files),
  });
  if (put.status !== 200) throw new Error(`upload answered ${put.status}`);
  const publisher = new (google.pubsub().v1.PublisherClient)(clientOptions(sim));
  await publisher.createTopic({ name: `projects/${sim.projectId}/topics/${topic}` });
  const buildConfig = (entryPoint: string) => ({
    runtime: 'nodejs24',
    entryPoint,
    source: { storageSource: upload.storageSource },
  });
  const serviceConfig = { environmentVariables: env, timeoutSeconds: 60 };
  const ops = await Promise.all([
    fns.createFunction({
      parent,
      functionId: 'vectorize-documents',
      function: {
        buildConfig: buildConfig('vectorizeDocument'),
        serviceConfig,
        eventTrigger: {
          eventType: 'google.cloud.firestore.document.v1.written',
          eventFilters: [
            { attribute: 'database', value: '(default)' },
            { attribute: 'document', value: '{collection}/{id}', operator: 'match-path-pattern' },
          ],
          retryPolicy: 'RETRY_POLICY_RETRY',
        },
      },
    }),
    fns.createFunction({
      parent,
      functionId: 'vectorize-chat',
      function: {
        buildConfig: buildConfig('vectorizeMessage'),
        serviceConfig,
        eventTrigger: {
          eventType: 'google.cloud.pubsub.topic.v1.messagePublished',
          pubsubTopic: `projects/${sim.projectId}/topics/${topic}`,
          retryPolicy: 'RETRY_POLICY_RETRY',
        },
      },
    }),
  ]);
  for (const [op] of ops) await op.promise();
}

/** A Firestore document from the simulator's REST API, or undefined. */
export async function getDocument(
  sim: GcpSimulator,
  path: string,
): Promise<{ name: string; fields: Record<string, Record<string, unknown>> } | undefined> {
  const r = await fetch(`${sim.url}/v1/projects/${sim.projectId}/databases/(default)/documents/${path}`, {
    headers: { authorization: `Bearer ${sim.env.GCP_ACCESS_TOKEN}` },
  });
  if (r.status === 404) return undefined;
  if (!r.ok) throw new Error(`GET ${path} answered ${r.status}`);
  return (await r.json()) as { name: string; fields: Record<string, Record<string, unknown>> };
}
