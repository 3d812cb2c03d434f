// The backup and restore scripts (functions/backup/server/) with Debian's restic against an S3 server
// on loopback standing in for R2: what is backed up comes back byte for byte.
import { appendFileSync, chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  makeTree,
  type Received,
  type RunResult,
  restic,
  resticEnv,
  run,
  type S3Rig,
  SERVER_SCRIPTS,
  snapshots,
  startReceiver,
  startS3,
  tempDir,
  treeContents,
} from './backup-support.ts';

const TOKEN = 'run-token-for-the-script-test';

describe('backup.sh and restore.sh with restic against S3 on loopback', { timeout: 180_000 }, () => {
  const tmp = tempDir('keelson-backup-script-');
  let s3: S3Rig;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const src = join(tmp.dir, 'filer');
  const repository = () => s3.repository('script-test');
  const env = (extra: Record<string, string> = {}) => ({
    ...resticEnv(repository(), join(tmp.dir, 'cache')),
    BACKUP_RUN_ID: '2026-03-02',
    BACKUP_RUN_TOKEN: TOKEN,
    BACKUP_REPORT_URL: `${receiver.url}/report`,
    BACKUP_TYPE: 'daily',
    BACKUP_MOUNT: 'none',
    BACKUP_SOURCE: src,
    BACKUP_REPORT_ATTEMPTS: '1',
    ...extra,
  });
  const backup = (extra: Record<string, string> = {}) => run(join(SERVER_SCRIPTS, 'backup.sh'), [], env(extra));
  const restore = (...args: string[]) => run(join(SERVER_SCRIPTS, 'restore.sh'), args, env());
  const lastReport = (): Record<string, unknown> & { received: Received } => {
    const received = receiver.received.at(-1);
    if (!received) throw new Error('no report arrived');
    return { ...(JSON.parse(received.body) as Record<string, unknown>), received };
  };
  const ok = (r: RunResult) => {
    if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr}`);
    return r;
  };

  beforeAll(async () => {
    s3 = await startS3(join(tmp.dir, 's3'));
    receiver = await startReceiver();
    makeTree(src, { volumes: 3, files: 300, bytes: 3_000_000, seed: 7 });
    mkdirSync(join(src, 'volume-0', 'empty-dir'));
  });
  afterAll(async () => {
    await receiver?.close();
    await s3?.close();
    tmp.remove();
  });

  it('refuses to start without its environment, naming what is missing', async () => {
    const r = await run(join(SERVER_SCRIPTS, 'backup.sh'), [], { BACKUP_TYPE: 'daily' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('missing environment RESTIC_REPOSITORY RESTIC_PASSWORD');
    expect(r.stderr).toContain('BACKUP_RUN_TOKEN');
  });

  it('backs up a tree (initialising the repository), restores it byte-identical, and a second run adds almost nothing', async () => {
    ok(await backup({ BACKUP_TIME: '2026-03-02 03:00:00' }));
    const first = lastReport();
    expect(first.received.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(first).toMatchObject({
      runId: '2026-03-02',
      status: 'succeeded',
      type: 'daily',
      files: 300,
      check: 'skipped',
    });
    // Random data does not compress: at least the 3 MB of the files went to the repository.
    expect(first.bytesAdded).toBeGreaterThan(2_900_000);
    const [snap] = await snapshots(env());
    expect(snap?.short_id).toBe(first.snapshotId);
    expect(snap?.tags).toEqual(expect.arrayContaining(['keelson-backup', 'type:daily', 'run:2026-03-02']));

    const out = join(tmp.dir, 'restored-all');
    ok(await restore('--snapshot', String(first.snapshotId), '--target', out));
    expect(treeContents(out)).toEqual(treeContents(src));
    expect(readFileSync(join(out, 'volume-1', 'd0', 'file-1.bin'))).toEqual(
      readFileSync(join(src, 'volume-1', 'd0', 'file-1.bin')),
    );

    ok(await backup({ BACKUP_RUN_ID: '2026-03-03', BACKUP_TIME: '2026-03-03 03:00:00' }));
    const second = lastReport();
    expect(second.status).toBe('succeeded');
    expect(second.snapshotId).not.toBe(first.snapshotId);
    // Nothing changed: deduplication stores no new data (at most some metadata).
    expect(second.bytesAdded).toBeLessThan(Number(first.bytesAdded) / 100);

    // One changed file: about that file is added, not the tree again.
    appendFileSync(join(src, 'volume-2', 'd0', 'file-2.bin'), Buffer.alloc(200_000, 1));
    ok(await backup({ BACKUP_RUN_ID: '2026-03-04', BACKUP_TIME: '2026-03-04 03:00:00' }));
    const third = lastReport();
    expect(third.bytesAdded).toBeGreaterThan(0);
    expect(third.bytesAdded).toBeLessThan(Number(first.bytesAdded) / 5);
  });

  it('restores one volume, or one path, as they are on the filer', async () => {
    const vol = join(tmp.dir, 'restored-volume');
    ok(await restore('--volume', 'volume-1', '--target', vol));
    const restored = treeContents(vol);
    expect([...restored.keys()].every((p) => p.startsWith('volume-1/'))).toBe(true);
    expect(restored).toEqual(new Map([...treeContents(src)].filter(([p]) => p.startsWith('volume-1/'))));

    const one = join(tmp.dir, 'restored-path');
    ok(await restore('--path', 'volume-2/d0/file-2.bin', '--target', one));
    expect([...treeContents(one).keys()]).toEqual(['volume-2/d0/file-2.bin']);
    expect(readFileSync(join(one, 'volume-2/d0/file-2.bin'))).toEqual(
      readFileSync(join(src, 'volume-2/d0/file-2.bin')),
    );

    const missing = await restore('--path', 'volume-9/nothing', '--target', join(tmp.dir, 'restored-missing'));
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('has no volume-9/nothing');
    const notEmpty = await restore('--target', one);
    expect(notEmpty.stderr).toContain('is not empty');
  });

  it('restores one volume back into SeaweedFS (the filer mounted read-write by weed), over what is there', async () => {
    // The filer stands in as a directory; `weed mount` is a stand-in that bind-mounts it read-write in a
    // private mount namespace (SeaweedFS cannot run here). The volume on the "filer" was damaged.
    const live = join(tmp.dir, 'live-filer');
    mkdirSync(join(live, 'volume-1', 'd0'), { recursive: true });
    writeFileSync(join(live, 'volume-1', 'd0', 'file-1.bin'), 'damaged');
    const weed = join(tmp.dir, 'weed-rw');
    writeFileSync(
      weed,
      `#!/bin/sh\ndir=""\nfor a in "$@"; do case "$a" in -dir=*) dir="\${a#-dir=}" ;; esac; done\nmount --bind ${JSON.stringify(live)} "$dir"\n`,
    );
    chmodSync(weed, 0o755);
    const r = await run(
      'unshare',
      [
        '--mount',
        '--propagation',
        'private',
        join(SERVER_SCRIPTS, 'restore.sh'),
        '--volume',
        'volume-1',
        '--into-filer',
      ],
      { ...env(), SEAWEEDFS_FILER: '10.0.1.2:8888', WEED: weed, TMPDIR: tmp.dir },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('the filer is mounted read-write');
    expect(treeContents(live)).toEqual(new Map([...treeContents(src)].filter(([p]) => p.startsWith('volume-1/'))));
  });

  it('lists the snapshots with their tags', async () => {
    const r = ok(await restore('--list'));
    expect(r.stdout).toContain('type:daily');
    expect(r.stdout).toContain('run:2026-03-03');
  });

  it('R2 unreachable: the run reports a failure, and nothing in the repository is deleted', async () => {
    const before = await snapshots(env());
    const r = await backup({
      RESTIC_REPOSITORY: 's3:http://127.0.0.1:9/backups/script-test',
      BACKUP_RUN_ID: '2026-03-05',
    });
    expect(r.code).toBe(1);
    const report = lastReport();
    expect(report).toMatchObject({ runId: '2026-03-05', status: 'failed', stage: 'open' });
    expect(String(report.error)).toContain('connection refused');
    expect(report.snapshotId).toBeUndefined();
    expect(await snapshots(env())).toEqual(before);
  });

  it('stops reporting when the function refuses the report for good (no retries on a 4xx)', async () => {
    receiver.setStatus(409);
    const before = receiver.received.length;
    try {
      const r = await backup({
        BACKUP_RUN_ID: '2026-03-06',
        BACKUP_TIME: '2026-03-06 03:00:00',
        BACKUP_REPORT_ATTEMPTS: '5',
      });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('the backup function refused the report (409)');
      expect(receiver.received.length - before).toBe(1);
    } finally {
      receiver.setStatus(200);
    }
  });

  it('a weekly run checks a sample of the data and says so', async () => {
    ok(await backup({ BACKUP_TYPE: 'weekly', BACKUP_RUN_ID: '2026-03-08', BACKUP_CHECK_SUBSET: '50%' }));
    expect(lastReport()).toMatchObject({ status: 'succeeded', type: 'weekly', check: 'passed' });
  });

  it('a damaged repository fails the weekly check, and the run is reported failed', async () => {
    const dir = tempDir('keelson-backup-damaged-');
    const local = {
      ...env(),
      RESTIC_REPOSITORY: join(dir.dir, 'repo'),
      BACKUP_TYPE: 'weekly',
      BACKUP_CHECK_SUBSET: '100%',
    };
    try {
      await restic(local, 'init');
      ok(await run(join(SERVER_SCRIPTS, 'backup.sh'), [], local));
      // Flip bytes in every data pack: reading them back must fail.
      const packs = (await run('find', [join(dir.dir, 'repo', 'data'), '-type', 'f'], {})).stdout.trim().split('\n');
      for (const pack of packs) {
        const bytes = readFileSync(pack);
        for (let i = 100; i < bytes.length - 100; i += 97) bytes[i] = (bytes[i] ?? 0) ^ 0xff;
        chmodSync(pack, 0o644);
        writeFileSync(pack, bytes);
      }
      const r = await run(join(SERVER_SCRIPTS, 'backup.sh'), [], { ...local, BACKUP_RUN_ID: '2026-03-15' });
      expect(r.code).toBe(1);
      expect(lastReport()).toMatchObject({ runId: '2026-03-15', status: 'failed', stage: 'check', check: 'failed' });
    } finally {
      dir.remove();
    }
  });
});
