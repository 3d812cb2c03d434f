import { afterAll } from 'vitest';
import { describeHandlerContract } from '../../sdk/contract-kit.ts';
import { SecretValue } from '../../sdk/index.ts';
import { rigContext, startGcpRig } from '../testing.ts';
import { functionSchema } from './function.ts';
import { iamBindingSchema } from './iam-binding.ts';
import { projectServiceSchema } from './project-service.ts';
import { runServiceSchema } from './run-service.ts';
import { schedulerJobSchema } from './scheduler-job.ts';
import { secretSchema } from './secret.ts';
import { serviceAccountSchema } from './service-account.ts';
import { subscriptionSchema } from './subscription.ts';
import { topicSchema } from './topic.ts';

// Every Google Cloud kind passes the shared contract kit against the simulator, through Google's own clients.
const rig = await startGcpRig();
const ctx = rigContext();
const kind = (schema: { kind: string }) => {
  const found = rig.provider.kinds.find((k) => k.schema.kind === schema.kind);
  if (!found) throw new Error(`kind ${schema.kind} missing`);
  return found;
};
/** Requests that change something (Resource Manager reads a project's IAM policy with `POST …:getIamPolicy`). */
const writes = () => rig.sim.requests.filter((r) => r.method !== 'GET' && !r.path.includes(':getIamPolicy')).length;
/** Long-running operations finish when the simulator says so; then observe reports ready. */
const settle = async () => {
  await rig.sim.settleOperations();
};
// The subscription contract needs its topic.
await rig.provider.api.clients
  .publisher()
  .createTopic({ name: `projects/${rig.sim.projectId}/topics/contract-sub-topic` });
afterAll(() => rig.close());

describeHandlerContract({
  kind: kind(topicSchema),
  name: 'contract-topic',
  spec: { labels: { team: 'ops' } },
  inPlace: (s) => ({ ...s, messageRetentionDuration: '86400s' }),
  writes,
  context: () => ctx,
  settle,
});

describeHandlerContract({
  kind: kind(subscriptionSchema),
  name: 'contract-sub',
  spec: { topic: 'contract-sub-topic', ackDeadlineSeconds: 20 },
  inPlace: (s) => ({
    ...s,
    ackDeadlineSeconds: 30,
    retryPolicy: { minimumBackoff: '10s', maximumBackoff: '300s' },
    labels: { flow: 'vectorize' },
  }),
  replace: (s) => ({ ...s, filter: 'attributes.kind = "message"' }),
  writes,
  context: () => ctx,
  settle,
});

describeHandlerContract({
  kind: kind(projectServiceSchema),
  name: 'compute.googleapis.com',
  spec: {},
  // The only setting is what a prune does; with it, delete disables the API.
  inPlace: (s) => ({ ...s, disableOnDestroy: true }),
  writes,
  context: () => ctx,
  settle,
});

describeHandlerContract({
  kind: kind(serviceAccountSchema),
  name: 'contract-sa',
  spec: { displayName: 'Contract' },
  inPlace: (s) => ({ ...s, displayName: 'Contract, renamed', description: 'for the kit' }),
  writes,
  context: () => ctx,
  settle,
});

describeHandlerContract({
  kind: kind(secretSchema),
  name: 'contract-secret',
  spec: { value: new SecretValue('value-1', 'contract-secret'), labels: { team: 'ops' } },
  inPlace: (s) => ({ ...s, value: new SecretValue('value-2', 'contract-secret'), labels: { team: 'dev' } }),
  replace: (s) => ({ ...s, locations: ['europe-west1'] }),
  writes,
  context: () => ctx,
  settle,
});

describeHandlerContract({
  kind: kind(schedulerJobSchema),
  name: 'contract-job',
  spec: {
    schedule: '0 3 * * *',
    timeZone: 'Europe/Berlin',
    httpTarget: {
      uri: 'https://example.com/run',
      oidcToken: { serviceAccountEmail: 'invoker@p.iam.gserviceaccount.com' },
    },
  },
  inPlace: (s) => ({
    ...s,
    schedule: '0 4 * * *',
    paused: true,
    retryConfig: { retryCount: 2, minBackoffDuration: '60s' },
  }),
  replace: (s) => ({ ...s, region: 'europe-west1' }),
  writes,
  context: () => ctx,
  settle,
});

describeHandlerContract({
  kind: kind(functionSchema),
  name: 'contract-fn',
  spec: { source: 'functions/backup', entryPoint: 'backup', labels: { flow: 'backup' } },
  inPlace: (s) => ({ ...s, memory: '512M', env: { MODE: 'test' } }),
  replace: (s) => ({ ...s, region: 'europe-west1' }),
  writes,
  context: () => ctx,
  settle,
});

describeHandlerContract({
  kind: kind(runServiceSchema),
  name: 'contract-run',
  spec: { image: 'europe-docker.pkg.dev/company/app/api:1' },
  inPlace: (s) => ({ ...s, image: 'europe-docker.pkg.dev/company/app/api:2', env: { LOG: 'debug' }, maxInstances: 3 }),
  replace: (s) => ({ ...s, region: 'europe-west1' }),
  writes,
  context: () => ctx,
  settle,
});

describeHandlerContract({
  kind: kind(iamBindingSchema),
  name: 'contract-binding',
  spec: {
    target: { type: 'topic', name: 'contract-sub-topic' },
    role: 'roles/pubsub.publisher',
    members: ['user:a@example.com'],
  },
  inPlace: (s) => ({ ...s, members: ['user:a@example.com', 'serviceAccount:b@p.iam.gserviceaccount.com'] }),
  replace: (s) => ({ ...s, role: 'roles/pubsub.viewer' }),
  writes,
  context: () => ctx,
  settle,
});
