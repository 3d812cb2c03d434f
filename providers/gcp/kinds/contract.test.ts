import { afterAll } from 'vitest';
import { describeHandlerContract } from '../../sdk/contract-kit.ts';
import { rigContext, startGcpRig } from '../testing.ts';
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
const writes = () => rig.sim.writes();
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
