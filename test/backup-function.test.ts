// The backup function end to end, in Google's Functions Framework: Scheduler token → run in Firestore
// → server from the snapshot in the Hetzner simulator → the user data's script on this host with
// Debian's restic → report → status, alerts, server gone. Then the faults.
//
// The Scheduler here is the test signing tokens with a local key served as JWKS (so that forged,
// expired and foreign tokens can be tried), and Firestore is the emulator through Google's client.
// test/backup-scheduler.test.ts runs the same function deployed to the GCP simulator, fired by its
// Scheduler job, with Firestore through REST.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HcloudClient } from '../providers/hetzner/client/hcloud-client.ts';
import { SecretValue } from '../providers/sdk/index.ts';
import { SIGNATURE_HEADER, signBody } from '../reconciler/alerts/json-webhook-channel.ts';
import { type FunctionRig, HCLOUD_TOKEN, runUserData, startFunctionRig } from './backup-function-rig.ts';
import { makeTree, resticEnv, run, SERVER_SCRIPTS, snapshots, tempDir, treeContents } from './backup-support.ts';

describe('functions/backup in the Functions Framework against the simulators', { timeout: 180_000 }, () => {
  const tmp = tempDir('keelson-backup-fn-');
  const filer = join(tmp.dir, 'filer');
  let rig: FunctionRig;
  let hcloud: HcloudClient;

  interface SimServer {
    id: number;
    name: string;
    image: { id: number } | null;
    labels: Record<string, string>;
    private_net: { network: number; ip: string }[];
  }
  const backupServers = () =>
    hcloud.list<SimServer>('/servers', 'servers', { query: { label_selector: 'backup.keelson.io/run' }, what: 'list' });
  const runDoc = async (id: string) => (await rig.firestore.collection('backup-runs').doc(id).get()).data();
  const leaseDoc = async () => (await rig.firestore.collection('backup-runs-lease').doc('current').get()).data();
  const userDataOf = (serverId: number) => {
    const s = rig.hetzner.state.servers.get(serverId);
    if (!s?.userData) throw new Error(`server ${serverId} has no user data`);
    return s.userData;
  };
  const alertsFor = (runId: string) =>
    rig.alerts.received.filter((r) => r.body.includes(`\`${runId}\``) || r.body.includes(`"runId":"${runId}"`));
  const repoEnv = () => ({
    ...resticEnv(rig.s3.repository('keelson'), join(tmp.dir, 'restic-cache')),
    RESTIC_PASSWORD: 'repository-password-e2e',
  });

  beforeAll(async () => {
    makeTree(filer, { volumes: 3, files: 120, bytes: 600_000, seed: 11 });
    rig = await startFunctionRig(tmp.dir);
    hcloud = new HcloudClient({ endpoint: rig.hetzner.endpoint, token: new SecretValue(HCLOUD_TOKEN, 'test') });
  }, 60_000);
  afterAll(async () => {
    await rig?.close();
    tmp.remove();
  });

  it('refuses anything but the scheduler: no token, a stranger key, another audience, another account, an expired token', async () => {
    const cases: [string, string | null][] = [
      ['no token', null],
      ['signed by an unknown key', await rig.schedulerToken({}, { key: 'stranger' })],
      ['for another audience', await rig.schedulerToken({ aud: 'https://elsewhere.example/' })],
      [
        'from another service account',
        await rig.schedulerToken({ email: 'intruder@keelson-test.iam.gserviceaccount.com' }),
      ],
      ['from another issuer', await rig.schedulerToken({ iss: 'https://issuer.example' })],
      ['expired', await rig.schedulerToken({}, { expiresAt: new Date(rig.now().getTime() - 60_000) })],
      ['not a JWT', 'definitely-not-a-token'],
    ];
    for (const [why, token] of cases) {
      const r = await rig.trigger(token);
      expect(r.status, why).toBe(401);
    }
    expect(await backupServers()).toEqual([]);
    expect(await runDoc('2026-03-01')).toBeUndefined();
  });

  it('runs a backup end to end: server from the snapshot with the run labels, script, report, Firestore, alerts, server gone', async () => {
    rig.setNow(new Date('2026-03-01T02:00:00Z')); // 03:00 in Berlin on the 1st: monthly
    const started = await rig.trigger();
    expect(started).toMatchObject({ status: 202, body: { result: 'started', runId: '2026-03-01', type: 'monthly' } });

    const [server, ...others] = await backupServers();
    expect(others).toEqual([]);
    expect(server).toMatchObject({
      name: 'backup-2026-03-01',
      image: { id: rig.snapshotId },
      labels: { 'backup.keelson.io/run': '2026-03-01', 'backup.keelson.io/type': 'monthly', role: 'backup-run' },
    });
    expect(server?.private_net).toHaveLength(1);

    const running = await runDoc('2026-03-01');
    expect(running).toMatchObject({
      status: 'started',
      type: 'monthly',
      server: { id: server?.id, name: 'backup-2026-03-01' },
    });
    expect(running?.tokenHash).toMatch(/^[0-9a-f]{64}$/);
    expect(running?.expireAt?.toDate().toISOString()).toBe('2027-04-05T02:00:00.000Z');
    expect((await leaseDoc())?.runId).toBe('2026-03-01');

    // The user data carries the R2 key, the repository password and the run token, and no admin credential.
    const userData = userDataOf(server!.id);
    const envText = Buffer.from(
      (
        JSON.parse(userData.slice(userData.indexOf('\n') + 1)) as { write_files: { path: string; content: string }[] }
      ).write_files.find((f) => f.path === '/etc/keelson-backup.env')!.content,
      'base64',
    ).toString();
    expect(envText).toContain('BACKUP_RUN_TOKEN=');
    expect(envText).not.toContain(HCLOUD_TOKEN);
    expect(envText).not.toContain('webhook-signing-secret');
    expect(envText).not.toContain('secret-token');
    expect(userData).not.toContain(running?.tokenHash);

    const result = await runUserData(userData, join(tmp.dir, 'server-1'), filer);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('mounted the filer 10.0.1.2:8888 read-only at /mnt/seaweedfs');

    const done = await runDoc('2026-03-01');
    expect(done).toMatchObject({ status: 'succeeded', type: 'monthly', files: 120, check: 'passed', tokenHash: null });
    expect(done?.snapshotId).toMatch(/^[0-9a-f]{8}$/);
    expect(done?.bytesAdded).toBeGreaterThan(500_000);
    expect(await backupServers()).toEqual([]);
    expect(await leaseDoc()).toBeUndefined();

    const [chat, hook] = [
      alertsFor('2026-03-01').find((r) => r.path.startsWith('/rocketchat')),
      alertsFor('2026-03-01').find((r) => r.path === '/webhook'),
    ];
    expect(JSON.parse(chat!.body).text).toContain(':white_check_mark: Backup `2026-03-01` (monthly) succeeded');
    // keelson's signed JSON webhook format, checked with keelson's own signer.
    expect(hook!.headers[SIGNATURE_HEADER]).toBe(
      signBody(new SecretValue('webhook-signing-secret', 'test'), hook!.body),
    );
    expect(JSON.parse(hook!.body)).toMatchObject({
      type: 'backup.succeeded',
      key: 'backup/2026-03-01',
      runId: '2026-03-01',
      backupType: 'monthly',
      snapshotId: done?.snapshotId,
    });

    // What went to R2 comes back byte for byte (through the restore script, as an operator would).
    const [snap] = await snapshots(repoEnv());
    expect(snap?.paths).toEqual(['/mnt/seaweedfs']);
    expect(snap?.tags).toEqual(expect.arrayContaining(['type:monthly', 'run:2026-03-01']));
    const out = join(tmp.dir, 'restored');
    const restored = await run(
      join(SERVER_SCRIPTS, 'restore.sh'),
      ['--snapshot', snap!.id, '--target', out],
      repoEnv(),
    );
    expect(restored.code, restored.stderr).toBe(0);
    expect(treeContents(out)).toEqual(treeContents(filer));
  });

  it('runs once per day: a second firing the same day starts nothing, and the spent token is refused', async () => {
    rig.setNow(new Date('2026-03-01T09:30:00Z'));
    expect(await rig.trigger()).toMatchObject({ status: 200, body: { result: 'already-ran', runStatus: 'succeeded' } });
    expect(await backupServers()).toEqual([]);

    const replay = await fetch(`${rig.url}/report`, {
      method: 'POST',
      headers: { authorization: 'Bearer forged-or-spent', 'content-type': 'application/json' },
      body: JSON.stringify({ runId: '2026-03-01', status: 'failed', stage: 'x', error: 'x' }),
    });
    expect(replay.status).toBe(401);
    expect((await runDoc('2026-03-01'))?.status).toBe('succeeded');
  });

  it('two triggers at once start one run', async () => {
    rig.setNow(new Date('2026-03-02T22:00:00Z')); // 23:00 in Berlin on a Monday (a late manual run): daily
    const both = await Promise.all([rig.trigger(), rig.trigger()]);
    expect(both.map((r) => r.status).sort()).toEqual([200, 202]);
    expect(both.find((r) => r.status === 200)?.body.result).toMatch(/^already-(running|ran)$/);
    const servers = await backupServers();
    expect(servers.map((s) => s.name)).toEqual(['backup-2026-03-02']);

    // A run of the next day (00:30 in Berlin) while this one holds the lease is refused, not overlapped.
    rig.setNow(new Date('2026-03-02T23:30:00Z'));
    expect(await rig.trigger()).toMatchObject({ status: 409, body: { result: 'busy' } });
    expect(await runDoc('2026-03-03')).toBeUndefined();

    const result = await runUserData(userDataOf(servers[0]!.id), join(tmp.dir, 'server-2'), filer);
    expect(result.code, result.stderr).toBe(0);
    expect(await runDoc('2026-03-02')).toMatchObject({ status: 'succeeded', type: 'daily', check: 'skipped' });
    expect(await backupServers()).toEqual([]);
  });

  it('R2 unreachable: the run fails, the alert says why, the server is deleted, nothing in the repository is deleted (and the watchdog after the report removes a leftover)', async () => {
    const before = await snapshots(repoEnv());
    rig.setNow(new Date('2026-03-04T02:00:00Z'));
    expect((await rig.trigger()).status).toBe(202);
    const [server] = await backupServers();
    // A leftover from an old run (its delete once failed): the watchdog after this run's report removes it.
    const leftover = await fetch(`${rig.hetzner.endpoint}/servers`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${HCLOUD_TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        name: 'backup-2026-02-01',
        server_type: 'cx22',
        image: rig.snapshotId,
        labels: {
          'backup.keelson.io/run': '2026-02-01',
          'backup.keelson.io/started': String(Date.parse('2026-02-01T02:00:00Z') / 1000),
        },
      }),
    });
    expect(leftover.status).toBe(201);
    await rig.stopS3();
    try {
      const result = await runUserData(userDataOf(server!.id), join(tmp.dir, 'server-3'), filer);
      expect(result.code).toBe(1);
    } finally {
      await rig.startS3Again();
    }
    const failed = await runDoc('2026-03-04');
    expect(failed).toMatchObject({ status: 'failed', stage: 'open' });
    expect(String(failed?.error)).toContain('connection refused');
    expect(await backupServers()).toEqual([]);
    const chat = alertsFor('2026-03-04').find((r) => r.path.startsWith('/rocketchat'));
    expect(JSON.parse(chat!.body).text).toContain(':x: Backup `2026-03-04` (daily) failed at open');
    expect(await snapshots(repoEnv())).toEqual(before);
  });

  it('a server that never reports: the watchdog deletes it, marks the run failed and alerts', async () => {
    rig.setNow(new Date('2026-03-05T02:00:00Z'));
    expect((await rig.trigger()).status).toBe(202);
    expect((await backupServers()).map((s) => s.name)).toEqual(['backup-2026-03-05']);

    // Five hours on: within the limit, the watchdog leaves it alone (any invocation runs it).
    rig.setNow(new Date('2026-03-05T07:00:00Z'));
    expect((await rig.trigger()).body).toMatchObject({ result: 'already-ran', runStatus: 'started' });
    expect(await backupServers()).toHaveLength(1);

    // Seven hours on: past the six-hour limit.
    rig.setNow(new Date('2026-03-05T09:00:00Z'));
    expect((await rig.trigger()).body.result).toBe('already-ran');
    expect(await backupServers()).toEqual([]);
    expect(await runDoc('2026-03-05')).toMatchObject({ status: 'failed', stage: 'watchdog' });
    expect(await leaseDoc()).toBeUndefined();
    const hook = alertsFor('2026-03-05').find((r) => r.path === '/webhook');
    expect(JSON.parse(hook!.body)).toMatchObject({ type: 'backup.failed', stage: 'watchdog' });
    expect(JSON.parse(hook!.body).error).toContain('did not report within 360 minutes');

    // The next day runs normally again.
    rig.setNow(new Date('2026-03-06T02:00:00Z'));
    expect((await rig.trigger()).status).toBe(202);
    const [server] = await backupServers();
    const result = await runUserData(userDataOf(server!.id), join(tmp.dir, 'server-4'), filer);
    expect(result.code, result.stderr).toBe(0);
    expect((await runDoc('2026-03-06'))?.status).toBe('succeeded');
  });

  it('without a backup snapshot the run fails at once with a clear reason, and the lease is free again', async () => {
    for (const image of rig.hetzner.state.images.values())
      if (image.labels.role === 'backup-server') image.labels.role = 'retired';
    try {
      rig.setNow(new Date('2026-03-07T02:00:00Z'));
      const r = await rig.trigger();
      expect(r.status).toBe(500);
      expect(String(r.body.error)).toContain('no snapshot matches the label selector role=backup-server');
      expect(await runDoc('2026-03-07')).toMatchObject({ status: 'failed', stage: 'create-server' });
      expect(await leaseDoc()).toBeUndefined();
      expect(await backupServers()).toEqual([]);
    } finally {
      for (const image of rig.hetzner.state.images.values())
        if (image.labels.role === 'retired') image.labels.role = 'backup-server';
    }
  });

  it('never logs a secret', () => {
    const logs = rig.logs.join('');
    expect(logs).toContain('backup 2026-03-01 succeeded');
    for (const secret of [HCLOUD_TOKEN, 'repository-password-e2e', 'webhook-signing-secret', 'secret-token']) {
      expect(logs).not.toContain(secret);
    }
  });
});
