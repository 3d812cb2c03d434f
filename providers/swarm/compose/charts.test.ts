/**
 * The company's charts (charts/*): each expands with its own defaults into resources that pass the
 * kinds' schemas, with images pinned by tag and secrets only from the secret source, and each is
 * also accepted by Docker's own stack loader (`docker stack config`), so it still deploys with
 * plain `docker stack deploy`.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { checkSpec } from '../../../reconciler/desired/validate-spec.ts';
import { type ExpandIO, isPlainObject, isSecretReference } from '../../sdk/index.ts';
import { configSchema } from '../kinds/config.ts';
import { networkSchema } from '../kinds/network.ts';
import { secretSchema } from '../kinds/secret.ts';
import { serviceSchema } from '../kinds/service-schema.ts';
import { type ChartProblem, expandChart, formatProblem } from './compose-stack.ts';

const root = resolve(import.meta.dirname, '../../..');
const io: ExpandIO = { root, readFile: (p) => readFileSync(resolve(root, p), 'utf8') };
const charts = readdirSync(resolve(root, 'charts'), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();
const schemas = Object.fromEntries([serviceSchema, networkSchema, secretSchema, configSchema].map((s) => [s.kind, s]));

describe('charts', () => {
  it('has the charts of the company system', () => {
    expect(charts).toEqual([
      'keelson',
      'keycloak',
      'mongo-listener',
      'mongodb',
      'netdata',
      'rocketchat',
      'seaweedfs',
      'sync-app',
      'traefik',
    ]);
  });

  describe.each(charts)('%s', (chart) => {
    const warnings: ChartProblem[] = [];
    const docs = expandChart({ stack: chart, chart, values: {} }, { ...io, warn: (p) => warnings.push(p) });

    it('expands without a warning (nothing docker stack deploy would refuse or read differently)', () => {
      expect(warnings.map(formatProblem)).toEqual([]);
    });

    it("is accepted by Docker's own stack loader with its default values", () => {
      const values = (parse(readFileSync(resolve(root, 'charts', chart, 'values.yaml'), 'utf8')) ?? {}) as Record<
        string,
        unknown
      >;
      const env = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, String(v)]));
      // `docker stack config` runs Docker's loader (schema, interpolation, conversion) without an engine.
      const out = execFileSync('docker', ['stack', 'config', '-c', 'docker-compose.yml'], {
        cwd: resolve(root, 'charts', chart),
        env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      expect(out).toContain('services:');
    });

    it('expands with its defaults into valid resources', () => {
      expect(docs.length).toBeGreaterThan(0);
      for (const d of docs) {
        const schema = schemas[d.kind];
        expect(schema, `${d.kind} is a Swarm kind`).toBeDefined();
        const problems = checkSpec(schema?.spec ?? {}, d.spec).problems.map((p) => `${d.kind}/${d.name}: ${p.message}`);
        expect(problems).toEqual([]);
      }
    });

    it('pins every image by tag', () => {
      for (const d of docs.filter((x) => x.kind === 'swarm.Service')) {
        const image = String(d.spec.image);
        expect(image, d.name).toMatch(/:[\w][\w.-]*$/);
        expect(image, d.name).not.toMatch(/:latest$/);
      }
    });

    it('takes every secret from the secret source', () => {
      for (const d of docs.filter((x) => x.kind === 'swarm.Secret'))
        expect(isSecretReference(d.spec.data), d.name).toBe(true);
    });

    it('gives every service rollback on a failed update', () => {
      for (const d of docs.filter((x) => x.kind === 'swarm.Service')) {
        const update = (isPlainObject(d.spec.deploy) ? d.spec.deploy.updateConfig : undefined) as
          | { failureAction?: string }
          | undefined;
        expect(update?.failureAction ?? 'rollback', d.name).toBe('rollback');
      }
    });
  });

  it('keelson upgrades itself start-first: a health check, a lease holder per task, its own service named', () => {
    const docs = expandChart({ stack: 'keelson', chart: 'keelson', values: {} }, io);
    const spec = docs.find((d) => d.name === 'keelson_keelson')?.spec as {
      deploy: { updateConfig: unknown; rollbackConfig: unknown; placement?: { maxReplicas?: number } };
      healthcheck: { test: string[] };
      env: Record<string, string>;
    };
    // start-first: the new task starts (as a standby) before the old one stops; a failure rolls back.
    expect(spec.deploy.updateConfig).toMatchObject({ order: 'start-first', failureAction: 'rollback' });
    expect(spec.deploy.rollbackConfig).toMatchObject({ order: 'start-first' });
    // A per-node limit of 1 would leave the start-first task pending forever.
    expect(spec.deploy.placement?.maxReplicas ?? 0).not.toBe(1);
    // Healthy only once /healthz answers (a standby answers it; /readyz it does not).
    expect(spec.healthcheck.test.join(' ')).toContain('/healthz');
    // Old and new task share a slot: the holder must name the task.
    expect(spec.env.KEELSON_LEASE_HOLDER).toContain('{{.Task.Name}}');
    expect(spec.env.KEELSON_SELF_SERVICE).toBe('{{.Service.Name}}');
  });

  it('netdata scrapes keelson /metrics with its Prometheus collector', () => {
    const docs = expandChart({ stack: 'netdata', chart: 'netdata', values: {} }, io);
    const jobs = String(docs.find((d) => d.name === 'netdata_prometheus_jobs')?.spec.data);
    expect(jobs).toContain('name: keelson');
    expect(jobs).toContain('url: http://keelson_keelson:8080/metrics');
    const netdata = docs.find((d) => d.name === 'netdata_netdata');
    expect(netdata?.spec.configs).toEqual([
      {
        source: { ref: 'swarm.Config/netdata_prometheus_jobs', output: 'name' },
        target: '/etc/netdata/go.d/prometheus.conf',
      },
    ]);
  });

  it('mongodb runs a three-member replica set with keyfile auth (modes read as octal, as Compose does)', () => {
    const docs = expandChart({ stack: 'mongodb', chart: 'mongodb', values: {} }, io);
    const members = docs.filter((d) => /^mongodb_mongo\d$/.test(d.name));
    expect(members.map((m) => m.name)).toEqual(['mongodb_mongo1', 'mongodb_mongo2', 'mongodb_mongo3']);
    for (const m of members) {
      expect(m.spec.args).toEqual(
        expect.arrayContaining(['--replSet', 'rs0', '--keyFile', '/run/secrets/mongo_keyfile']),
      );
      expect(m.spec.secrets).toContainEqual(
        expect.objectContaining({ target: 'mongo_keyfile', mode: 0o400, uid: '999' }),
      );
    }
  });
});
