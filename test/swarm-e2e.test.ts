/**
 * The Swarm provider through the engine (`runPass`, mode apply) on the real local Swarm: a stack
 * from a chart with networks, a secret and a config; a second pass that writes nothing; replicas
 * and env changed; a secret rotated in one pass; a service pruned and a protected one kept; a
 * malformed tree reported with file:line and nothing applied (through the CLI).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../providers/sdk/testing.ts';
import { createSwarmProvider, swarmModule } from '../providers/swarm/index.ts';
import { CHECKOUT_TAG, sweep, testClient, testDockerHost } from '../providers/swarm/test-support.ts';
import { loadDesiredState } from '../reconciler/desired/load.ts';
import { type PassResult, runPass } from '../reconciler/engine/pass.ts';
import { envSecretSource } from '../reconciler/engine/secrets.ts';
import { ProviderRegistry } from '../reconciler/providers/registry.ts';
import { FileStateStore } from '../reconciler/state/file-store.ts';

const STACK = `k${CHECKOUT_TAG}e2e`;
const OWNER = `keelson-swarm-e2e-${CHECKOUT_TAG}`;
const repo = resolve(import.meta.dirname, '..');
const fixtures = join(repo, 'test/fixtures');

const stack = (values: Record<string, unknown> = {}) =>
  `kind: swarm.Stack\nname: ${STACK}\nspec:\n  chart: busybox-app\n  values: ${JSON.stringify(values)}\n`;
const loose = (name: string, extra = '') => `---
kind: swarm.Service
name: ${name}
${extra}spec:
  image: keelson-test/busybox:1
  args: [sleep, '3600']
  init: true
  stopGracePeriod: 1s
  deploy:
    restartPolicy: { delay: 1s }
    updateConfig: { monitor: 1s }
`;

describe('the Swarm provider through runPass', { timeout: 180_000 }, () => {
  const host = testDockerHost();
  const client = testClient();
  const provider = createSwarmProvider({ dockerHost: host, taskStartMs: 30_000 });
  const registry = new ProviderRegistry([swarmModule], [provider]);
  const dir = mkdtempSync(join(tmpdir(), 'keelson-swarm-e2e-'));
  const store = new FileStateStore(join(dir, 'state.json'));
  let revision = 0;
  let secret = 'first-password';

  async function pass(files: Record<string, string>): Promise<PassResult> {
    const root = join(dir, `rev-${++revision}`);
    mkdirSync(root, { recursive: true });
    for (const [name, text] of Object.entries(files)) writeFileSync(join(root, name), text);
    const loaded = loadDesiredState(root, registry, { root: fixtures });
    expect(loaded.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    return runPass({
      resources: loaded.resources,
      revision: `r${revision}`,
      registry,
      store,
      owner: OWNER,
      mode: 'apply',
      secrets: envSecretSource({ KEELSON_SECRET_DB_PASSWORD: secret }),
      log: silentLogger,
    });
  }

  const actions = (r: PassResult) =>
    Object.fromEntries(r.plan.changes.filter((c) => c.action !== 'no-op').map((c) => [c.key, c.action]));
  const tasks = async (service: string) => {
    const all = await client.listTasks({ service: [service], 'desired-state': ['running'] });
    return all.filter((t) => t.Status.State === 'running');
  };
  const env = (t: { Spec: Record<string, unknown> }) => (t.Spec.ContainerSpec as { Env?: string[] }).Env ?? [];
  const secretsOf = (t: { Spec: { ContainerSpec?: { Secrets?: readonly { SecretName: string }[] } } }) =>
    (t.Spec.ContainerSpec?.Secrets ?? []).map((s) => s.SecretName);

  const desired = () => ({
    'stack.yaml': stack(),
    'loose.yaml': loose(`${STACK}-extra`) + loose(`${STACK}-keep`, 'protect: true\n'),
  });

  beforeAll(() => sweep(client, STACK));
  afterAll(async () => {
    await sweep(client, STACK);
    rmSync(dir, { recursive: true, force: true });
  });

  it('deploys a stack of several services with a network, a secret and a config from scratch', async () => {
    const first = await pass(desired());
    expect(first.errors).toEqual([]);
    expect(actions(first)).toEqual({
      [`swarm.Network/${STACK}_backend`]: 'create',
      [`swarm.Secret/${STACK}_db_password`]: 'create',
      [`swarm.Config/${STACK}_app_conf`]: 'create',
      [`swarm.Service/${STACK}_web`]: 'create',
      [`swarm.Service/${STACK}_worker`]: 'create',
      [`swarm.Service/${STACK}-extra`]: 'create',
      [`swarm.Service/${STACK}-keep`]: 'create',
    });
    // Networks, secrets and configs come before the services that use them.
    const wave = (key: string) => first.plan.changes.find((c) => c.key === key)?.wave ?? -1;
    expect(wave(`swarm.Service/${STACK}_web`)).toBeGreaterThan(wave(`swarm.Secret/${STACK}_db_password`));
    const [web] = await tasks(`${STACK}_web`);
    expect(env(web as never)).toEqual(['GREETING=hello', 'LOG_LEVEL=info']);
    expect(secretsOf(web as never)).toEqual([expect.stringMatching(new RegExp(`^${STACK}_db_password-[0-9a-f]{12}$`))]);
    expect(await tasks(`${STACK}_worker`)).toHaveLength(1);
  });

  it('plans no change and makes zero write calls on a second pass', async () => {
    const writes = provider.client.writeCount();
    const second = await pass(desired());
    expect(second.errors).toEqual([]);
    expect(actions(second)).toEqual({});
    expect(second.outcome).toBe('no-op');
    expect(provider.client.writeCount() - writes).toBe(0);
  });

  it('changes replicas and env in place, then converges', async () => {
    const files = { ...desired(), 'stack.yaml': stack({ WEB_REPLICAS: 2, LOG_LEVEL: 'debug' }) };
    const changed = await pass(files);
    expect(changed.errors).toEqual([]);
    expect(actions(changed)).toEqual({ [`swarm.Service/${STACK}_web`]: 'update' });
    const fields = changed.plan.changes.find((c) => c.key === `swarm.Service/${STACK}_web`)?.fields ?? [];
    expect(fields.map((f) => [f.path, f.before, f.after])).toEqual([
      ['env.LOG_LEVEL', 'info', 'debug'],
      ['deploy.replicas', 1, 2],
    ]);
    const running = await tasks(`${STACK}_web`);
    expect(running.map((t) => env(t))).toEqual([
      ['GREETING=hello', 'LOG_LEVEL=debug'],
      ['GREETING=hello', 'LOG_LEVEL=debug'],
    ]);
    const writes = provider.client.writeCount();
    expect((await pass(files)).outcome).toBe('no-op');
    expect(provider.client.writeCount() - writes).toBe(0);
    await pass(desired());
  });

  it('rotates a secret: a new version, and both services that use it move to it in the same pass', async () => {
    const [before] = await tasks(`${STACK}_worker`);
    const oldVersion = secretsOf(before as never)[0];
    secret = 'second-password';
    const rotated = await pass(desired());
    expect(rotated.errors).toEqual([]);
    expect(actions(rotated)).toEqual({
      [`swarm.Secret/${STACK}_db_password`]: 'update',
      [`swarm.Service/${STACK}_web`]: 'update',
      [`swarm.Service/${STACK}_worker`]: 'update',
    });
    const secretChange = rotated.plan.changes.find((c) => c.key === `swarm.Secret/${STACK}_db_password`);
    expect(secretChange?.fields.map((f) => [f.path, f.sensitive])).toEqual([['data', true]]);
    const [web] = await tasks(`${STACK}_web`);
    const [worker] = await tasks(`${STACK}_worker`);
    const newVersion = secretsOf(worker as never)[0];
    expect(newVersion).not.toBe(oldVersion);
    expect(secretsOf(web as never)).toEqual([newVersion]);
    // The old version is kept for rollback (the last three are kept).
    const versions = (await client.objects('secrets').list({ name: [`${STACK}_db_password-`] })).map(
      (s) => s.Spec.Name,
    );
    expect(versions.sort()).toEqual([oldVersion, newVersion].sort());
    expect((await pass(desired())).outcome).toBe('no-op');
  });

  it('prunes a service that left Git, and keeps a protected one (reported)', async () => {
    const pruned = await pass({ 'stack.yaml': stack() });
    expect(pruned.errors).toEqual([]);
    expect(actions(pruned)).toEqual({
      [`swarm.Service/${STACK}-extra`]: 'delete',
      [`swarm.Service/${STACK}-keep`]: 'skip',
    });
    const kept = pruned.plan.changes.find((c) => c.key === `swarm.Service/${STACK}-keep`);
    expect(kept).toMatchObject({ reason: 'protected', detail: expect.stringContaining('protected: kept') });
    const names = (await client.listServices({ name: [STACK] })).map((s) => s.Spec.Name).sort();
    expect(names).toEqual([`${STACK}-keep`, `${STACK}_web`, `${STACK}_worker`]);
  });

  it('reports every problem of a malformed tree with file:line, exits 1, and applies nothing', async () => {
    const bad = join(dir, 'malformed');
    mkdirSync(bad, { recursive: true });
    writeFileSync(join(bad, 'syntax.yaml'), 'kind: swarm.Service\nname: broken\nspec: [unclosed\n');
    writeFileSync(
      join(bad, 'fields.yaml'),
      `kind: swarm.Service\nname: ${STACK}_web\nspec:\n  image: keelson-test/busybox:1\n  replicas: 3\n  deploy:\n    replicas: lots\n`,
    );
    writeFileSync(join(bad, 'stack.yaml'), `kind: swarm.Stack\nname: ${STACK}b\nspec:\n  chart: broken\n`);
    const before = await client.listServices({ name: [STACK] });
    const cli = spawnSync(
      process.execPath,
      [
        'bin/keelson.js',
        'apply',
        bad,
        '--auto-approve',
        '--owner',
        OWNER,
        '--root',
        fixtures,
        '--state',
        join(dir, 'cli-state.json'),
        '--no-color',
      ],
      { cwd: repo, env: { ...process.env, DOCKER_HOST: host }, encoding: 'utf8', timeout: 60_000 },
    );
    const out = `${cli.stdout}${cli.stderr}`;
    expect(cli.status).toBe(1);
    expect(out).toMatch(/syntax\.yaml:\d+:\d+: error\[yaml-syntax\]/);
    expect(out).toMatch(/fields\.yaml:5:\d+: error\[unknown-field\]/);
    expect(out).toMatch(/fields\.yaml:7:\d+: error\[wrong-type\]/);
    // A chart problem points into the chart, and names the stack document that uses it.
    expect(out).toMatch(
      /charts\/broken\/docker-compose\.yml:8:7: error\[chart-error\] swarm\.Stack "[^"]+" \(stack\.yaml:1\): expected a whole number, got "many"/,
    );
    expect(out).toContain('nothing was applied');
    // Nothing was applied: the same services at the same versions.
    const after = await client.listServices({ name: [STACK] });
    expect(after.map((s) => [s.Spec.Name, s.Version.Index]).sort()).toEqual(
      before.map((s) => [s.Spec.Name, s.Version.Index]).sort(),
    );
    expect(
      execFileSync('docker', ['service', 'ls', '--filter', `name=${STACK}b_`, '-q'], {
        env: { ...process.env, DOCKER_HOST: host },
      }).toString(),
    ).toBe('');
  });
});
