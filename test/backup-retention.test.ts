// Thirty simulated days of scheduled runs (restic `backup --time` on a test clock, the type chosen by the
// function's own schedule rule): after them the repository holds exactly what the 7 daily / 4 weekly /
// 12 monthly policy keeps, and a week of failed backups never deletes the last good one.
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupTypeFor, localDay } from '../functions/backup/src/schedule.ts';
import {
  makeTree,
  resticEnv,
  run,
  type S3Rig,
  SERVER_SCRIPTS,
  snapshots,
  startReceiver,
  startS3,
  tempDir,
} from './backup-support.ts';

const day = (d: number) => `2026-03-${String(d).padStart(2, '0')}`;
const dates = (snaps: { time: string }[]) => snaps.map((s) => s.time.slice(0, 10));

describe('thirty scheduled days against restic 7/4/12 retention', () => {
  const tmp = tempDir('keelson-backup-retention-');
  let s3: S3Rig;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeAll(async () => {
    s3 = await startS3(join(tmp.dir, 's3'));
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver?.close();
    await s3?.close();
    tmp.remove();
  });

  /** One scheduled run on day `d` of March 2026 at 03:00 in Berlin, as the function would start it. */
  async function runDay(name: string, d: number, reachable: boolean) {
    const at = new Date(`${day(d)}T02:00:00Z`);
    const type = backupTypeFor(localDay(at, 'Europe/Berlin'));
    const src = join(tmp.dir, name, 'filer');
    // Each day changes a little, as a live filer does.
    appendFileSync(join(src, 'volume-0', 'd0', 'file-0.bin'), `day ${d}\n`);
    const env = {
      ...resticEnv(
        reachable ? s3.repository(name) : 's3:http://127.0.0.1:9/backups/unreachable',
        join(tmp.dir, name, 'cache'),
      ),
      BACKUP_RUN_ID: day(d),
      BACKUP_RUN_TOKEN: 'token',
      BACKUP_REPORT_URL: `${receiver.url}/${name}/report`,
      BACKUP_TYPE: type,
      BACKUP_MOUNT: 'none',
      BACKUP_SOURCE: src,
      BACKUP_TIME: `${day(d)} 03:00:00`,
      BACKUP_REPORT_ATTEMPTS: '1',
    };
    const result = await run(join(SERVER_SCRIPTS, 'backup.sh'), [], env);
    const mine = receiver.received.filter((r) => r.path === `/${name}/report`).at(-1);
    const report = JSON.parse(mine?.body ?? '{}') as Record<string, unknown>;
    return { result, type, report, env: { ...env, ...resticEnv(s3.repository(name), join(tmp.dir, name, 'cache')) } };
  }

  it('uses the function schedule: monthly on the 1st, weekly on Sundays, daily otherwise (in Berlin)', () => {
    const types = Array.from({ length: 30 }, (_, i) =>
      backupTypeFor(localDay(new Date(`${day(i + 1)}T02:00:00Z`), 'Europe/Berlin')),
    );
    // 1 March 2026 is a Sunday: the 1st wins. Then Sundays 8, 15, 22, 29.
    expect(types[0]).toBe('monthly');
    expect(types.flatMap((t, i) => (t === 'weekly' ? [i + 1] : []))).toEqual([8, 15, 22, 29]);
    // 23:30 UTC on 7 March is already Sunday the 8th in Berlin.
    expect(localDay(new Date('2026-03-07T23:30:00Z'), 'Europe/Berlin')).toMatchObject({
      date: '2026-03-08',
      weekday: 0,
    });
  });

  it('keeps exactly what 7/4/12 keeps after thirty good days; with days 20–27 failing, the last good snapshot stays', async () => {
    for (const name of ['all-good', 'week-lost'])
      makeTree(join(tmp.dir, name, 'filer'), { volumes: 2, files: 30, bytes: 60_000, seed: 3 });

    const allGood = async () => {
      let last: Awaited<ReturnType<typeof runDay>> | undefined;
      for (let d = 1; d <= 30; d++) {
        last = await runDay('all-good', d, true);
        expect(last.result.code, `day ${d}: ${last.result.stderr}`).toBe(0);
      }
      return last!;
    };
    const weekLost = async () => {
      let last: Awaited<ReturnType<typeof runDay>> | undefined;
      let afterDay19: string[] = [];
      for (let d = 1; d <= 30; d++) {
        const failing = d >= 20 && d <= 27;
        last = await runDay('week-lost', d, !failing);
        expect(last.result.code, `day ${d}: ${last.result.stderr}`).toBe(failing ? 1 : 0);
        expect(last.report).toMatchObject({ runId: day(d), status: failing ? 'failed' : 'succeeded' });
        if (d === 19) afterDay19 = dates(await snapshots(last.env));
        if (d === 27) {
          // A week of failures deleted nothing: day 19, the last good one, is still there.
          expect(dates(await snapshots(last.env))).toEqual(afterDay19);
          expect(afterDay19.at(-1)).toBe(day(19));
        }
      }
      return last!;
    };
    // The two repositories are independent: run them side by side.
    const [good, lost] = await Promise.all([allGood(), weekLost()]);

    // Daily: the 7 newest days (24–30). Weekly (ISO weeks, the newest of each): 30 (week 14), 29 (13),
    // 22 (12), 15 (11). Monthly: 30 (March). Together: 15, 22, 24–30.
    expect(dates(await snapshots(good.env))).toEqual([15, 22, 24, 25, 26, 27, 28, 29, 30].map(day));
    expect(good.report).toMatchObject({ status: 'succeeded', retention: { kept: 9 } });

    // Snapshots exist for 1–19 and 28–30. Daily: 30, 29, 28, 19, 18, 17, 16. Weekly: 30, 29, 19 (week 12,
    // whose 20–22 failed), 15. Monthly: 30. Together: 15–19, 28–30: day 19 survives the lost week.
    expect(dates(await snapshots(lost.env))).toEqual([15, 16, 17, 18, 19, 28, 29, 30].map(day));
    const snaps = await snapshots(lost.env);
    expect(snaps.find((s) => s.time.startsWith(day(15)))?.tags).toContain('type:weekly');
  }, 600_000);
});
