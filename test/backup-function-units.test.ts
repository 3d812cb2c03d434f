// The backup function's small parts: configuration errors, the env file the server sources, the
// Firestore REST value codec, the schedule rule and the alert text.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readConfig } from '../functions/backup/src/config.ts';
import { decodeFields, encodeFields } from '../functions/backup/src/documents-rest.ts';
import { rocketChatText } from '../functions/backup/src/notify.ts';
import { backupTypeFor, localDay } from '../functions/backup/src/schedule.ts';
import {
  cloudInitUserData,
  envFile,
  type RunEnvironment,
  readServerScripts,
} from '../functions/backup/src/user-data.ts';
import { run, tempDir } from './backup-support.ts';

const FULL_ENV = {
  BACKUP_OIDC_AUDIENCE: 'https://europe-west3-p.cloudfunctions.net/backup',
  BACKUP_SCHEDULER_SERVICE_ACCOUNT: 'scheduler-invoker@p.iam.gserviceaccount.com',
  BACKUP_REPORT_URL: 'https://europe-west3-p.cloudfunctions.net/backup/report',
  HCLOUD_TOKEN: 'hcloud-secret-value',
  BACKUP_RESTIC_REPOSITORY: 's3:https://acct.r2.cloudflarestorage.com/backups/keelson',
  BACKUP_RESTIC_PASSWORD: 'restic-secret-value',
  BACKUP_R2_ACCESS_KEY_ID: 'r2-key-id',
  BACKUP_R2_SECRET_ACCESS_KEY: 'r2-secret-value',
  SEAWEEDFS_FILER: '10.0.1.2:8888',
  GCP_PROJECT_ID: 'p',
};

describe('backup function configuration', () => {
  it('reads a complete environment with its defaults', () => {
    const c = readConfig(FULL_ENV);
    expect(c).toMatchObject({
      timeZone: 'Europe/Berlin',
      maxServerAgeMs: 360 * 60_000,
      oidc: { jwksUrl: 'https://www.googleapis.com/oauth2/v3/certs' },
      hetzner: { endpoint: 'https://api.hetzner.cloud/v1', imageSelector: 'role=backup-server', network: 'swarm' },
      firestore: { endpoint: 'https://firestore.googleapis.com', collection: 'backup-runs' },
    });
    // Secrets never serialise.
    const json = JSON.stringify(c);
    for (const secret of ['hcloud-secret-value', 'restic-secret-value', 'r2-secret-value', 'r2-key-id']) {
      expect(json).not.toContain(secret);
    }
  });

  it('names every problem at once, and no value', () => {
    const bad = {
      ...FULL_ENV,
      HCLOUD_TOKEN: '',
      GCP_PROJECT_ID: undefined,
      BACKUP_TIME_ZONE: 'Mars/Olympus',
      BACKUP_RESTIC_REPOSITORY: '/local/path',
      BACKUP_ALERT_WEBHOOK_URL: 'https://hooks.example/x',
      BACKUP_MAX_SERVER_AGE_MINUTES: '-5',
    };
    expect(() => readConfig(bad)).toThrow(
      /HCLOUD_TOKEN is not set.*GCP_PROJECT_ID is not set|GCP_PROJECT_ID is not set.*HCLOUD_TOKEN is not set/,
    );
    const message = (() => {
      try {
        readConfig(bad);
        return '';
      } catch (e) {
        return (e as Error).message;
      }
    })();
    for (const part of [
      'BACKUP_TIME_ZONE is "Mars/Olympus"',
      'BACKUP_RESTIC_REPOSITORY must be an S3 repository',
      'BACKUP_ALERT_WEBHOOK_SECRET is not',
      'BACKUP_MAX_SERVER_AGE_MINUTES must be a positive number',
    ]) {
      expect(message).toContain(part);
    }
    expect(message).not.toContain('restic-secret-value');
  });
});

