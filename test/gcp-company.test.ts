import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConfig } from '../functions/backup/src/config.ts';
import type { GcpProvider } from '../providers/gcp/index.ts';
import { type GcpSimulator, startGcpSimulator } from '../providers/gcp/simulator/index.ts';
import { REPO_ROOT } from '../providers/gcp/testing.ts';
import type { PassResult } from '../reconciler/engine/pass.ts';
import { EngineRig } from './support/engine-rig.ts';

// The company's Google Cloud desired state (desired-state/gcp) applied by the real engine through
// runPass against the simulator, through Google's own clients in REST mode. Tests run in order: each
// builds on the state the previous one left.
let sim: GcpSimulator;
let rig: EngineRig;
/** A copy of the repository's functions/, so a test can change a function's source. */
let root: string;

const PROJECT = 'company-prod';
const gcpActions = (r: PassResult) =>
  Object.fromEntries(r.plan.changes.filter((c) => c.key.startsWith('gcp.')).map((c) => [c.key, c.action]));
const gcp = () => rig.registry.provider('gcp') as GcpProvider;
const writesDuring = async (run: () => Promise<PassResult>) => {
  const before = sim.requests.length;
  const result = await run();
  const calls = sim.requests.slice(before);
  // Resource Manager reads a project's IAM policy with `POST …:getIamPolicy`: a read, not a write.
  return { result, calls, writes: calls.filter((c) => c.method !== 'GET' && !c.path.includes(':getIamPolicy')) };
};

/**
 * Passes until one is a no-op, finishing the simulator's long-running operations in between (a
 * function deploys for a while; what references its URL waits for a later pass). Only waiting
 * errors are allowed on the way.
 */
async function converge(maxPasses = 6): Promise<PassResult[]> {
  const results: PassResult[] = [];
  for (let i = 0; i < maxPasses; i++) {
    const result = await rig.pass();
    results.push(result);
    // Waiting errors (an API still being enabled, a function still deploying) resolve in a later pass.
    const hard = result.errors.filter(
      (e) =>
        e.severity === 'error' && e.class !== 'waiting' && e.code !== 'NOT_READY' && e.code !== 'DEPENDENCY_FAILED',
    );
    expect(hard, `pass ${i + 1}`).toEqual([]);
    if (result.outcome === 'no-op') return results;
    await sim.settleOperations();
  }
  throw new Error(`no no-op pass after ${maxPasses} passes`);
}

beforeAll(async () => {
  // A fresh project: no API enabled, no (default) database. The tree enables what it uses.
  sim = await startGcpSimulator({
    projectId: PROJECT,
    runFunctions: false,
    firestoreDefaultDatabase: false,
    requireEnabledApis: true,
  });
  root = mkdtempSync(join(tmpdir(), 'keelson-gcp-root-'));
  cpSync(join(REPO_ROOT, 'functions'), join(root, 'functions'), { recursive: true });
  rig = new EngineRig({ env: sim.env, root }).copyDesired('gcp').fillSecrets();
});
afterAll(async () => {
  await rig?.registry.provider('gcp')?.close?.();
  await sim?.close();
});

