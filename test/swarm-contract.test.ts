/**
 * The shared handler contract (providers/sdk/contract-kit.ts) for every Swarm kind, on the real
 * engine: observe finds nothing and writes nothing, create is idempotent and converges, an
 * in-place change converges, a replace-on-change field replaces, delete of something gone succeeds.
 */
import { afterAll, beforeAll } from 'vitest';
import { describeHandlerContract } from '../providers/sdk/contract-kit.ts';
import { SecretValue } from '../providers/sdk/index.ts';
import { ConfigHandler, configSchema } from '../providers/swarm/kinds/config.ts';
import { NetworkHandler, networkSchema } from '../providers/swarm/kinds/network.ts';
import { SecretHandler, secretSchema } from '../providers/swarm/kinds/secret.ts';
import { ServiceHandler } from '../providers/swarm/kinds/service.ts';
import { serviceSchema } from '../providers/swarm/kinds/service-schema.ts';
import { sleeperSpec, sweep, testClient } from '../providers/swarm/test-support.ts';

const PREFIX = 'kct-';
const client = testClient();
const writes = () => client.writeCount();

beforeAll(() => sweep(client, PREFIX));
afterAll(() => sweep(client, PREFIX));

describeHandlerContract({
  kind: { schema: networkSchema, handler: new NetworkHandler(client) },
  name: `${PREFIX}net`,
  spec: { attachable: true, labels: { team: 'ops' } },
  inPlace: (s) => ({ ...s, labels: { team: 'platform' } }),
  replace: (s) => ({ ...s, options: { 'com.docker.network.driver.mtu': '1400' } }),
  writes,
});

describeHandlerContract({
  kind: { schema: secretSchema, handler: new SecretHandler(client) },
  name: `${PREFIX}secret`,
  spec: { data: new SecretValue('s3cret', 'contract'), labels: { team: 'ops' } },
  inPlace: (s) => ({ ...s, labels: { team: 'platform' } }),
  writes,
});

describeHandlerContract({
  kind: { schema: configSchema, handler: new ConfigHandler(client) },
  name: `${PREFIX}config`,
  spec: { data: 'listen 80;\n', labels: { team: 'ops' } },
  inPlace: (s) => ({ ...s, labels: { team: 'platform' } }),
  writes,
});

describeHandlerContract({
  kind: { schema: serviceSchema, handler: new ServiceHandler(client, { taskStartMs: 30_000 }) },
  name: `${PREFIX}svc`,
  spec: sleeperSpec({ env: { MODE: 'one' }, labels: { team: 'ops' } }),
  inPlace: (s) => ({ ...s, env: { MODE: 'two' } }),
  writes,
  timeoutMs: 90_000,
});