describe("the backup server's environment", () => {
  const env: RunEnvironment = {
    RESTIC_REPOSITORY: 's3:https://acct.r2.cloudflarestorage.com/backups/keelson',
    RESTIC_PASSWORD: `it's $HOME \`whoami\` "quoted" \\ back`,
    AWS_ACCESS_KEY_ID: 'id',
    AWS_SECRET_ACCESS_KEY: "a'b'c",
    BACKUP_RUN_ID: '2026-03-01',
    BACKUP_RUN_TOKEN: 'tok-_123',
    BACKUP_REPORT_URL: 'https://f.example/report?x=1&y=2',
    BACKUP_TYPE: 'monthly',
    BACKUP_CHECK_SUBSET: '10%',
    SEAWEEDFS_FILER: '10.0.1.2:8888',
    SEAWEEDFS_FILER_PATH: '/',
  };

  it('is sourced by a shell into exactly the values the function meant', async () => {
    const tmp = tempDir('keelson-backup-env-');
    try {
      const file = join(tmp.dir, 'env');
      writeFileSync(file, envFile(env));
      const r = await run('bash', ['-c', 'set -a; . "$0"; set +a; env -0', file], {});
      const got = Object.fromEntries(
        r.stdout
          .split('\0')
          .filter(Boolean)
          .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
      );
      for (const [k, v] of Object.entries(env)) expect(got[k], k).toBe(v);
    } finally {
      tmp.remove();
    }
  });

  it('fits in Hetzner user data, and says so when it does not', () => {
    const scripts = readServerScripts();
    expect(cloudInitUserData(env, scripts).length).toBeLessThan(32 * 1024);
    expect(() => cloudInitUserData(env, { ...scripts, 'huge.sh': 'x'.repeat(40_000) })).toThrow(/Hetzner allows 32768/);
  });
});

describe('Firestore REST values', () => {
  it('round-trips what runs store', () => {
    const data = {
      status: 'succeeded',
      files: 120,
      ratio: 0.5,
      ok: true,
      tokenHash: null,
      server: { id: 42, name: 'backup-2026-03-01' },
      tags: ['a', 'b'],
    };
    const encoded = encodeFields(data);
    expect(encoded.files).toEqual({ integerValue: '120' });
    expect(encoded.ratio).toEqual({ doubleValue: 0.5 });
    expect(encoded.tokenHash).toEqual({ nullValue: null });
    expect(decodeFields(encoded)).toEqual(data);
    expect(encodeFields({ at: new Date('2027-04-05T02:00:00Z') })).toEqual({
      at: { timestampValue: '2027-04-05T02:00:00.000Z' },
    });
  });
});

describe('schedule and alert text', () => {
  it('takes the day in the configured zone', () => {
    // 23:30 UTC on 31 March is 1 April in Berlin (summer time): a monthly run.
    const berlin = localDay(new Date('2026-03-31T23:30:00Z'), 'Europe/Berlin');
    expect(berlin.date).toBe('2026-04-01');
    expect(backupTypeFor(berlin)).toBe('monthly');
    expect(backupTypeFor(localDay(new Date('2026-03-31T23:30:00Z'), 'UTC'))).toBe('daily');
  });

  it('says what happened in RocketChat', () => {
    expect(
      rocketChatText({
        status: 'succeeded',
        runId: '2026-03-08',
        backupType: 'weekly',
        snapshotId: 'abcd1234',
        files: 10,
        bytesAdded: 3 * 1024 * 1024,
        durationSeconds: 12,
        check: 'passed',
        at: 'x',
      }),
    ).toBe(
      ':white_check_mark: Backup `2026-03-08` (weekly) succeeded: snapshot abcd1234, 10 files, 3.0 MiB added, 12 s, check passed',
    );
    expect(
      rocketChatText({
        status: 'failed',
        runId: '2026-03-09',
        backupType: 'daily',
        stage: 'open',
        error: 'connection refused',
        at: 'x',
      }),
    ).toBe(':x: Backup `2026-03-09` (daily) failed at open: connection refused');
  });
});
