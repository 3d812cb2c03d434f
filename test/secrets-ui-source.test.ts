import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GcpSimulator, startGcpSimulator } from '../providers/gcp/simulator/index.ts';
import { loadConfig } from '../reconciler/config/load-config.ts';
import {
  googleClientOptions,
  googleSecretVersionReader,
  secretManagerSource,
} from '../reconciler/engine/secret-manager-source.ts';

const require = createRequire(import.meta.url);

/** keelson's Secret Manager secret source against the GCP simulator, through Google's own client. */
describe('the Secret Manager secret source', () => {
  let sim: GcpSimulator;
  let P: string;
  let admin: import('@google-cloud/secret-manager').SecretManagerServiceClient;
  const add = async (id: string, value: string) =>
    admin.addSecretVersion({ parent: `projects/${P}/secrets/${id}`, payload: { data: Buffer.from(value) } });

  beforeAll(async () => {
    sim = await startGcpSimulator({ runFunctions: false });
    P = sim.projectId;
    const { SecretManagerServiceClient } = require('@google-cloud/secret-manager');
    admin = new SecretManagerServiceClient(googleClientOptions(sim.env));
    for (const id of ['api-token', 'db-password'])
      await admin.createSecret({ parent: `projects/${P}`, secretId: id, secret: { replication: { automatic: {} } } });
    await add('api-token', 'token-one');
    await add('api-token', 'token-two');
    await add('db-password', 'pw-one');
  });
  afterAll(() => sim.close());

  it('reads latest by default and a pinned version when configured, and reports versions only after the pass completes', async () => {
    // Why: a pin must hold back a rotation for that name only; versions shown to the UI must be
    // the ones a completed pass applied, not one still running.
    const source = secretManagerSource({
      project: P,
      reader: googleSecretVersionReader(sim.env),
      versions: { 'db-password': '1' },
    });
    await source.prepare?.(new Set(['api-token', 'db-password']));
    expect(source.get('api-token')?.reveal()).toBe('token-two');
    expect(source.get('db-password')?.reveal()).toBe('pw-one');
    expect(source.versions?.()).toEqual({});
    source.completed?.();
    expect(source.versions?.()).toEqual({ 'api-token': '2', 'db-password': '1' });
    await add('api-token', 'token-three');
    await source.prepare?.(new Set(['api-token']));
    expect(source.get('api-token')?.reveal()).toBe('token-three');
    expect(source.versions?.()).toEqual({ 'api-token': '2', 'db-password': '1' });
  });

  it('a missing secret or a name Secret Manager cannot hold is missing, with the reason and without a value', async () => {
    const source = secretManagerSource({ project: P, reader: googleSecretVersionReader(sim.env) });
    await source.prepare?.(new Set(['nope', 'has.dot']));
    expect(source.get('nope')).toBeUndefined();
    expect(source.describe('nope')).toMatch(
      new RegExp(`projects/${P}/secrets/nope/versions/latest \\(.*not found`, 'i'),
    );
    expect(source.describe('has.dot')).toContain('only letters, digits');
  });

  it('the daemon configuration chooses the source per installation and checks pins', () => {
    const base = { KEELSON_SOURCE_DIRECTORY: '/x' };
    const dflt = loadConfig({ env: base, cwd: '/' });
    expect(dflt.ok && dflt.config.secrets).toEqual({ source: 'dir' });
    const sm = loadConfig({
      env: {
        ...base,
        KEELSON_SECRET_SOURCE: 'secret-manager',
        KEELSON_SECRET_MANAGER_PROJECT: 'company-prod',
        KEELSON_SECRET_MANAGER_VERSIONS: 'api-token=3,db-password=latest',
      },
      cwd: '/',
    });
    expect(sm.ok && sm.config.secrets).toEqual({
      source: 'secret-manager',
      project: 'company-prod',
      versions: { 'api-token': '3', 'db-password': 'latest' },
    });
    const bad = loadConfig({
      env: { ...base, KEELSON_SECRET_SOURCE: 'secret-manager', KEELSON_SECRET_MANAGER_VERSIONS: 'api-token:3' },
      cwd: '/',
    });
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.problems.map((p) => p.key).sort()).toEqual(['secrets.project', 'secrets.versions']);
  });
});
