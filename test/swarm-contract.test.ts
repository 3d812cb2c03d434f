/**
 * The shared handler contract (providers/sdk/contract-kit.ts) for every Swarm kind, on the real
 * engine: observe finds nothing and writes nothing, create is idempotent and converges, an
 * in-place change converges, a replace-on-change field replaces, delete of something gone succeeds.
 */
import { afterAll, beforeAll } from 'vitest';
import { describeHandlerContract } from '../providers/sdk/contract-kit.ts';
import { SecretValue } from '../providers/sdk/index.ts';
import { configSchema, SwarmConfigHandler } from '../providers/swarm/config.ts';
import { networkSchema, SwarmNetworkHandler } from '../providers/swarm/network.ts';
import { SwarmSecretHandler, secretSchema } from '../providers/swarm/secret.ts';
import { SwarmServiceHandler } from '../providers/swarm/service.ts';
import { serviceSchema } from '../providers/swarm/service-schema.ts';
import { sleeperSpec, sweep, testClient } from '../providers/swarm/test-support.ts';

const PREFIX = 'kct-';
const client = testClient();
const writes = () => client.writeCount();

beforeAll(() => sweep(client, PREFIX));
afterAll(() => sweep(client, PREFIX));

describeHandlerContract({
  kind: { schema: networkSchema, handler: new SwarmNetworkHandler(client) },
  name: `${PREFIX}net`,
  spec: { attachable: true, labels: { team: 'ops' } },
  inPlace: (s) => ({ ...s, labels: { team: 'platform' } }),
  replace: (s) => ({ ...s, options: { 'com.docker.network.driver.mtu': '1400' } }),
  writes,
});

describeHandlerContract({
  kind: { schema: secretSchema, handler: new SwarmSecretHandler(client) },
  name: `${PREFIX}secret`,
  spec: { data: new SecretValue('s3cret', 'contract'), labels: { team: 'ops' } },
  inPlace: (s) => ({ ...s, labels: { team: 'platform' } }),
  writes,
});

describeHandlerContract({
  kind: { schema: configSchema, handler: new SwarmConfigHandler(client) },
  name: `${PREFIX}config`,
  spec: { data: 'listen 80;\n', labels: { team: 'ops' } },
  inPlace: (s) => ({ ...s, labels: { team: 'platform' } }),
  writes,
});

describeHandlerContract({
  kind: { schema: serviceSchema, handler: new SwarmServiceHandler(client, { taskStartMs: 30_000 }) },
  name: `${PREFIX}svc`,
  spec: sleeperSpec({ env: { MODE: 'one' }, labels: { team: 'ops' } }),
  inPlace: (s) => ({ ...s, env: { MODE: 'two' } }),
  writes,
  timeoutMs: 90_000,
});
