// The backup flow as deployed: functions/backup uploaded and deployed through Google's Functions
// client to the GCP simulator, which runs it in the Functions Framework; its Cloud Scheduler job
// (03:00 Europe/Berlin, OIDC token of the scheduler-invoker service account) fires on the simulator's
// fake clock; the run's Firestore documents go through the simulator's REST data plane.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeFields } from '../functions/backup/src/documents-rest.ts';
import { FakeClock } from '../providers/gcp/simulator/clock.ts';
import { type GcpSimulator, startGcpSimulator } from '../providers/gcp/simulator/server.ts';
import { clientOptions, google } from '../providers/gcp/simulator/test-clients.ts';
import type { HetznerSimulator } from '../providers/hetzner/simulator/index.ts';
import { HCLOUD_TOKEN, runUserData, startBackupHetzner } from './backup-function-rig.ts';
import {
  makeTree,
  resticEnv,
  run,
  S3_KEY,
  type S3Rig,
  SERVER_SCRIPTS,
  snapshots,
  startReceiver,
  startS3,
  tempDir,
  treeContents,
} from './backup-support.ts';

const FUNCTION_DIR = join(import.meta.dirname, '..', 'functions', 'backup');
const PROJECT = 'keelson-test';
const SA = `scheduler-invoker@${PROJECT}.iam.gserviceaccount.com`;

/** The function's folder as the upload archive (what the GCP provider uploads). */
function sourceArchive(): Uint8Array {
  const files: Record<string, Uint8Array> = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else files[relative(FUNCTION_DIR, full)] = readFileSync(full);
    }
  };
  walk(FUNCTION_DIR);
  return zipSync(files);
}

