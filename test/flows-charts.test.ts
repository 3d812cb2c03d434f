import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type ExpandIO, isSecretReference } from '../providers/sdk/index.ts';
import { expandChart } from '../providers/swarm/compose/compose-stack.ts';
import { configSchema } from '../providers/swarm/kinds/config.ts';
import { networkSchema } from '../providers/swarm/kinds/network.ts';
import { secretSchema } from '../providers/swarm/kinds/secret.ts';
import { serviceSchema } from '../providers/swarm/kinds/service-schema.ts';
import { checkSpec } from '../reconciler/desired/validate-spec.ts';

// The knowledge flows' charts expand with their defaults into valid Swarm resources, as keelson
// expands every chart (providers/swarm/charts.test.ts checks the older charts the same way).
const root = resolve(import.meta.dirname, '..');
const io: ExpandIO = { root, readFile: (p) => readFileSync(resolve(root, p), 'utf8') };
const schemas = Object.fromEntries([serviceSchema, networkSchema, secretSchema, configSchema].map((s) => [s.kind, s]));

describe.each(['mongo-listener', 'sync-app', 'mongodb'])('chart %s', (chart) => {
  const docs = expandChart({ stack: chart, chart, values: {} }, io);

  it('expands into resources that pass the kinds’ schemas, secrets only from the secret source', () => {
    expect(docs.length).toBeGreaterThan(0);
    for (const d of docs) {
      const problems = checkSpec(schemas[d.kind]?.spec ?? {}, d.spec).problems.map(
        (p) => `${d.kind}/${d.name}: ${p.message}`,
      );
      expect(problems).toEqual([]);
      if (d.kind === 'swarm.Secret') expect(isSecretReference(d.spec.data), d.name).toBe(true);
    }
  });

  it('runs one replica of its own service (a second would do the work twice)', () => {
    if (chart === 'mongodb') return;
    const services = docs.filter((d) => d.kind === 'swarm.Service');
    expect(services).toHaveLength(1);
    expect(JSON.stringify(services[0]?.spec)).toContain('"replicas":1');
  });
});

describe('mongodb chart init', () => {
  it('creates the listener user with find and changeStream on rocketchat_message only', () => {
    const docs = expandChart({ stack: 'mongodb', chart: 'mongodb', values: {} }, io);
    const init = JSON.stringify(docs.filter((d) => d.kind === 'swarm.Config').map((d) => d.spec));
    expect(init).toContain('actions: [\\"find\\", \\"changeStream\\"]');
    expect(init).toContain('collection: \\"rocketchat_message\\"');
  });
});
