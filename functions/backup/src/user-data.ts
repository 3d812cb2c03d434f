import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BackupType } from './schedule.ts';

/** Where the scripts go on the server. */
export const SCRIPT_DIR = '/usr/local/lib/keelson-backup';
export const ENV_FILE = '/etc/keelson-backup.env';
/** Hetzner refuses user data above 32 KiB. */
const USER_DATA_LIMIT = 32 * 1024;

/** The scripts shipped next to this function (`server/`), put on the server by cloud-init. */
export function readServerScripts(dir = join(import.meta.dirname, '..', 'server')): Record<string, string> {
  return {
    'backup.sh': readFileSync(join(dir, 'backup.sh'), 'utf8'),
    'mount-filer.sh': readFileSync(join(dir, 'mount-filer.sh'), 'utf8'),
  };
}

/** What one run's server is told: the only secrets are the R2 token, the repository password and the run token. */
export interface RunEnvironment {
  readonly RESTIC_REPOSITORY: string;
  readonly RESTIC_PASSWORD: string;
  readonly AWS_ACCESS_KEY_ID: string;
  readonly AWS_SECRET_ACCESS_KEY: string;
  readonly BACKUP_RUN_ID: string;
  readonly BACKUP_RUN_TOKEN: string;
  readonly BACKUP_REPORT_URL: string;
  readonly BACKUP_TYPE: BackupType;
  readonly BACKUP_CHECK_SUBSET: string;
  readonly SEAWEEDFS_FILER: string;
  readonly SEAWEEDFS_FILER_PATH: string;
}

/** `KEY='value'` lines a POSIX shell sources (single quotes, `'` written as `'\''`). */
export function envFile(env: RunEnvironment): string {
  return `${Object.entries(env)
    .map(([k, v]) => `${k}='${String(v).replaceAll("'", "'\\''")}'`)
    .join('\n')}\n`;
}

/** The cloud-init document (JSON is YAML) that writes the scripts and the env file and runs the backup once. */
export function cloudInitUserData(env: RunEnvironment, scripts: Record<string, string>): string {
  const doc = {
    write_files: [
      ...Object.entries(scripts).map(([name, text]) => ({
        path: `${SCRIPT_DIR}/${name}`,
        permissions: '0755',
        encoding: 'b64',
        content: Buffer.from(text).toString('base64'),
      })),
      { path: ENV_FILE, permissions: '0600', encoding: 'b64', content: Buffer.from(envFile(env)).toString('base64') },
    ],
    runcmd: [[`${SCRIPT_DIR}/backup.sh`, ENV_FILE]],
  };
  const text = `#cloud-config\n${JSON.stringify(doc, null, 1)}\n`;
  if (text.length > USER_DATA_LIMIT) {
    throw new Error(
      `cannot build the backup server's user data: ${text.length} bytes, Hetzner allows ${USER_DATA_LIMIT}`,
    );
  }
  return text;
}