describe('the backup function deployed to the GCP simulator, fired by its Scheduler job', { timeout: 240_000 }, () => {
  const tmp = tempDir('keelson-backup-sched-');
  const filer = join(tmp.dir, 'filer');
  const nowFile = join(tmp.dir, 'now');
  const clock = new FakeClock(Date.UTC(2026, 1, 28, 12, 0, 0));
  let sim: GcpSimulator;
  let hetzner: HetznerSimulator;
  let snapshotId: number;
  let s3: S3Rig;
  let alerts: Awaited<ReturnType<typeof startReceiver>>;
  let url: string;
  const parent = () => `projects/${PROJECT}/locations/${sim.region}`;
  const headers = () => ({ authorization: `Bearer ${sim.env.GCP_ACCESS_TOKEN}`, 'content-type': 'application/json' });

  /** Moves the simulator's clock (firing the job when its time comes) and the function's with it. */
  const advanceTo = async (iso: string) => {
    writeFileSync(nowFile, iso);
    await sim.advance(Date.parse(iso) - clock.now());
    await sim.idle();
  };
  const runDoc = async (id: string) => {
    const r = await fetch(`${sim.url}/v1/projects/${PROJECT}/databases/(default)/documents/backup-runs/${id}`, {
      headers: headers(),
    });
    if (r.status === 404) return undefined;
    return decodeFields(((await r.json()) as { fields: Record<string, never> }).fields);
  };
  const backupServers = async () => {
    const r = await fetch(`${hetzner.endpoint}/servers?label_selector=backup.keelson.io/run`, {
      headers: { Authorization: `Bearer ${HCLOUD_TOKEN}` },
    });
    return ((await r.json()) as { servers: { id: number; name: string; labels: Record<string, string> }[] }).servers;
  };
  const userDataOf = (id: number) => hetzner.state.servers.get(id)?.userData ?? '';
  const repoEnv = () => ({
    ...resticEnv(s3.repository('keelson'), join(tmp.dir, 'cache')),
    RESTIC_PASSWORD: 'repository-password-sched',
  });

  beforeAll(async () => {
    makeTree(filer, { volumes: 2, files: 40, bytes: 200_000, seed: 5 });
    writeFileSync(nowFile, new Date(clock.now()).toISOString());
    sim = await startGcpSimulator({ clock, projectId: PROJECT });
    ({ hetzner, snapshotId } = await startBackupHetzner());
    s3 = await startS3(join(tmp.dir, 's3'));
    alerts = await startReceiver();
    url = `${sim.url}/cloudfunctions/${PROJECT}/${sim.region}/backup`;

    // Secrets in Secret Manager, handed to the function as secret environment variables.
    const sm = new (google.secretManager().v1.SecretManagerServiceClient)(clientOptions(sim));
    const secrets: Record<string, string> = {
      HCLOUD_TOKEN: HCLOUD_TOKEN,
      BACKUP_RESTIC_PASSWORD: 'repository-password-sched',
      BACKUP_R2_SECRET_ACCESS_KEY: S3_KEY.secret,
      BACKUP_ROCKETCHAT_WEBHOOK_URL: `${alerts.url}/rocketchat/hooks/token-sched`,
      BACKUP_ALERT_WEBHOOK_SECRET: 'webhook-secret-sched',
    };
    for (const [key, value] of Object.entries(secrets)) {
      const id = key.toLowerCase().replaceAll('_', '-');
      await sm.createSecret({
        parent: `projects/${PROJECT}`,
        secretId: id,
        secret: { replication: { automatic: {} } },
      });
      await sm.addSecretVersion({ parent: `projects/${PROJECT}/secrets/${id}`, payload: { data: Buffer.from(value) } });
    }

    const fns = new (google.functions().v2.FunctionServiceClient)(clientOptions(sim));
    const [upload] = await fns.generateUploadUrl({ parent: parent() });
    const put = await fetch(upload.uploadUrl!, {
      method: 'PUT',
      headers: { 'content-type': 'application/zip' },
      body: sourceArchive(),
    });
    expect(put.status).toBe(200);
    const [op] = await fns.createFunction({
      parent: parent(),
      functionId: 'backup',
      function: {
        buildConfig: { runtime: 'nodejs24', entryPoint: 'backup', source: { storageSource: upload.storageSource } },
        serviceConfig: {
          environmentVariables: {
            BACKUP_OIDC_AUDIENCE: url,
            BACKUP_SCHEDULER_SERVICE_ACCOUNT: SA,
            BACKUP_REPORT_URL: `${url}/report`,
            HCLOUD_ENDPOINT: hetzner.endpoint,
            BACKUP_RESTIC_REPOSITORY: s3.repository('keelson'),
            BACKUP_R2_ACCESS_KEY_ID: S3_KEY.id,
            SEAWEEDFS_FILER: '10.0.1.2:8888',
            BACKUP_ALERT_WEBHOOK_URL: `${alerts.url}/webhook`,
            BACKUP_NOW_FILE: nowFile,
          },
          secretEnvironmentVariables: Object.keys(secrets).map((key) => ({
            key,
            projectId: PROJECT,
            secret: key.toLowerCase().replaceAll('_', '-'),
            version: 'latest',
          })),
        },
      },
    });
    await op.promise();
    // The backup server has no Google identity: the function lets everyone reach it and checks every
    // request itself (the Scheduler's OIDC token, or a run token).
    await fns.setIamPolicy({
      resource: `${parent()}/functions/backup`,
      policy: { bindings: [{ role: 'roles/cloudfunctions.invoker', members: ['allUsers'] }] },
    } as unknown as Parameters<typeof fns.setIamPolicy>[0]);

    await fetch(`${sim.url}/v1/projects/${PROJECT}/serviceAccounts`, {
      method: 'POST',
      headers: headers(),
      body: JSON.stringify({ accountId: 'scheduler-invoker' }),
    });
    const sched = new (google.scheduler().CloudSchedulerClient)(clientOptions(sim));
    await sched.createJob({
      parent: parent(),
      job: {
        name: `${parent()}/jobs/backup`,
        schedule: '0 3 * * *',
        timeZone: 'Europe/Berlin',
        httpTarget: { uri: url, httpMethod: 'POST', oidcToken: { serviceAccountEmail: SA, audience: url } },
      },
    });
  });
  afterAll(async () => {
    await sim?.close();
    await Promise.all([hetzner?.close(), s3?.close(), alerts?.close()]);
    tmp.remove();
  });

  it('fires at 03:00 in Berlin, creates the server, and the report ends the run', async () => {
    await advanceTo('2026-03-01T01:59:00.000Z');
    expect(await backupServers()).toEqual([]);
    await advanceTo('2026-03-01T02:00:00.000Z');
    const [server, ...more] = await backupServers();
    expect(more).toEqual([]);
    expect(server).toMatchObject({ name: 'backup-2026-03-01', labels: { 'backup.keelson.io/type': 'monthly' } });
    expect(hetzner.state.servers.get(server!.id)?.imageId).toBe(snapshotId);
    expect(await runDoc('2026-03-01')).toMatchObject({ status: 'started', type: 'monthly' });
    // A real timestamp for the TTL policy on backup-runs: 400 days after the start.
    const raw = await fetch(`${sim.url}/v1/projects/${PROJECT}/databases/(default)/documents/backup-runs/2026-03-01`, {
      headers: headers(),
    });
    const expireAt = ((await raw.json()) as { fields: { expireAt: { timestampValue?: string } } }).fields.expireAt;
    expect(Date.parse(expireAt.timestampValue ?? '')).toBe(Date.parse('2027-04-05T02:00:00Z'));

    const result = await runUserData(userDataOf(server!.id), join(tmp.dir, 'server-1'), filer);
    expect(result.code, result.stderr).toBe(0);
    expect(await runDoc('2026-03-01')).toMatchObject({ status: 'succeeded', files: 40, check: 'passed' });
    expect(await backupServers()).toEqual([]);
    expect(alerts.received.map((r) => r.path).sort()).toEqual(['/rocketchat/hooks/token-sched', '/webhook']);

    const out = join(tmp.dir, 'restored');
    const restored = await run(join(SERVER_SCRIPTS, 'restore.sh'), ['--target', out], repoEnv());
    expect(restored.code, restored.stderr).toBe(0);
    expect(treeContents(out)).toEqual(treeContents(filer));
    expect((await snapshots(repoEnv())).map((s) => s.tags)).toEqual([expect.arrayContaining(['type:monthly'])]);
  });

  it('the job run by hand the same day starts nothing', async () => {
    await advanceTo('2026-03-01T10:00:00.000Z');
    const sched = new (google.scheduler().CloudSchedulerClient)(clientOptions(sim));
    await sched.runJob({ name: `${parent()}/jobs/backup` });
    await sim.idle();
    expect(await backupServers()).toEqual([]);
    const logs = sim.functionLogs('backup');
    expect(logs.filter((l) => l.includes('backup 2026-03-01 (monthly) started'))).toHaveLength(1);
    expect(logs.some((l) => l.includes('backup 2026-03-01 already ran today (succeeded): nothing to do'))).toBe(true);
    expect((await runDoc('2026-03-01'))?.status).toBe('succeeded');
  });

  it('a server that never reports is deleted by the next day’s watchdog, which then starts the new run', async () => {
    await advanceTo('2026-03-02T02:00:00.000Z');
    const [hung] = await backupServers();
    expect(hung?.name).toBe('backup-2026-03-02');
    // It never reports. The next firing finds it 24 hours old.
    await advanceTo('2026-03-03T02:00:00.000Z');
    expect(await runDoc('2026-03-02')).toMatchObject({ status: 'failed', stage: 'watchdog' });
    const servers = await backupServers();
    expect(servers.map((s) => s.name)).toEqual(['backup-2026-03-03']);
    const failure = alerts.received.find((r) => r.path === '/webhook' && r.body.includes('"runId":"2026-03-02"'));
    expect(JSON.parse(failure!.body)).toMatchObject({ type: 'backup.failed', stage: 'watchdog' });

    const result = await runUserData(userDataOf(servers[0]!.id), join(tmp.dir, 'server-3'), filer);
    expect(result.code, result.stderr).toBe(0);
    expect(await runDoc('2026-03-03')).toMatchObject({ status: 'succeeded', type: 'daily' });
    expect(await backupServers()).toEqual([]);
  });

  it('two runs of the job at once start one backup (Firestore preconditions through REST)', async () => {
    await advanceTo('2026-03-04T00:30:00.000Z');
    const sched = new (google.scheduler().CloudSchedulerClient)(clientOptions(sim));
    await Promise.all([
      sched.runJob({ name: `${parent()}/jobs/backup` }),
      sched.runJob({ name: `${parent()}/jobs/backup` }),
      sched.runJob({ name: `${parent()}/jobs/backup` }),
    ]);
    await sim.idle();
    const servers = await backupServers();
    expect(servers.map((s) => s.name)).toEqual(['backup-2026-03-04']);
    expect(sim.functionLogs('backup').filter((l) => l.includes('backup 2026-03-04 (daily) started'))).toHaveLength(1);
    // The scheduled firing at 03:00 finds the day's run.
    await advanceTo('2026-03-04T02:00:00.000Z');
    expect((await backupServers()).map((s) => s.name)).toEqual(['backup-2026-03-04']);
    const result = await runUserData(userDataOf(servers[0]!.id), join(tmp.dir, 'server-4'), filer);
    expect(result.code, result.stderr).toBe(0);
    expect(await runDoc('2026-03-04')).toMatchObject({ status: 'succeeded' });
  });
});
