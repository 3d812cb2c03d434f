import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from './clock.ts';
import { contractProblems } from './contract-check.ts';
import { type Exchange, type GcpSimulator, startGcpSimulator } from './server.ts';
import { clientOptions, google } from './test-clients.ts';

const probeDir = join(import.meta.dirname, 'testdata', 'probe-function');

/**
 * Deploys the probe function three times through the official Functions client, then drives it the
 * ways the company's flows do: a Firestore write (Eventarc, protobuf DocumentEventData), a Pub/Sub
 * publish (a 500 gets the message again), and a Scheduler job with an OIDC token (fake clock).
 */
describe('functions that the simulator runs in the Functions Framework', { timeout: 120_000 }, () => {
  let sim: GcpSimulator;
  const clock = new FakeClock(Date.UTC(2026, 0, 5, 8, 0, 0));
  let P: string;
  let parent: string;
  const exchanges: Exchange[] = [];
  const h = () => ({ authorization: `Bearer ${sim.env.GCP_ACCESS_TOKEN}`, 'content-type': 'application/json' });
  const docs = async (collection: string) => {
    const r = await fetch(`${sim.url}/v1/projects/${P}/databases/(default)/documents/${collection}`, { headers: h() });
    const body = (await r.json()) as {
      documents?: { name: string; fields: Record<string, { stringValue: string }> }[];
    };
    return (body.documents ?? []).map(
      (d): Record<string, string> => ({
        id: d.name.split('/').at(-1)!,
        ...Object.fromEntries(Object.entries(d.fields).map(([k, v]) => [k, v.stringValue])),
      }),
    );
  };

  beforeAll(async () => {
    sim = await startGcpSimulator({ clock, onExchange: (e) => exchanges.push(e) });
    P = sim.projectId;
    parent = `projects/${P}/locations/${sim.region}`;
    const files: Record<string, Uint8Array> = {};
    for (const f of readdirSync(probeDir)) files[f] = readFileSync(join(probeDir, f));
    const fns = new (google.functions().v2.FunctionServiceClient)(clientOptions(sim));
    const [upload] = await fns.generateUploadUrl({ parent });
    const put = await fetch(upload.uploadUrl!, {
      method: 'PUT',
      headers: { 'content-type': 'application/zip' },
      body: zipSync(files),
    });
    expect(put.status).toBe(200);

    const sm = new (google.secretManager().v1.SecretManagerServiceClient)(clientOptions(sim));
    await sm.createSecret({
      parent: `projects/${P}`,
      secretId: 'probe-secret',
      secret: { replication: { automatic: {} } },
    });
    await sm.addSecretVersion({
      parent: `projects/${P}/secrets/probe-secret`,
      payload: { data: Buffer.from('s3cret') },
    });
    const pub = new (google.pubsub().v1.PublisherClient)(clientOptions(sim));
    await pub.createTopic({ name: `projects/${P}/topics/jobs` });
    await fetch(`${sim.url}/v1/projects/${P}/serviceAccounts`, {
      method: 'POST',
      headers: h(),
      body: JSON.stringify({ accountId: 'scheduler' }),
    });

    const build = (entryPoint: string) => ({
      runtime: 'nodejs22',
      entryPoint,
      source: { storageSource: upload.storageSource },
    });
    const ops = await Promise.all([
      fns.createFunction({
        parent,
        functionId: 'on-doc',
        function: {
          buildConfig: build('onDocument'),
          eventTrigger: {
            eventType: 'google.cloud.firestore.document.v1.written',
            eventFilters: [
              { attribute: 'database', value: '(default)' },
              { attribute: 'document', value: 'inbox/{id}', operator: 'match-path-pattern' },
            ],
            retryPolicy: 'RETRY_POLICY_RETRY',
          },
        },
      }),
      fns.createFunction({
        parent,
        functionId: 'on-msg',
        function: {
          buildConfig: build('onMessage'),
          eventTrigger: {
            eventType: 'google.cloud.pubsub.topic.v1.messagePublished',
            pubsubTopic: `projects/${P}/topics/jobs`,
          },
        },
      }),
      fns.createFunction({
        parent,
        functionId: 'backup',
        function: {
          buildConfig: build('onRequest'),
          serviceConfig: {
            environmentVariables: { PLAIN: 'plain' },
            secretEnvironmentVariables: [
              { key: 'SECRET_VALUE', projectId: P, secret: 'probe-secret', version: 'latest' },
            ],
          },
        },
      }),
    ]);
    for (const [op] of ops) await op.promise();
  });
  afterAll(() => sim?.close());

  it('a Firestore write reaches the trigger as protobuf DocumentEventData; other paths do not', async () => {
    const base = `${sim.url}/v1/projects/${P}/databases/(default)/documents`;
    await fetch(`${base}/inbox/a1`, {
      method: 'PATCH',
      headers: h(),
      body: JSON.stringify({ fields: { text: { stringValue: 'hello' } } }),
    });
    await fetch(`${base}/elsewhere/b1`, {
      method: 'PATCH',
      headers: h(),
      body: JSON.stringify({ fields: { text: { stringValue: 'no' } } }),
    });
    await sim.idle();
    await fetch(`${base}/inbox/a1?updateMask.fieldPaths=text`, {
      method: 'PATCH',
      headers: h(),
      body: JSON.stringify({ fields: { text: { stringValue: 'again' } } }),
    });
    await sim.idle();
    const markers = await docs('markers');
    expect(markers.map((m) => [m.type, m.document, m.database, m.text, m.old, m.mask]).sort()).toEqual([
      ['google.cloud.firestore.document.v1.written', 'inbox/a1', '(default)', 'again', 'hello', 'text'],
      ['google.cloud.firestore.document.v1.written', 'inbox/a1', '(default)', 'hello', '', ''],
    ]);
  });

  it('with RETRY_POLICY_RETRY a refused Firestore event comes again after the backoff, with the same id', async () => {
    const base = `${sim.url}/v1/projects/${P}/databases/(default)/documents`;
    await fetch(`${base}/inbox/f1`, {
      method: 'PATCH',
      headers: h(),
      body: JSON.stringify({ fields: { text: { stringValue: 'fail-once' } } }),
    });
    await sim.advance(0);
    expect((await docs('markers')).filter((m) => m.document === 'inbox/f1')).toEqual([]);
    await sim.advance(10_000);
    const markers = (await docs('markers')).filter((m) => m.document === 'inbox/f1');
    expect(markers).toHaveLength(1);
    expect(sim.functionLogs('on-doc').join('\n')).toMatch(/failing the first delivery of this event on purpose/);
  });

  it('a Pub/Sub message reaches the function as a CloudEvent; a 500 gets it again after the backoff', async () => {
    const pub = new (google.pubsub().v1.PublisherClient)(clientOptions(sim));
    const [res] = await pub.publish({
      topic: `projects/${P}/topics/jobs`,
      messages: [{ data: Buffer.from('vectorize c1'), attributes: { fail: 'once' } }],
    });
    const id = res.messageIds![0]!;
    await sim.advance(0);
    expect(await docs('messages')).toEqual([]);
    expect(sim.functionLogs('on-msg').join('\n')).toMatch(/failing the first delivery on purpose/);
    await sim.advance(10_000);
    const [m] = await docs('messages');
    expect(m).toMatchObject({
      id,
      data: 'vectorize c1',
      attempt: '2',
      type: 'google.cloud.pubsub.topic.v1.messagePublished',
      source: `//pubsub.googleapis.com/projects/${P}/topics/jobs`,
    });
    expect(m!.subscription).toMatch(new RegExp(`^projects/${P}/subscriptions/eventarc-${sim.region}-on-msg-`));
  });

  it('the function URL needs an ID token from an invoker', async () => {
    const url = `${sim.url}/cloudfunctions/${P}/${sim.region}/backup`;
    expect((await fetch(url, { method: 'POST' })).status).toBe(401);
    const token = await sim.idToken(`scheduler@${P}.iam.gserviceaccount.com`, url);
    expect((await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}` } })).status).toBe(403);
  });

  it('a Scheduler job fires on its cron in its time zone with an OIDC token the function verifies', async () => {
    const fns = new (google.functions().v2.FunctionServiceClient)(clientOptions(sim));
    const url = `${sim.url}/cloudfunctions/${P}/${sim.region}/backup`;
    const [fn] = await fns.getFunction({ name: `${parent}/functions/backup` });
    expect(fn.url).toBe(url);
    await fns.setIamPolicy({
      resource: fn.name!,
      policy: {
        bindings: [
          { role: 'roles/cloudfunctions.invoker', members: [`serviceAccount:scheduler@${P}.iam.gserviceaccount.com`] },
        ],
      },
    } as unknown as Parameters<typeof fns.setIamPolicy>[0]);
    const sched = new (google.scheduler().CloudSchedulerClient)(clientOptions(sim));
    await sched.createJob({
      parent,
      job: {
        name: `${parent}/jobs/daily-backup`,
        schedule: '0 3 * * *',
        timeZone: 'Europe/Berlin',
        httpTarget: {
          uri: url,
          httpMethod: 'POST',
          oidcToken: { serviceAccountEmail: `scheduler@${P}.iam.gserviceaccount.com` },
        },
      },
    });
    await sim.advance(Date.UTC(2026, 0, 6, 1, 59) - clock.now());
    expect(await docs('invocations')).toEqual([]);
    await sim.advance(60_000);
    const calls = await docs('invocations');
    expect(calls).toEqual([
      {
        id: '2026-01-06T02:00:00.000Z',
        email: `scheduler@${P}.iam.gserviceaccount.com`,
        aud: url,
        secret: 's3cret',
        plain: 'plain',
        jobName: 'daily-backup',
      },
    ]);
    const [job] = await sched.getJob({ name: `${parent}/jobs/daily-backup` });
    expect(job.scheduleTime?.seconds?.toString()).toBe(String(Date.UTC(2026, 0, 7, 2, 0) / 1000));
    expect(job.status?.code ?? 0).toBe(0);
  });

  it('an instance that dies is replaced, and events reach the new one', async () => {
    const before = sim.functionPid('on-doc');
    expect(before).toBeTypeOf('number');
    process.kill(before!, 'SIGKILL');
    while (sim.functionPid('on-doc') === before) await new Promise((r) => setTimeout(r, 20));
    const base = `${sim.url}/v1/projects/${P}/databases/(default)/documents`;
    await fetch(`${base}/inbox/after-crash`, {
      method: 'PATCH',
      headers: h(),
      body: JSON.stringify({ fields: { text: { stringValue: 'still here' } } }),
    });
    await sim.idle();
    expect((await docs('markers')).filter((m) => m.document === 'inbox/after-crash').map((m) => m.text)).toEqual([
      'still here',
    ]);
    expect(sim.functionLogs('on-doc').join('\n')).toMatch(/the function process exited \(SIGKILL\); starting it again/);
  });

  it('a redeploy restarts the function; delete stops it', async () => {
    const fns = new (google.functions().v2.FunctionServiceClient)(clientOptions(sim));
    const [fn] = await fns.getFunction({ name: `${parent}/functions/backup` });
    const [op] = await fns.updateFunction({
      function: { name: fn.name, serviceConfig: { ...fn.serviceConfig, environmentVariables: { PLAIN: 'changed' } } },
      updateMask: { paths: ['service_config.environment_variables'] },
    });
    const [after] = await op.promise();
    expect(after.serviceConfig?.revision).not.toBe(fn.serviceConfig?.revision);
    const token = await sim.idToken(`scheduler@${P}.iam.gserviceaccount.com`, fn.url!);
    expect((await fetch(fn.url!, { method: 'POST', headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    const manual = (await docs('invocations')).find((d) => d.id === 'manual');
    expect(manual?.plain).toBe('changed');
    const [del] = await fns.deleteFunction({ name: fn.name });
    await del.promise();
    expect((await fetch(fn.url!, { method: 'POST', headers: { authorization: `Bearer ${token}` } })).status).toBe(404);
  });

  it('every answer above fits the discovery documents and the client descriptors', () => {
    const { protos, discovery, problems } = contractProblems(exchanges);
    console.log(
      `checked ${protos} answers against the clients' descriptors, ${discovery} against the discovery documents`,
    );
    expect(problems).toEqual([]);
    expect(protos).toBeGreaterThan(10);
  });
});
