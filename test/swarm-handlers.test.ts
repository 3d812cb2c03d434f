/**
 * Swarm handler behaviour on the real engine, beyond the shared contract: secret rotation and
 * garbage collection, where ownership labels go, an unowned service refused, a failing update
 * rolled back and reported, and the normaliser on a spec full of defaulted fields.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY_LABEL, KeelsonError, type ObservedResource, OWNER_LABEL, SecretValue } from '../providers/sdk/index.ts';
import { diffResource, resolvedResource, testContext } from '../providers/sdk/testing.ts';
import { ConfigHandler, configSchema } from '../providers/swarm/kinds/config.ts';
import { NetworkHandler, networkSchema } from '../providers/swarm/kinds/network.ts';
import { SecretHandler, secretSchema } from '../providers/swarm/kinds/secret.ts';
import { ServiceHandler } from '../providers/swarm/kinds/service.ts';
import { serviceSchema } from '../providers/swarm/kinds/service-schema.ts';
import {
  CHECKOUT_TAG,
  sleeperSpec,
  sweep,
  TEST_IMAGE,
  TEST_IMAGE_V2,
  testClient,
} from '../providers/swarm/test-support.ts';

const PREFIX = `k${CHECKOUT_TAG}ht-`;
const client = testClient();
const ctx = testContext({ owner: `keelson-handlers-test-${CHECKOUT_TAG}` });
const services = new ServiceHandler(client, { taskStartMs: 30_000, pollMs: 250 });
const networks = new NetworkHandler(client);
const configs = new ConfigHandler(client);

beforeAll(() => sweep(client, PREFIX));
afterAll(() => sweep(client, PREFIX));

async function observeService(name: string, spec: Record<string, unknown>): Promise<ObservedResource | undefined> {
  const found = await services.observe(ctx, {
    kind: serviceSchema.kind,
    names: [name],
    desired: [resolvedResource(serviceSchema, name, spec)],
  });
  return found.find((o) => o.name === name);
}

async function deploy(name: string, spec: Record<string, unknown>): Promise<ObservedResource> {
  const desired = resolvedResource(serviceSchema, name, spec);
  const before = await observeService(name, spec);
  const applied = before
    ? await services.update(ctx, desired, before, diffResource(serviceSchema, services, desired, before))
    : await services.create(ctx, desired);
  await services.settle(ctx, applied);
  return (await observeService(name, spec)) as ObservedResource;
}

function secretNamesOf(t: { Spec: { ContainerSpec?: { Secrets?: readonly { SecretName: string }[] } } }): string[] {
  return (t.Spec.ContainerSpec?.Secrets ?? []).map((s) => s.SecretName);
}

async function runningTasks(serviceId: string) {
  const tasks = await client.listTasks({ service: [serviceId], 'desired-state': ['running'] });
  return tasks.filter((t) => t.Status.State === 'running');
}

describe('secret rotation', { timeout: 120_000 }, () => {
  const secrets = new SecretHandler(client, { keepVersions: 1 });
  const name = `${PREFIX}db-password`;
  const secretNames = async () =>
    (await client.objects('secrets').list({ name: [`${name}-`] })).map((s) => s.Spec.Name).sort();

  it('creates a new version, moves the service to it, and removes the old one only once no task uses it', async () => {
    const v1 = await secrets.create(ctx, resolvedResource(secretSchema, name, { data: new SecretValue('one', 'db') }));
    const v1Name = String(v1.outputs.name);
    expect(v1Name).toMatch(new RegExp(`^${name}-[0-9a-f]{12}$`));
    const svcSpec = (source: string) => sleeperSpec({ secrets: [{ source, target: 'db_password' }] });
    const svc = await deploy(`${PREFIX}app`, svcSpec(v1Name));

    // Rotate: the observed secret differs by digest, and its name output already says the new version.
    const desired2 = resolvedResource(secretSchema, name, { data: new SecretValue('two', 'db') });
    const before = (await secrets.observe(ctx, { kind: secretSchema.kind, names: [name], desired: [desired2] })).find(
      (o) => o.name === name,
    );
    const changes = diffResource(secretSchema, secrets, desired2, before as ObservedResource);
    expect(changes.map((c) => [c.path, c.sensitive, c.forcesReplacement])).toEqual([['data', true, false]]);
    const v2 = await secrets.update(ctx, desired2, before as ObservedResource, changes);
    const v2Name = String(v2.outputs.name);
    expect(v2Name).not.toBe(v1Name);
    expect(v2.outputs.current).toBe(v2Name);
    expect(await secretNames()).toEqual([v1Name, v2Name].sort());

    // The service still uses v1: garbage collection must keep it.
    await secrets.collectGarbage(ctx);
    expect(await secretNames()).toEqual([v1Name, v2Name].sort());

    // The service plans a move to v2, is updated, and its running task uses v2.
    const observed = (await observeService(`${PREFIX}app`, svcSpec(v2Name))) as ObservedResource;
    const svcChanges = diffResource(
      serviceSchema,
      services,
      resolvedResource(serviceSchema, `${PREFIX}app`, svcSpec(v2Name)),
      observed,
    );
    expect(svcChanges.map((c) => c.path)).toEqual(['secrets']);
    await deploy(`${PREFIX}app`, svcSpec(v2Name));
    const tasks = await runningTasks(svc.id);
    expect(tasks.map((t) => t.Spec.ContainerSpec?.Secrets?.map((s) => s.SecretName))).toEqual([[v2Name]]);

    // Now nothing uses v1, and only one version is kept.
    await secrets.collectGarbage(ctx);
    expect(await secretNames()).toEqual([v2Name]);
  });

  it('rotating back to an older value that still exists makes that version current again', async () => {
    const keep3 = new SecretHandler(client, { keepVersions: 3 });
    const other = `${PREFIX}token`;
    const a = resolvedResource(secretSchema, other, { data: new SecretValue('a', 't') });
    const b = resolvedResource(secretSchema, other, { data: new SecretValue('b', 't') });
    const va = await keep3.create(ctx, a);
    const vb = await keep3.update(ctx, b, va, []);
    expect(vb.outputs.current).not.toBe(va.outputs.current);
    const observeToken = async () =>
      (await keep3.observe(ctx, { kind: secretSchema.kind, names: [other], desired: [a] })).find(
        (o) => o.name === other,
      );
    const seen = await observeToken();
    expect(diffResource(secretSchema, keep3, a, seen as ObservedResource).map((c) => c.path)).toEqual(['data']);
    const back = await keep3.update(ctx, a, seen as ObservedResource, []);
    expect(back.outputs.current).toBe(va.outputs.current);
    const again = await observeToken();
    expect(diffResource(secretSchema, keep3, a, again as ObservedResource)).toEqual([]);
  });
});

describe('a service naming a keelson secret by its plain name', { timeout: 120_000 }, () => {
  it('uses the current version, shows converged, and after a rotation plans the move', async () => {
    const secrets = new SecretHandler(client);
    const name = `${PREFIX}api-key`;
    const v1 = await secrets.create(ctx, resolvedResource(secretSchema, name, { data: new SecretValue('k1', 'api') }));
    const spec = sleeperSpec({ secrets: [{ source: name, target: 'api_key' }] });
    const svc = await deploy(`${PREFIX}plain`, spec);
    expect(diffResource(serviceSchema, services, resolvedResource(serviceSchema, `${PREFIX}plain`, spec), svc)).toEqual(
      [],
    );
    expect((await runningTasks(svc.id)).map(secretNamesOf)).toEqual([[v1.outputs.current]]);

    const v2 = await secrets.update(
      ctx,
      resolvedResource(secretSchema, name, { data: new SecretValue('k2', 'api') }),
      v1,
      [],
    );
    const stale = (await observeService(`${PREFIX}plain`, spec)) as ObservedResource;
    const changes = diffResource(
      serviceSchema,
      services,
      resolvedResource(serviceSchema, `${PREFIX}plain`, spec),
      stale,
    );
    expect(changes.map((c) => c.path)).toEqual(['secrets']);
    await deploy(`${PREFIX}plain`, spec);
    expect((await runningTasks(svc.id)).map(secretNamesOf)).toEqual([[v2.outputs.current]]);
  });
});

describe('ownership and conflicts', { timeout: 90_000 }, () => {
  it('puts ownership labels on ServiceSpec.Labels only, so a labels-only change restarts no task', async () => {
    const name = `${PREFIX}labels`;
    const svc = await deploy(name, sleeperSpec({ labels: { team: 'ops' }, containerLabels: { app: 'x' } }));
    const live = await client.inspectService(svc.id);
    expect(live?.Spec.Labels).toMatchObject({
      [OWNER_LABEL]: ctx.owner,
      [KEY_LABEL]: `swarm.Service/${name}`,
      team: 'ops',
    });
    const containerLabels =
      (live?.Spec.TaskTemplate?.ContainerSpec as { Labels?: Record<string, string> } | undefined)?.Labels ?? {};
    expect(Object.keys(containerLabels).filter((k) => k.startsWith('keelson.io/'))).toEqual([]);
    expect(svc.spec.labels).toEqual({ team: 'ops' });

    const [task] = await runningTasks(svc.id);
    await deploy(name, sleeperSpec({ labels: { team: 'platform' }, containerLabels: { app: 'x' } }));
    const after = await client.inspectService(svc.id);
    expect(after?.Spec.Labels?.team).toBe('platform');
    expect(after?.UpdateStatus ?? undefined).toBeUndefined();
    expect((await runningTasks(svc.id)).map((t) => t.ID)).toEqual([task?.ID]);
  });

  it('reports a service of the same name that keelson does not own as unowned, and refuses to create over it', async () => {
    const name = `${PREFIX}theirs`;
    await client.createService({
      Name: name,
      Labels: { team: 'someone-else' },
      TaskTemplate: { ContainerSpec: { Image: TEST_IMAGE, Args: ['sleep', '3600'] } },
    });
    const seen = await observeService(name, sleeperSpec());
    expect(seen?.owned).toBe(false);
    const refused = await services
      .create(ctx, resolvedResource(serviceSchema, name, sleeperSpec()))
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(KeelsonError);
    expect(refused).toMatchObject({ code: 'CONFLICT_UNOWNED', class: 'terminal' });
    expect((refused as Error).message).toContain(
      `cannot create service ${name}: a service of that name already exists`,
    );
    // Owned by nobody means untouched: its labels are as they were.
    const live = (await client.listServices({ name: [name] })).find((s) => s.Spec.Name === name);
    expect(live?.Spec.Labels).toEqual({ team: 'someone-else' });
  });
});

describe('a failing update', { timeout: 120_000 }, () => {
  it('is rolled back by Swarm and reported as a failed apply naming the task error', async () => {
    const name = `${PREFIX}rollback`;
    const good = sleeperSpec();
    const svc = await deploy(name, good);
    const bad = sleeperSpec({ image: TEST_IMAGE_V2, args: ['sh', '-c', 'exit 1'] });
    const desired = resolvedResource(serviceSchema, name, bad);
    const before = (await observeService(name, bad)) as ObservedResource;
    const applied = await services.update(ctx, desired, before, diffResource(serviceSchema, services, desired, before));
    const failure = await services.settle(ctx, applied).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(KeelsonError);
    expect(failure).toMatchObject({ code: 'ROLLBACK', class: 'terminal' });
    expect((failure as Error).message).toMatch(
      new RegExp(`rolled it back: task ${PREFIX}rollback\\.1 exited with code 1`),
    );
    // The service runs v1 again.
    const live = await client.inspectService(svc.id);
    expect(live?.UpdateStatus?.State).toBe('rollback_completed');
    expect((live?.Spec.TaskTemplate?.ContainerSpec as { Image: string } | undefined)?.Image).toBe(TEST_IMAGE);
    const after = (await observeService(name, good)) as ObservedResource;
    expect(diffResource(serviceSchema, services, resolvedResource(serviceSchema, name, good), after)).toEqual([]);
    // The spec Swarm undid is read back from the failed task (PreviousSpec is gone after a
    // rollback): the same as the desired one, so the planner does not send it again.
    const held = (await observeService(name, bad)) as ObservedResource;
    expect(held.rolledBack?.message).toMatch(
      new RegExp(`Swarm rolled the update back: task ${PREFIX}rollback\\.1 exited with code 1`),
    );
    const undone = { ...held, spec: held.rolledBack?.spec ?? {} };
    expect(diffResource(serviceSchema, services, desired, undone)).toEqual([]);
    expect(diffResource(serviceSchema, services, desired, held)).not.toEqual([]);
  });
});

describe('a failing update with failureAction pause', { timeout: 120_000 }, () => {
  it('is reported as a paused update naming the task error', async () => {
    const name = `${PREFIX}pause`;
    const pausing = (extra: Record<string, unknown> = {}) =>
      sleeperSpec({ ...extra, deploy: { updateConfig: { monitor: '2s', failureAction: 'pause' } } });
    await deploy(name, pausing());
    const bad = pausing({ args: ['sh', '-c', 'exit 3'] });
    const desired = resolvedResource(serviceSchema, name, bad);
    const before = (await observeService(name, bad)) as ObservedResource;
    const applied = await services.update(ctx, desired, before, diffResource(serviceSchema, services, desired, before));
    const failure = await services.settle(ctx, applied).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failure).toMatchObject({ code: 'UPDATE_PAUSED', class: 'terminal' });
    expect((failure as Error).message).toMatch(
      new RegExp(`was paused by Swarm: task ${PREFIX}pause\\.1 exited with code 3`),
    );
  });
});

describe('the service normaliser', { timeout: 90_000 }, () => {
  it('observes a service created from a spec full of defaulted fields as converged', async () => {
    const net = await networks.create(ctx, resolvedResource(networkSchema, `${PREFIX}norm-net`, { attachable: true }));
    const cfg = await configs.create(ctx, resolvedResource(configSchema, `${PREFIX}norm-cfg`, { data: 'a=1\n' }));
    const name = `${PREFIX}norm`;
    const spec = sleeperSpec({
      command: ['/bin/sh', '-c'],
      args: ['exec sleep 3600'],
      env: { B: '2', A: '1' },
      workdir: '/tmp',
      hostname: 'norm-host',
      stopGracePeriod: '1500ms',
      containerLabels: { tier: 'test' },
      mounts: [{ type: 'tmpfs', target: '/cache' }],
      networks: [{ name: net.name, aliases: ['normy'] }],
      configs: [{ source: String(cfg.outputs.name), target: '/etc/norm.conf', mode: 0o440 }],
      ports: [{ target: 8080, published: 18080, mode: 'host' }],
      healthcheck: { test: ['CMD', 'true'], interval: '1s', retries: 2 },
      deploy: {
        replicas: 1,
        placement: { constraints: ['node.role == manager'], preferences: ['node.labels.zone'] },
        resources: { limits: { cpus: 0.5, memory: '64M' }, reservations: { memory: '16m' } },
        restartPolicy: { condition: 'on-failure', delay: '1s', maxAttempts: 3, window: '1m' },
        updateConfig: { parallelism: 2, monitor: '2s', order: 'start-first' },
        rollbackConfig: { monitor: '2s' },
      },
    });
    const observed = await deploy(name, spec);
    expect(diffResource(serviceSchema, services, resolvedResource(serviceSchema, name, spec), observed)).toEqual([]);
    expect(observed.spec).toMatchObject({
      stopGracePeriod: '1.5s',
      deploy: { resources: { reservations: { memory: '16M' } }, placement: { constraints: ['node.role==manager'] } },
    });
  });

  it("maps Swarm's own defaults back to the user's shape (a bare docker service create)", async () => {
    const name = `${PREFIX}bare`;
    const id = await client.createService({
      Name: name,
      Labels: { [OWNER_LABEL]: ctx.owner, [KEY_LABEL]: `swarm.Service/${name}` },
      TaskTemplate: { ContainerSpec: { Image: TEST_IMAGE, Args: ['sleep', '3600'] } },
    });
    const spec = { image: TEST_IMAGE, args: ['sleep', '3600'] };
    const observed = (await observeService(name, spec)) as ObservedResource;
    expect(observed.id).toBe(id);
    // Only keelson's own default differs: updates roll back on failure, where Swarm pauses.
    const changes = diffResource(serviceSchema, services, resolvedResource(serviceSchema, name, spec), observed);
    expect(changes.map((c) => [c.path, c.before, c.after])).toEqual([
      ['deploy.updateConfig.failureAction', 'pause', 'rollback'],
    ]);
  });
});
