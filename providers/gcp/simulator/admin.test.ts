import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkAgainstClientProtos, checkAgainstDiscovery, discoveryFiles, specDir } from './contract-check.ts';
import { type Exchange, type GcpSimulator, startGcpSimulator } from './server.ts';
import { clientOptions, google } from './test-clients.ts';

/**
 * The clients on google-gax 5 (Service Usage, Resource Manager) surface REST errors as GaxiosError
 * with the HTTP status; those on gax 6 map them to gRPC codes. Either way the status must be right.
 */
async function expectGoogleError(p: Promise<unknown>, grpc: number, http: number): Promise<void> {
  const e = (await p.then(
    () => undefined,
    (x: unknown) => x,
  )) as { code?: number; status?: number; response?: { status?: number } } | undefined;
  expect(e, 'the call should have failed').toBeDefined();
  const ok = e!.code === grpc || e!.status === http || e!.response?.status === http;
  expect(ok, `expected gRPC ${grpc} or HTTP ${http}, got ${JSON.stringify({ code: e!.code, status: e!.status })}`).toBe(
    true,
  );
}

describe('admin APIs through the official clients in REST mode', { timeout: 60_000 }, () => {
  let sim: GcpSimulator;
  let P: string;
  let L: string;
  const exchanges: Exchange[] = [];
  beforeAll(async () => {
    sim = await startGcpSimulator({ runFunctions: false, onExchange: (e) => exchanges.push(e) });
    P = sim.projectId;
    L = sim.region;
  });
  afterAll(() => sim.close());
  const createServiceAccount = async (accountId: string) => {
    const r = await fetch(`${sim.url}/v1/projects/${P}/serviceAccounts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sim.env.GCP_ACCESS_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ accountId }),
    });
    expect(r.status).toBe(200);
  };

  it('Secret Manager: secrets, versions, access, disable, destroy, 409 and 404', async () => {
    const c = new (google.secretManager().v1.SecretManagerServiceClient)(clientOptions(sim));
    const [secret] = await c.createSecret({
      parent: `projects/${P}`,
      secretId: 'qdrant-api-key',
      secret: { replication: { automatic: {} }, labels: { 'keelson-owner': 'gcp' } },
    });
    expect(secret.name).toBe(`projects/${sim.projectNumber}/secrets/qdrant-api-key`);
    await expect(
      c.createSecret({
        parent: `projects/${P}`,
        secretId: 'qdrant-api-key',
        secret: { replication: { automatic: {} } },
      }),
    ).rejects.toMatchObject({ code: 6 });
    const [v1] = await c.addSecretVersion({
      parent: `projects/${P}/secrets/qdrant-api-key`,
      payload: { data: Buffer.from('one') },
    });
    await c.addSecretVersion({ parent: `projects/${P}/secrets/qdrant-api-key`, payload: { data: Buffer.from('two') } });
    const [latest] = await c.accessSecretVersion({ name: `projects/${P}/secrets/qdrant-api-key/versions/latest` });
    expect(Buffer.from(latest.payload!.data as Uint8Array).toString()).toBe('two');
    expect(latest.name).toMatch(/versions\/2$/);
    await c.disableSecretVersion({ name: v1.name! });
    await expect(c.accessSecretVersion({ name: v1.name! })).rejects.toMatchObject({ code: 9 });
    await c.destroySecretVersion({ name: v1.name! });
    const [versions] = await c.listSecretVersions({ parent: `projects/${P}/secrets/qdrant-api-key` });
    expect(versions.map((v) => [v.name!.split('/').at(-1), String(v.state)])).toEqual([
      ['2', 'ENABLED'],
      ['1', 'DESTROYED'],
    ]);
    const [updated] = await c.updateSecret({
      secret: { name: `projects/${P}/secrets/qdrant-api-key`, labels: { 'keelson-owner': 'other' } },
      updateMask: { paths: ['labels'] },
    });
    expect(updated.labels).toEqual({ 'keelson-owner': 'other' });
    await expect(c.getSecret({ name: `projects/${P}/secrets/missing` })).rejects.toMatchObject({ code: 5 });
    await expect(
      c.createSecret({
        parent: `projects/${P}`,
        secretId: 'bad-labels',
        secret: { replication: { automatic: {} }, labels: { 'Keelson.io/owner': 'x' } },
      }),
    ).rejects.toMatchObject({ code: 3 });
  });

  it('Service Usage: enable is a long-running operation, list filters by state', async () => {
    const c = new (google.serviceUsage().ServiceUsageClient)(clientOptions(sim) as never);
    const name = `projects/${P}/services/firestore.googleapis.com`;
    const [before] = await c.getService({ name });
    expect(String(before.state)).toMatch(/DISABLED|1/);
    const [op] = await c.enableService({ name });
    expect(op.done).toBeFalsy();
    const [result] = await op.promise();
    expect(result.service?.config?.name).toBe('firestore.googleapis.com');
    const [after] = await c.getService({ name });
    expect(String(after.state)).toMatch(/ENABLED|2/);
    const enabled: string[] = [];
    for await (const s of c.listServicesAsync({ parent: `projects/${P}`, filter: 'state:ENABLED', pageSize: 2 }))
      enabled.push(s.config!.name!);
    expect(enabled).toContain('firestore.googleapis.com');
    await expectGoogleError(c.enableService({ name: `projects/${P}/services/nope.googleapis.com` }), 7, 403);
  });

  it('IAM: service accounts over REST, project policy with etag through Resource Manager', async () => {
    const h = { authorization: `Bearer ${sim.env.GCP_ACCESS_TOKEN}`, 'content-type': 'application/json' };
    const created = await fetch(`${sim.url}/v1/projects/${P}/serviceAccounts`, {
      method: 'POST',
      headers: h,
      body: JSON.stringify({ accountId: 'vectorize', serviceAccount: { displayName: 'vectorize' } }),
    });
    expect(created.status).toBe(200);
    const sa = (await created.json()) as { email: string };
    expect(sa.email).toBe(`vectorize@${P}.iam.gserviceaccount.com`);
    const again = await fetch(`${sim.url}/v1/projects/${P}/serviceAccounts`, {
      method: 'POST',
      headers: h,
      body: JSON.stringify({ accountId: 'vectorize' }),
    });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: { status: string } }).error.status).toBe('ALREADY_EXISTS');

    const c = new (google.resourceManager().ProjectsClient)(clientOptions(sim) as never);
    const [policy] = await c.getIamPolicy({ resource: `projects/${P}` });
    const bindings = [
      ...(policy.bindings ?? []),
      { role: 'roles/datastore.user', members: [`serviceAccount:${sa.email}`] },
    ];
    const [set] = await c.setIamPolicy({ resource: `projects/${P}`, policy: { bindings, etag: policy.etag } });
    expect(set.bindings?.map((b) => b.role)).toContain('roles/datastore.user');
    await expectGoogleError(
      c.setIamPolicy({ resource: `projects/${P}`, policy: { bindings, etag: policy.etag } }),
      10,
      409,
    );
    await createServiceAccount('short-lived');
    const [withShort] = await c.setIamPolicy({
      resource: `projects/${P}`,
      policy: {
        bindings: [
          ...(set.bindings ?? []),
          { role: 'roles/viewer', members: [`serviceAccount:short-lived@${P}.iam.gserviceaccount.com`] },
        ],
        etag: set.etag,
      },
    });
    expect(withShort.bindings?.find((b) => b.role === 'roles/viewer')?.members).toEqual([
      `serviceAccount:short-lived@${P}.iam.gserviceaccount.com`,
    ]);
    await fetch(`${sim.url}/v1/projects/${P}/serviceAccounts/short-lived@${P}.iam.gserviceaccount.com`, {
      method: 'DELETE',
      headers: h,
    });
    const [afterDelete] = await c.getIamPolicy({ resource: `projects/${P}` });
    expect(afterDelete.bindings?.find((b) => b.role === 'roles/viewer')?.members?.[0]).toMatch(
      /^deleted:serviceAccount:short-lived@keelson-demo\.iam\.gserviceaccount\.com\?uid=\d+$/,
    );
    await expectGoogleError(
      c.setIamPolicy({
        resource: `projects/${P}`,
        policy: {
          bindings: [{ role: 'roles/viewer', members: [`serviceAccount:ghost@${P}.iam.gserviceaccount.com`] }],
        },
      }),
      3,
      400,
    );
  });

  it('Firestore admin: database update and index creation are operations; GCP appends __name__; TTL via field patch', async () => {
    const c = new (google.firestore().v1.FirestoreAdminClient)(clientOptions(sim));
    const db = `projects/${P}/databases/(default)`;
    const [got] = await c.getDatabase({ name: db });
    expect(got.locationId).toBe(L);
    const [upd] = await c.updateDatabase({
      database: {
        name: db,
        pointInTimeRecoveryEnablement: 'POINT_IN_TIME_RECOVERY_ENABLED',
        deleteProtectionState: 'DELETE_PROTECTION_ENABLED',
      },
      updateMask: { paths: ['point_in_time_recovery_enablement', 'delete_protection_state'] },
    });
    const [dbAfter] = await upd.promise();
    expect(String(dbAfter.deleteProtectionState)).toMatch(/ENABLED|2/);
    const [idxOp] = await c.createIndex({
      parent: `${db}/collectionGroups/calls`,
      index: {
        queryScope: 'COLLECTION',
        fields: [
          { fieldPath: 'status', order: 'ASCENDING' },
          { fieldPath: 'createdAt', order: 'DESCENDING' },
        ],
      },
    });
    const [creating] = await c.listIndexes({ parent: `${db}/collectionGroups/calls` });
    expect(String(creating[0]!.state)).toMatch(/CREATING|1/);
    const [index] = await idxOp.promise();
    expect(index.fields?.map((f) => f.fieldPath)).toEqual(['status', 'createdAt', '__name__']);
    expect(String(index.state)).toMatch(/READY|2/);
    await expect(
      c.createIndex({
        parent: `${db}/collectionGroups/calls`,
        index: {
          queryScope: 'COLLECTION',
          fields: [
            { fieldPath: 'status', order: 'ASCENDING' },
            { fieldPath: 'createdAt', order: 'DESCENDING' },
          ],
        },
      }),
    ).rejects.toMatchObject({ code: 6 });
    const [ttlOp] = await c.updateField({
      field: { name: `${db}/collectionGroups/sessions/fields/expiresAt`, ttlConfig: {} },
      updateMask: { paths: ['ttl_config'] },
    });
    const [field] = await ttlOp.promise();
    expect(String(field.ttlConfig?.state)).toMatch(/ACTIVE|2/);
    const [ttlFields] = await c.listFields({ parent: `${db}/collectionGroups/-`, filter: 'ttlConfig:*' });
    expect(ttlFields.map((f) => f.name)).toEqual([`${db}/collectionGroups/sessions/fields/expiresAt`]);
  });

  it('Pub/Sub subscriptions: push with OIDC, dead-letter, retry policy, update mask; filter is immutable', async () => {
    const pub = new (google.pubsub().v1.PublisherClient)(clientOptions(sim));
    const sub = new (google.pubsub().v1.SubscriberClient)(clientOptions(sim));
    await createServiceAccount('push-sa');
    await pub.createTopic({
      name: `projects/${P}/topics/rc-messages`,
      labels: { 'keelson-owner': 'gcp' },
      messageRetentionDuration: { seconds: 86400 },
    });
    await pub.createTopic({ name: `projects/${P}/topics/rc-dead` });
    const [s] = await sub.createSubscription({
      name: `projects/${P}/subscriptions/rc-push`,
      topic: `projects/${P}/topics/rc-messages`,
      pushConfig: {
        pushEndpoint: 'http://127.0.0.1:9/x',
        oidcToken: { serviceAccountEmail: `push-sa@${P}.iam.gserviceaccount.com` },
      },
      ackDeadlineSeconds: 30,
      deadLetterPolicy: { deadLetterTopic: `projects/${P}/topics/rc-dead`, maxDeliveryAttempts: 5 },
      retryPolicy: { minimumBackoff: { seconds: 10 }, maximumBackoff: { seconds: 300 } },
      enableMessageOrdering: true,
      filter: 'attributes.kind = "message"',
    });
    expect(s.ackDeadlineSeconds).toBe(30);
    expect(s.enableMessageOrdering).toBe(true);
    const [u] = await sub.updateSubscription({
      subscription: { name: s.name, ackDeadlineSeconds: 60 },
      updateMask: { paths: ['ack_deadline_seconds'] },
    });
    expect(u.ackDeadlineSeconds).toBe(60);
    expect(u.pushConfig?.oidcToken?.serviceAccountEmail).toBe(`push-sa@${P}.iam.gserviceaccount.com`);
    await expect(
      sub.updateSubscription({ subscription: { name: s.name, filter: '' }, updateMask: { paths: ['filter'] } }),
    ).rejects.toMatchObject({ code: 3 });
    await expect(
      sub.createSubscription({ name: `projects/${P}/subscriptions/orphan`, topic: `projects/${P}/topics/missing` }),
    ).rejects.toMatchObject({ code: 5 });
    const [page1, , resp] = await pub.listTopics({ project: `projects/${P}`, pageSize: 1 }, { autoPaginate: false });
    expect(page1).toHaveLength(1);
    expect(resp?.nextPageToken).toBeTruthy();
  });

  it('Scheduler: a job with an HTTP target and OIDC token; pause, resume; enums arrive as numbers', async () => {
    const c = new (google.scheduler().CloudSchedulerClient)(clientOptions(sim));
    const name = `projects/${P}/locations/${L}/jobs/daily-backup`;
    await createServiceAccount('scheduler');
    const [job] = await c.createJob({
      parent: `projects/${P}/locations/${L}`,
      job: {
        name,
        schedule: '0 3 * * *',
        timeZone: 'Europe/Berlin',
        httpTarget: {
          uri: `${sim.url}/cloudfunctions/${P}/${L}/backup`,
          httpMethod: 'POST',
          oidcToken: { serviceAccountEmail: `scheduler@${P}.iam.gserviceaccount.com` },
        },
        retryConfig: { retryCount: 2 },
      },
    });
    expect(String(job.state)).toMatch(/ENABLED|1/);
    expect(job.scheduleTime).toBeTruthy();
    const [paused] = await c.pauseJob({ name });
    expect(String(paused.state)).toMatch(/PAUSED|2/);
    const [resumed] = await c.resumeJob({ name });
    expect(String(resumed.state)).toMatch(/ENABLED|1/);
    const [patched] = await c.updateJob({ job: { name, schedule: '30 4 * * *' }, updateMask: { paths: ['schedule'] } });
    expect(patched.schedule).toBe('30 4 * * *');
    expect(patched.timeZone).toBe('Europe/Berlin');
    await expect(
      c.createJob({
        parent: `projects/${P}/locations/${L}`,
        job: { name: `${name}-2`, schedule: 'every day', httpTarget: { uri: 'http://x' } },
      }),
    ).rejects.toMatchObject({ code: 3 });
    await expect(c.createJob({ parent: `projects/${P}/locations/${L}`, job })).rejects.toMatchObject({ code: 6 });
  });

  it('Functions v2: generateUploadUrl, PUT the zip, create as an operation (DEPLOYING → ACTIVE), update, delete', async () => {
    const c = new (google.functions().v2.FunctionServiceClient)(clientOptions(sim));
    const parent = `projects/${P}/locations/${L}`;
    const [upload] = await c.generateUploadUrl({ parent });
    const zip = zipSync({
      'package.json': new TextEncoder().encode('{"main":"index.js"}'),
      'index.js': new TextEncoder().encode('exports.f=(q,s)=>s.send("ok")'),
    });
    const put = await fetch(upload.uploadUrl!, {
      method: 'PUT',
      headers: { 'content-type': 'application/zip' },
      body: zip,
    });
    expect(put.status).toBe(200);
    const [op] = await c.createFunction({
      parent,
      functionId: 'hello',
      function: {
        buildConfig: { runtime: 'nodejs22', entryPoint: 'f', source: { storageSource: upload.storageSource } },
        serviceConfig: { environmentVariables: { A: '1' }, availableMemory: '512M', maxInstanceCount: 3 },
        labels: { 'keelson-owner': 'gcp' },
      },
    });
    const [deploying] = await c.getFunction({ name: `${parent}/functions/hello` });
    expect(String(deploying.state)).toMatch(/DEPLOYING|2/);
    const [fn] = await op.promise();
    expect(String(fn.state)).toMatch(/ACTIVE|1/);
    expect(fn.url).toBe(`${sim.url}/cloudfunctions/${P}/${L}/hello`);
    expect(fn.serviceConfig?.availableMemory).toBe('512M');
    await expect(c.createFunction({ parent, functionId: 'hello', function: fn })).rejects.toMatchObject({ code: 6 });
    const [upOp] = await c.updateFunction({
      function: { name: fn.name, serviceConfig: { ...fn.serviceConfig, environmentVariables: { A: '2' } } },
      updateMask: { paths: ['service_config.environment_variables'] },
    });
    const [updated] = await upOp.promise();
    expect(updated.serviceConfig?.environmentVariables).toEqual({ A: '2' });
    expect(updated.serviceConfig?.availableMemory).toBe('512M');
    const [missingSource] = await c.createFunction({
      parent,
      functionId: 'nosource',
      function: {
        buildConfig: {
          runtime: 'nodejs22',
          entryPoint: 'f',
          source: { storageSource: { bucket: 'b', object: 'never-uploaded.zip' } },
        },
      },
    });
    await expect(missingSource.promise()).rejects.toMatchObject({ code: 9 });
    const [delOp] = await c.deleteFunction({ name: fn.name });
    await delOp.promise();
    await expect(c.getFunction({ name: fn.name })).rejects.toMatchObject({ code: 5 });
  });

  it('Cloud Run v2: create, update bumps generation, delete', async () => {
    const c = new (google.run().v2.ServicesClient)(clientOptions(sim));
    const parent = `projects/${P}/locations/${L}`;
    const [op] = await c.createService({
      parent,
      serviceId: 'secrets-ui',
      service: {
        template: {
          containers: [{ image: 'europe-docker.pkg.dev/x/y/ui:1', env: [{ name: 'A', value: '1' }] }],
          scaling: { maxInstanceCount: 2 },
        },
        labels: { 'keelson-owner': 'gcp' },
      },
    });
    const [svc] = await op.promise();
    expect(String(svc.generation)).toBe('1');
    expect(String(svc.terminalCondition?.state)).toMatch(/SUCCEEDED|4/);
    const [upOp] = await c.updateService({
      service: { ...svc, template: { ...svc.template, containers: [{ image: 'europe-docker.pkg.dev/x/y/ui:2' }] } },
    });
    const [up] = await upOp.promise();
    expect(String(up.generation)).toBe('2');
    expect(up.template?.containers?.[0]?.image).toBe('europe-docker.pkg.dev/x/y/ui:2');
    const [policy] = await c.getIamPolicy({ resource: svc.name! });
    await c.setIamPolicy({
      resource: svc.name!,
      policy: { bindings: [{ role: 'roles/run.invoker', members: ['allUsers'] }], etag: policy.etag },
    });
    const [delOp] = await c.deleteService({ name: svc.name });
    await delOp.promise();
    await expect(c.getService({ name: svc.name })).rejects.toMatchObject({ code: 5 });
  });

  it('answers 401 in Google shape without the token, 429 with RetryInfo in a quota storm', async () => {
    const res = await fetch(`${sim.url}/v1/projects/${P}/topics`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { status: string } }).error.status).toBe('UNAUTHENTICATED');
    sim.faults.quotaStorm(2, { match: { api: 'pubsub' }, retryAfterSeconds: 3 });
    const pub = new (google.pubsub().v1.PublisherClient)(clientOptions(sim));
    const err = await pub
      .getTopic({ topic: `projects/${P}/topics/rc-messages` }, { retry: null as never })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 8 });
    const r = await fetch(`${sim.url}/v1/projects/${P}/topics/rc-messages`, {
      headers: { authorization: `Bearer ${sim.env.GCP_ACCESS_TOKEN}` },
    });
    expect(r.status).toBe(429);
    const body = (await r.json()) as { error: { details: { '@type': string; retryDelay?: string }[] } };
    expect(body.error.details[0]).toEqual({ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '3s' });
  });

  it('drop-response: the work is done but the client never hears back', async () => {
    sim.faults.inject({ type: 'drop-response', match: { method: 'PUT', path: '/topics/dropped' } });
    const h = { authorization: `Bearer ${sim.env.GCP_ACCESS_TOKEN}`, 'content-type': 'application/json' };
    await expect(
      fetch(`${sim.url}/v1/projects/${P}/topics/dropped`, { method: 'PUT', headers: h, body: '{}' }),
    ).rejects.toThrow();
    const again = await fetch(`${sim.url}/v1/projects/${P}/topics/dropped`, { method: 'PUT', headers: h, body: '{}' });
    expect(again.status).toBe(409);
  });

  it("every answer above fits the pinned clients' descriptors", () => {
    const { checked, problems, unmatched } = checkAgainstClientProtos(exchanges);
    console.log(
      `checked ${checked} simulator answers against the clients' descriptors; no rule for: ${unmatched.join(', ') || 'none'}`,
    );
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(40);
    // The check itself catches a field the client does not know, and a wrong type.
    const bogus = {
      ...exchanges.find((e) => e.method === 'PUT' && e.template.endsWith('/topics/{topic}') && e.status === 200)!,
    };
    const bad = checkAgainstClientProtos([
      { ...bogus, responseBody: { ...(bogus.responseBody as object), colour: 'red' } },
      { ...bogus, responseBody: { ...(bogus.responseBody as object), messageRetentionDuration: 5 } },
    ]);
    expect(bad.problems).toHaveLength(2);
  });

  it.runIf(discoveryFiles().length > 0)('every answer above fits the discovery documents', () => {
    const { checked, problems, unmatched } = checkAgainstDiscovery(exchanges);
    console.log(
      `checked ${checked} simulator answers against ${discoveryFiles().length} discovery documents in ${specDir}; not in them: ${unmatched.join(', ') || 'none'}`,
    );
    // Fields the pinned clients' descriptors have (checked above) but the older discovery documents lack.
    const newerThanDiscovery = /\((databaseEdition|density)\)$/;
    expect(problems.filter((p) => !newerThanDiscovery.test(p))).toEqual([]);
    expect(checked).toBeGreaterThan(30);
  });
});