describe("the company's Google Cloud project, through runPass", { timeout: 120_000 }, () => {
  it('is created from scratch and converges', async () => {
    const results = await converge();
    expect(results.length).toBeGreaterThanOrEqual(2);
    const last = results.at(-1) as PassResult;
    expect(last.plan.changes.filter((c) => c.key.startsWith('gcp.')).every((c) => c.action === 'no-op')).toBe(true);
    console.log(`gcp company tree from scratch: ${results.length} passes, ${sim.requests.length} API requests`);
  });

  it('the backup function is deployed with the configuration its README documents, invokable by anyone', () => {
    const fn = sim.state.data.functions[`projects/${PROJECT}/locations/europe-west3/functions/backup`] as {
      serviceConfig: {
        environmentVariables: Record<string, string>;
        secretEnvironmentVariables: { key: string; secret: string }[];
      };
    };
    const env = fn.serviceConfig.environmentVariables;
    const secrets = fn.serviceConfig.secretEnvironmentVariables.map((s) => s.key).sort();
    expect(secrets).toEqual([
      'BACKUP_R2_ACCESS_KEY_ID',
      'BACKUP_R2_SECRET_ACCESS_KEY',
      'BACKUP_RESTIC_PASSWORD',
      'BACKUP_ROCKETCHAT_WEBHOOK_URL',
      'HCLOUD_TOKEN',
    ]);
    // The function's own configuration reader accepts what is deployed (secrets stand in as placeholders).
    const config = readConfig({ ...env, ...Object.fromEntries(secrets.map((k) => [k, `https://placeholder/${k}`])) });
    expect(config.firestore).toMatchObject({ projectId: PROJECT, collection: 'backup-runs' });
    expect(config.hetzner).toMatchObject({ network: 'swarm', imageSelector: 'role=backup-server' });
    expect(env.BACKUP_SCHEDULER_SERVICE_ACCOUNT).toBe(`scheduler-invoker@${PROJECT}.iam.gserviceaccount.com`);
    expect(env.SEAWEEDFS_FILER).toBe('10.0.1.11:8888');
    // The backup server has no Google identity: the platform lets anyone in, the function checks each request.
    const policy = sim.state.data.policies[`projects/${PROJECT}/locations/europe-west3/services/backup`] as {
      bindings: { role: string; members: string[] }[];
    };
    expect(policy.bindings).toEqual([{ role: 'roles/run.invoker', members: ['allUsers'] }]);
  });

  it('a second pass is a no-op that writes nothing', async () => {
    const { result, calls, writes } = await writesDuring(() => rig.pass());
    expect(result.errors).toEqual([]);
    expect(result.outcome).toBe('no-op');
    expect(writes).toEqual([]);
    // Lists and policy reads only: never one call per listed resource.
    console.log(`gcp no-op pass: ${calls.length} API requests (${[...new Set(calls.map((c) => c.api))].join(', ')})`);
  });

  it('a changed function source is uploaded and redeployed once; the other functions are left alone', async () => {
    const file = join(root, 'functions/backup/index.ts');
    writeFileSync(file, `${readFileSync(file, 'utf8')}\n// changed by the test\n`);
    const { result, writes } = await writesDuring(() => rig.pass());
    expect(result.errors.filter((e) => e.severity === 'error')).toEqual([]);
    expect(gcpActions(result)['gcp.Function/backup']).toBe('update');
    const deploys = writes.filter((c) => c.api === 'functions' && /\/functions\/[^/:]+$/.test(c.path));
    expect(deploys.map((c) => `${c.method} ${c.path.replace(/\?.*/, '')}`)).toEqual([
      `PATCH /v2/projects/${PROJECT}/locations/europe-west3/functions/backup`,
    ]);
    await sim.settleOperations();
    expect((await rig.pass()).outcome).toBe('no-op');
  });

  it('a subscription changed by hand is found as drift and healed', async () => {
    const subscriber = gcp();
    const name = `projects/${PROJECT}/subscriptions/rocketchat-messages-vectorize`;
    await subscriber.api.clients.subscriber().updateSubscription({
      subscription: { name, ackDeadlineSeconds: 15 },
      updateMask: { paths: ['ack_deadline_seconds'] },
    });
    const result = await rig.pass();
    expect(result.errors).toEqual([]);
    expect(result.plan.drift.map((d) => d.key)).toEqual(['gcp.PubSubSubscription/rocketchat-messages-vectorize']);
    const [sub] = (await subscriber.api.clients.subscriber().getSubscription({ subscription: name })) as [
      { ackDeadlineSeconds: number },
    ];
    expect(sub.ackDeadlineSeconds).toBe(60);
    expect((await rig.pass()).outcome).toBe('no-op');
  });

  it('a topic removed from Git is pruned (within the deletion budget)', async () => {
    rig.write('gcp/extra.yaml', 'kind: gcp.PubSubTopic\nname: extra-topic\nspec: {}\n');
    expect((await converge()).length).toBeGreaterThanOrEqual(1);
    rig.write('gcp/extra.yaml', '');
    const { result, writes } = await writesDuring(() => rig.pass());
    expect(result.errors).toEqual([]);
    expect(gcpActions(result)['gcp.PubSubTopic/extra-topic']).toBe('delete');
    expect(writes.map((c) => `${c.method} ${c.path.replace(/\?.*/, '')}`)).toEqual([
      `DELETE /v1/projects/${PROJECT}/topics/extra-topic`,
    ]);
    expect((await rig.pass()).outcome).toBe('no-op');
  });

  it('an API leaving Git is forgotten, not disabled', async () => {
    rig.write(
      'gcp/apis.yaml',
      rig.read('gcp/apis.yaml').replace(/---\nkind: gcp.ProjectService\nname: artifactregistry.googleapis.com\n/, ''),
    );
    const result = await rig.pass();
    expect(result.errors).toEqual([]);
    expect(gcpActions(result)['gcp.ProjectService/artifactregistry.googleapis.com']).toBe('delete');
    const [service] = (await gcp()
      .api.clients.serviceUsage()
      .getService({
        name: `projects/${PROJECT}/services/artifactregistry.googleapis.com`,
      })) as [{ state: string | number }];
    expect([2, 'ENABLED']).toContain(service.state);
    expect((await rig.pass()).outcome).toBe('no-op');
  });

  it('a 429 storm slows the pass down but it still succeeds, honouring RetryInfo', async () => {
    sim.faults.quotaStorm(12, { retryAfterSeconds: 0.05 });
    const result = await rig.pass();
    expect(result.errors).toEqual([]);
    expect(result.outcome).toBe('no-op');
    expect(sim.faults.remaining()).toBe(0);
  });

  it('answers lost after the work was done, under a 429 storm, create no duplicates', async () => {
    // New resources of five kinds and a new secret value: each first write's answer is dropped.
    rig.write(
      'gcp/extra.yaml',
      [
        'kind: gcp.PubSubTopic\nname: lost-topic\nspec: {}\n',
        'kind: gcp.PubSubSubscription\nname: lost-sub\nspec:\n  topic: { ref: gcp.PubSubTopic/lost-topic, output: name }\n',
        'kind: gcp.ServiceAccount\nname: lost-sa\nspec: { displayName: Lost }\n',
        'kind: gcp.SchedulerJob\nname: lost-job\nspec:\n  schedule: "0 5 * * *"\n  httpTarget: { uri: "https://example.com/x" }\n',
        'kind: gcp.Function\nname: lost-fn\nspec:\n  source: functions/backup\n  entryPoint: backup\n',
      ].join('---\n'),
    );
    rig.secrets['groq-api-key'] = 'groq-key-v2';
    const start = sim.requests.length;
    const drop = (method: string, path: string | RegExp) =>
      sim.faults.inject({ type: 'drop-response', match: { method, path } });
    drop('PUT', '/topics/lost-topic');
    drop('PUT', '/subscriptions/lost-sub');
    drop('POST', '/serviceAccounts');
    drop('POST', '/jobs');
    // Paths are matched without their query (`?functionId=lost-fn`): the create is the POST to the collection.
    drop('POST', /\/locations\/europe-west3\/functions$/);
    drop('POST', '/secrets/groq-api-key:addVersion');
    sim.faults.quotaStorm(6, { retryAfterSeconds: 0.05 });
    await converge();
    expect(sim.faults.remaining()).toBe(0);
    const provider = gcp();
    const [versions] = (await provider.api.clients.secrets().listSecretVersions({
      parent: `projects/${PROJECT}/secrets/groq-api-key`,
    })) as [{ name: string; state: string | number }[]];
    // v1 (disabled) and v2 (enabled): the dropped addVersion was not repeated.
    expect(versions).toHaveLength(2);
    const creates = sim.requests
      .slice(start)
      .filter(
        (r) =>
          r.method !== 'GET' &&
          /\/topics\/lost-topic$|\/subscriptions\/lost-sub$|\/serviceAccounts$|\/jobs$|\/locations\/europe-west3\/functions$/.test(
            r.path,
          ) &&
          r.status < 300,
      );
    // One create each reached the simulator and did the work (logged with status 0: its answer was
    // dropped); no second one succeeded.
    expect(creates.map((r) => r.path.split('/').at(-1)).sort()).toEqual([
      'functions',
      'jobs',
      'lost-sub',
      'lost-topic',
      'serviceAccounts',
    ]);
    const [jobs] = (await provider.api.clients.scheduler().listJobs({
      parent: `projects/${PROJECT}/locations/europe-west3/jobs`.replace('/jobs', ''),
    })) as [{ name: string }[]];
    expect(jobs.filter((j) => j.name.endsWith('/lost-job'))).toHaveLength(1);
    expect(rig.log.lines.join('\n')).not.toContain('groq-key-v2');
  });

  it('the Firestore database leaving Git is kept, never deleted', async () => {
    // Its own project: a keelson instance that manages only the database (an instance prunes what its
    // owner label marks, so it must not share a project with the tree above).
    const own = await startGcpSimulator({ projectId: 'db-only', runFunctions: false, firestoreDefaultDatabase: false });
    const solo = new EngineRig({ env: own.env, root });
    try {
      solo.write('db.yaml', 'kind: gcp.FirestoreDatabase\nname: default\nspec:\n  locationId: eur3\n');
      expect((await solo.pass()).errors).toEqual([]);
      await own.settleOperations();
      solo.write('db.yaml', '');
      const before = own.requests.length;
      const result = await solo.pass();
      expect(result.errors).toEqual([]);
      expect(result.plan.changes.find((c) => c.key === 'gcp.FirestoreDatabase/default')).toMatchObject({
        action: 'skip',
        reason: 'protected',
      });
      expect(own.requests.slice(before).filter((r) => r.method === 'DELETE')).toEqual([]);
    } finally {
      await solo.registry.provider('gcp')?.close?.();
      await own.close();
    }
  });
});
