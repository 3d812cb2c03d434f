/**
 * keelson's own stack (charts/keelson, as desired-state/swarm/stacks.yaml deploys it) can run the
 * company's desired state as it is: every secret-source entry the tree references (a `secretRef`
 * in a Swarm stack, a Worker's secrets, a Secret Manager version, ...) is mounted into keelson's
 * container at KEELSON_SECRETS_DIR/<entry>, and the providers find their credentials and accounts
 * (Hetzner and Cloudflare tokens, the Cloudflare account id, the Google project and key file).
 * The container is reproduced in a temporary folder: each Swarm secret the service mounts becomes
 * a file there, and the service's environment is read by the providers' own config readers.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCloudflareConfig } from '../providers/cloudflare/client/config.ts';
import { readGcpConfig } from '../providers/gcp/client/config.ts';
import { readHetznerConfig } from '../providers/hetzner/client/config.ts';
import type { DesiredResource } from '../providers/sdk/index.ts';
import { loadConfig } from '../reconciler/config/load-config.ts';
import { loadDesiredState } from '../reconciler/desired/load.ts';
import { envSecretSource, secretNames } from '../reconciler/engine/secrets.ts';
import { builtinModules } from '../reconciler/providers/builtin.ts';
import { ProviderRegistry } from '../reconciler/providers/registry.ts';

const root = join(import.meta.dirname, '..');
const loaded = loadDesiredState(join(root, 'desired-state'), new ProviderRegistry(builtinModules), { root });
const KEELSON = 'swarm.Service/keelson_keelson';

interface Mount {
  /** Path in the container. */
  readonly path: string;
  /** The secret-source entry the mounted Swarm secret is made from. */
  readonly entry: string | undefined;
}

/** The Swarm secrets keelson's service mounts: where, and made from which secret-source entry. */
function keelsonMounts(resources: readonly DesiredResource[]): Mount[] {
  const service = resources.find((r) => r.key === KEELSON);
  if (!service) throw new Error(`${KEELSON} is not in the desired state`);
  const secrets = (service.spec.secrets ?? []) as { source: { ref: string } | string; target?: string }[];
  return secrets.map((s) => {
    const ref = typeof s.source === 'string' ? `swarm.Secret/${s.source}` : s.source.ref;
    const data = resources.find((r) => r.key === ref)?.spec.data as { secretRef?: string } | undefined;
    const target = s.target ?? ref.slice('swarm.Secret/'.length);
    return { path: posix.resolve('/run/secrets', target), entry: data?.secretRef };
  });
}

/** Entries the desired state references that keelson's container would not find in its secrets directory. */
function unmounted(resources: readonly DesiredResource[]): string[] {
  const env = resources.find((r) => r.key === KEELSON)?.spec.env as Record<string, string>;
  const dir = env.KEELSON_SECRETS_DIR ?? '/run/secrets';
  const mounts = keelsonMounts(resources);
  return [...secretNames(resources)]
    .filter((name) => !mounts.some((m) => m.path === posix.join(dir, name) && m.entry === name))
    .sort();
}

describe("keelson's own stack runs the company's desired state as it is", () => {
  const service = loaded.resources.find((r) => r.key === KEELSON);
  const env = (service?.spec.env ?? {}) as Record<string, string>;
  const container = mkdtempSync(join(tmpdir(), 'keelson-chart-'));
  afterAll(() => rmSync(container, { recursive: true, force: true }));
  // The container's /run/secrets: one file per mounted Swarm secret, holding a stand-in for its entry's value.
  const mounts = keelsonMounts(loaded.resources);
  for (const m of mounts) {
    if (!m.path.startsWith('/run/secrets/')) continue;
    writeFileSync(join(container, m.path.slice('/run/secrets/'.length)), `value-of-${m.entry}\n`);
  }
  const seen = Object.fromEntries(
    Object.entries(env).map(([k, v]) => [k, v.replace(/^\/run\/secrets(?=\/|$)/, container)]),
  ) as Record<string, string>;

  it('the tree is valid and references secret-source entries', () => {
    expect(loaded.diagnostics).toEqual([]);
    expect(service).toBeDefined();
    expect(secretNames(loaded.resources).size).toBeGreaterThan(20);
  });

  it('mounts every secret-source entry the desired state references, at KEELSON_SECRETS_DIR/<entry>', () => {
    expect(env.KEELSON_SECRETS_DIR).toBe('/run/secrets');
    expect(unmounted(loaded.resources)).toEqual([]);
    // ... and keelson's secret source, reading the container's folder, finds each one.
    const source = envSecretSource({}, seen.KEELSON_SECRETS_DIR);
    for (const name of secretNames(loaded.resources))
      expect(source.get(name)?.reveal(), `secret-source entry ${name}`).toBe(`value-of-${name}`);
  });

  it('would fail for a secretRef added without its mount', () => {
    const added: DesiredResource = {
      ...(loaded.resources.find((r) => r.key === 'swarm.Secret/keycloak_db_password') as DesiredResource),
      key: 'swarm.Secret/keycloak_smtp_password',
      name: 'keycloak_smtp_password',
      spec: { data: { secretRef: 'keycloak-smtp-password' } },
    };
    expect(unmounted([...loaded.resources, added])).toEqual(['keycloak-smtp-password']);
    // A mount made from another entry does not count (and that entry is now referenced, unmounted).
    const wrong = loaded.resources.map((r) =>
      r.key === 'swarm.Secret/keelson_groq_api_key' ? { ...r, spec: { data: { secretRef: 'other' } } } : r,
    );
    expect(unmounted(wrong)).toEqual(['groq-api-key', 'other']);
  });

  it('configures every provider: Hetzner and Cloudflare tokens, the Cloudflare account id, Google project and key file', () => {
    const hetzner = readHetznerConfig(seen);
    expect(hetzner).not.toHaveProperty('unavailable');
    const cloudflare = readCloudflareConfig(seen);
    expect(cloudflare).not.toHaveProperty('unavailable');
    if ('unavailable' in cloudflare) return;
    expect(cloudflare.accountId).toMatch(/^[0-9a-f]{32}$/);
    expect(cloudflare.token).toBe('value-of-cloudflare-api-token');
    const gcp = readGcpConfig(seen);
    expect(gcp).not.toHaveProperty('unavailable');
    if ('unavailable' in gcp) return;
    // The project the rest of the tree names (the Workers' GCP_PROJECT, the services' GCP_PROJECT_ID).
    expect(gcp.projectId).toBe('company-prod');
    expect(gcp.credentials).toEqual({ type: 'keyFile', keyFile: join(container, 'keelson-gcp-key') });
    expect(gcp.endpoint).toBeUndefined();
    expect(env.DOCKER_HOST).toBe('unix:///var/run/docker.sock');
  });

  it("keelson's own configuration reads its credentials from the mounted files", () => {
    const result = loadConfig({ env: seen, cwd: container });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    expect(result.config.secretsDir).toBe(container);
    expect(result.config.webhook.secret?.reveal()).toBe('value-of-keelson-webhook-secret');
  });

  it('names secret-source entries in values, never values', () => {
    for (const m of mounts) expect(m.entry, m.path).toMatch(/^[a-z0-9-]+$/);
    for (const [k, v] of Object.entries(env))
      if (/SECRET|TOKEN|CREDENTIALS|KEY/.test(k) && k !== 'KEELSON_SECRETS_DIR')
        expect(v, k).toMatch(/^\/run\/secrets\/[a-z0-9-]+$/);
  });
});