if (discoveryFiles().length === 0) {
  console.log(
    `GCP simulator discovery check NOT run: no gcp-*.discovery.json in ${specDir}. Download them with\n` +
      '  curl -o gcp-pubsub.v1.discovery.json https://pubsub.googleapis.com/$discovery/rest?version=v1  (and cloudscheduler v1, cloudfunctions v2, run v2, firestore v1)\n' +
      'and point KEELSON_SPEC_DIR at their folder.',
  );
}

describe('requireEnabledApis', () => {
  it('refuses an API until its service is enabled, with the SERVICE_DISABLED reason', async () => {
    const sim = await startGcpSimulator({ runFunctions: false, requireEnabledApis: true });
    try {
      const h = { authorization: `Bearer ${sim.env.GCP_ACCESS_TOKEN}`, 'content-type': 'application/json' };
      const topic = `${sim.url}/v1/projects/${sim.projectId}/topics/topic-1`;
      const refused = await fetch(topic, { method: 'PUT', headers: h, body: '{}' });
      expect(refused.status).toBe(403);
      const body = (await refused.json()) as { error: { details: { reason?: string }[] } };
      expect(body.error.details[0]?.reason).toBe('SERVICE_DISABLED');
      const op = await fetch(`${sim.url}/v1/projects/${sim.projectId}/services/pubsub.googleapis.com:enable`, {
        method: 'POST',
        headers: h,
        body: '{}',
      });
      expect(op.status).toBe(200);
      await sim.settleOperations();
      expect((await fetch(topic, { method: 'PUT', headers: h, body: '{}' })).status).toBe(200);
    } finally {
      await sim.close();
    }
  });
});

describe('bad input is a 400 that names the field', () => {
  let sim: GcpSimulator;
  beforeAll(async () => {
    sim = await startGcpSimulator({ runFunctions: false });
  });
  afterAll(() => sim.close());
  const P = () => `projects/${sim.projectId}`;
  const L = () => `${P()}/locations/${sim.region}`;
  const cases: [string, string, string, () => unknown, string][] = [
    [
      'a field the API does not have (GCP: Unknown name … Cannot find field)',
      'PUT',
      '/v1/{P}/topics/typo',
      () => ({ lables: { a: 'b' } }),
      'topic',
    ],
    [
      'an unknown field deep inside',
      'PUT',
      '/v1/{P}/subscriptions/deep',
      () => ({ topic: 'TOPIC', pushConfig: { endpoint: 'http://x' } }),
      'subscription.push_config',
    ],
    [
      'topic retention under 10 minutes',
      'PUT',
      '/v1/{P}/topics/short-lived',
      () => ({ messageRetentionDuration: '60s' }),
      'topic.message_retention_duration',
    ],
    [
      'a label key with a capital',
      'PUT',
      '/v1/{P}/topics/labelled',
      () => ({ labels: { Owner: 'x' } }),
      'labels.Owner',
    ],
    [
      'ack deadline over 600 s',
      'PUT',
      '/v1/{P}/subscriptions/slow',
      () => ({ topic: 'TOPIC', ackDeadlineSeconds: 900 }),
      'subscription.ack_deadline_seconds',
    ],
    [
      'an unreadable subscription filter',
      'PUT',
      '/v1/{P}/subscriptions/filtered',
      () => ({ topic: 'TOPIC', filter: 'data = 1' }),
      'filter',
    ],
    [
      'a Scheduler attempt deadline of 5 s',
      'POST',
      '/v1/{L}/jobs',
      () => ({
        name: `${L()}/jobs/quick`,
        schedule: '* * * * *',
        httpTarget: { uri: 'http://127.0.0.1:9/' },
        attemptDeadline: '5s',
      }),
      'job.attempt_deadline',
    ],
    [
      'an unknown time zone',
      'POST',
      '/v1/{L}/jobs',
      () => ({
        name: `${L()}/jobs/tz`,
        schedule: '* * * * *',
        timeZone: 'Mars/Olympus',
        httpTarget: { uri: 'http://127.0.0.1:9/' },
      }),
      'job.time_zone',
    ],
    [
      'function memory that is not a quantity',
      'POST',
      '/v2/{L}/functions?functionId=mem',
      () => ({
        buildConfig: {
          runtime: 'nodejs22',
          entryPoint: 'f',
          source: { storageSource: { bucket: 'b', object: 'o.zip' } },
        },
        serviceConfig: { availableMemory: 'lots' },
      }),
      'function.service_config.available_memory',
    ],
    [
      'a function in Python',
      'POST',
      '/v2/{L}/functions?functionId=py',
      () => ({
        buildConfig: {
          runtime: 'python312',
          entryPoint: 'f',
          source: { storageSource: { bucket: 'b', object: 'o.zip' } },
        },
      }),
      'function.build_config.runtime',
    ],
    [
      'a Run service scaling min over max',
      'POST',
      '/v2/{L}/services?serviceId=ui',
      () => ({ template: { containers: [{ image: 'x' }], scaling: { minInstanceCount: 3, maxInstanceCount: 1 } } }),
      'service.template.scaling.min_instance_count',
    ],
    ['a secret without replication', 'POST', '/v1/{P}/secrets?secretId=s1', () => ({}), 'secret.replication'],
    [
      'a one-field composite index',
      'POST',
      '/v1/{P}/databases/(default)/collectionGroups/c/indexes',
      () => ({ fields: [{ fieldPath: 'a', order: 'ASCENDING' }] }),
      'index.fields',
    ],
  ];
  it.each(cases)('%s', async (_why, method, template, body, field) => {
    const h = { authorization: `Bearer ${sim.env.GCP_ACCESS_TOKEN}`, 'content-type': 'application/json' };
    await fetch(`${sim.url}/v1/${P()}/topics/target-topic`, { method: 'PUT', headers: h, body: '{}' });
    const text = JSON.stringify(body()).replace('"TOPIC"', JSON.stringify(`${P()}/topics/target-topic`));
    const res = await fetch(`${sim.url}${template.replace('{P}', P()).replace('{L}', L())}`, {
      method,
      headers: h,
      body: text,
    });
    expect(res.status).toBe(400);
    const err = (
      (await res.json()) as { error: { status: string; details: { fieldViolations?: { field: string }[] }[] } }
    ).error;
    expect(err.status).toBe('INVALID_ARGUMENT');
    expect(err.details[0]?.fieldViolations?.[0]?.field).toBe(field);
  });

  it('takes proto field names (snake_case) as well as JSON names, as GCP does', async () => {
    const h = { authorization: `Bearer ${sim.env.GCP_ACCESS_TOKEN}`, 'content-type': 'application/json' };
    await fetch(`${sim.url}/v1/${P()}/topics/snake-topic`, { method: 'PUT', headers: h, body: '{}' });
    const res = await fetch(`${sim.url}/v1/${P()}/subscriptions/snake-sub`, {
      method: 'PUT',
      headers: h,
      body: JSON.stringify({
        topic: `${P()}/topics/snake-topic`,
        ack_deadline_seconds: 30,
        retry_policy: { minimum_backoff: '20s' },
      }),
    });
    expect(res.status).toBe(200);
    const sub = (await res.json()) as { ackDeadlineSeconds: number; retryPolicy: { minimumBackoff: string } };
    expect(sub.ackDeadlineSeconds).toBe(30);
    expect(sub.retryPolicy.minimumBackoff).toBe('20s');
  });
});
