import { assertTimeZone } from './schedule.ts';
import { Secret } from './secret.ts';

/** Everything the function reads from its environment (see ../README.md, "Configuration"). */
export interface BackupConfig {
  readonly oidc: {
    /** `BACKUP_OIDC_AUDIENCE`: the audience the Scheduler job puts in its token (usually the function's URL). */
    readonly audience: string;
    /** `BACKUP_SCHEDULER_SERVICE_ACCOUNT`: the only identity allowed to start a run. */
    readonly serviceAccount: string;
    /** `BACKUP_OIDC_JWKS_URL`, else `GCP_OIDC_JWKS_URL` (the GCP simulator sets it), else Google's `https://www.googleapis.com/oauth2/v3/certs`. */
    readonly jwksUrl: string;
  };
  /** `BACKUP_TIME_ZONE`, default Europe/Berlin: decides the run's day and type. */
  readonly timeZone: string;
  /** `BACKUP_REPORT_URL`: where the backup server reports, the function's public URL + `/report`. */
  readonly reportUrl: string;
  /** `BACKUP_MAX_SERVER_AGE_MINUTES`, default 360: the watchdog deletes backup servers older than this. */
  readonly maxServerAgeMs: number;
  /** `BACKUP_RUN_RECORD_DAYS`, default 400: a run's `expireAt` (a Firestore TTL policy on it deletes old records). */
  readonly runRecordMs: number;
  readonly hetzner: {
    /** `HCLOUD_ENDPOINT`, default `https://api.hetzner.cloud/v1`. */
    readonly endpoint: string;
    /** `HCLOUD_TOKEN`: stays in the function; the server never sees it. */
    readonly token: Secret;
    /** `BACKUP_IMAGE_SELECTOR`, default `role=backup-server` (as desired-state's `hetzner.Image/backup-snapshot`). */
    readonly imageSelector: string;
    /** `BACKUP_SERVER_TYPE`, default cx22. */
    readonly serverType: string;
    /** `BACKUP_LOCATION`, default fsn1. */
    readonly location: string;
    /** `BACKUP_NETWORK`, default swarm: the private network (by name) where the filer answers. */
    readonly network: string;
    /** `BACKUP_FIREWALL` (optional): a firewall by name for the server. */
    readonly firewall?: string;
  };
  /** What the backup server gets, and nothing else. */
  readonly server: {
    /** `BACKUP_RESTIC_REPOSITORY`: `s3:https://<account>.r2.cloudflarestorage.com/<bucket>/<path>`. */
    readonly resticRepository: string;
    /** `BACKUP_RESTIC_PASSWORD`. */
    readonly resticPassword: Secret;
    /** `BACKUP_R2_ACCESS_KEY_ID` / `BACKUP_R2_SECRET_ACCESS_KEY`: an R2 token scoped to the backup bucket. */
    readonly r2AccessKeyId: Secret;
    readonly r2SecretAccessKey: Secret;
    /** `SEAWEEDFS_FILER`: host:port of the filer on the private network. */
    readonly filer: string;
    /** `BACKUP_FILER_PATH`, default `/`: the filer directory holding the volumes. */
    readonly filerPath: string;
    /** `BACKUP_CHECK_SUBSET`, default 10%. */
    readonly checkSubset: string;
  };
  readonly firestore: {
    /** `GCP_PROJECT_ID`, else `GOOGLE_CLOUD_PROJECT`. */
    readonly projectId: string;
    /** `GCP_API_ENDPOINT`: the Firestore REST base, default `https://firestore.googleapis.com`. */
    readonly endpoint: string;
    /** `GCP_ACCESS_TOKEN` (optional): otherwise the metadata server's token is used. */
    readonly accessToken?: Secret;
    /** `FIRESTORE_EMULATOR_HOST` (tests): Google's client against the emulator instead of REST. */
    readonly emulatorHost?: string;
    /** `BACKUP_COLLECTION`, default `backup-runs`; the lease is `<collection>-lease/current`. */
    readonly collection: string;
  };
  readonly alerts: {
    /** `BACKUP_ROCKETCHAT_WEBHOOK_URL` (optional; it holds the hook's token). */
    readonly rocketChatUrl?: Secret;
    /** `BACKUP_ALERT_WEBHOOK_URL` + `BACKUP_ALERT_WEBHOOK_SECRET` (optional): keelson's signed JSON webhook. */
    readonly webhookUrl?: string;
    readonly webhookSecret?: Secret;
  };
  /** `BACKUP_NOW_FILE` (tests only): a file holding the time the function takes for now. */
  readonly nowFile?: string;
}

/** Reads the configuration, collecting every problem into one error that names the variables. */
export function readConfig(env: NodeJS.ProcessEnv): BackupConfig {
  const problems: string[] = [];
  const required = (name: string): string => {
    const v = env[name]?.trim();
    if (!v) problems.push(`${name} is not set`);
    return v ?? '';
  };
  const optional = (name: string, fallback: string): string => env[name]?.trim() || fallback;
  const maybe = (name: string): string | undefined => env[name]?.trim() || undefined;
  const url = (name: string, value: string): string => {
    if (value) {
      try {
        new URL(value);
      } catch {
        problems.push(`${name} is not a URL`);
      }
    }
    return value;
  };

  const minutes = Number(optional('BACKUP_MAX_SERVER_AGE_MINUTES', '360'));
  if (!Number.isFinite(minutes) || minutes <= 0)
    problems.push('BACKUP_MAX_SERVER_AGE_MINUTES must be a positive number');
  const recordDays = Number(optional('BACKUP_RUN_RECORD_DAYS', '400'));
  if (!Number.isFinite(recordDays) || recordDays <= 0)
    problems.push('BACKUP_RUN_RECORD_DAYS must be a positive number');
  const timeZone = optional('BACKUP_TIME_ZONE', 'Europe/Berlin');
  try {
    assertTimeZone(timeZone, 'BACKUP_TIME_ZONE');
  } catch (e) {
    problems.push((e as Error).message);
  }
  const repository = required('BACKUP_RESTIC_REPOSITORY');
  if (repository && !repository.startsWith('s3:')) {
    problems.push(
      'BACKUP_RESTIC_REPOSITORY must be an S3 repository (s3:https://<account>.r2.cloudflarestorage.com/<bucket>/<path>)',
    );
  }
  const webhookUrl = maybe('BACKUP_ALERT_WEBHOOK_URL');
  const webhookSecret = maybe('BACKUP_ALERT_WEBHOOK_SECRET');
  if (webhookUrl && !webhookSecret)
    problems.push('BACKUP_ALERT_WEBHOOK_URL is set but BACKUP_ALERT_WEBHOOK_SECRET is not');
  const rocketChat = maybe('BACKUP_ROCKETCHAT_WEBHOOK_URL');
  const accessToken = maybe('GCP_ACCESS_TOKEN');
  const firewall = maybe('BACKUP_FIREWALL');
  const emulatorHost = maybe('FIRESTORE_EMULATOR_HOST');
  const nowFile = maybe('BACKUP_NOW_FILE');

  const config: BackupConfig = {
    oidc: {
      audience: required('BACKUP_OIDC_AUDIENCE'),
      serviceAccount: required('BACKUP_SCHEDULER_SERVICE_ACCOUNT'),
      jwksUrl: url(
        'BACKUP_OIDC_JWKS_URL',
        optional('BACKUP_OIDC_JWKS_URL', optional('GCP_OIDC_JWKS_URL', 'https://www.googleapis.com/oauth2/v3/certs')),
      ),
    },
    timeZone,
    reportUrl: url('BACKUP_REPORT_URL', required('BACKUP_REPORT_URL')),
    maxServerAgeMs: minutes * 60_000,
    runRecordMs: recordDays * 86_400_000,
    hetzner: {
      endpoint: url('HCLOUD_ENDPOINT', optional('HCLOUD_ENDPOINT', 'https://api.hetzner.cloud/v1')).replace(/\/+$/, ''),
      token: new Secret(required('HCLOUD_TOKEN')),
      imageSelector: optional('BACKUP_IMAGE_SELECTOR', 'role=backup-server'),
      serverType: optional('BACKUP_SERVER_TYPE', 'cx22'),
      location: optional('BACKUP_LOCATION', 'fsn1'),
      network: optional('BACKUP_NETWORK', 'swarm'),
      ...(firewall ? { firewall } : {}),
    },
    server: {
      resticRepository: repository,
      resticPassword: new Secret(required('BACKUP_RESTIC_PASSWORD')),
      r2AccessKeyId: new Secret(required('BACKUP_R2_ACCESS_KEY_ID')),
      r2SecretAccessKey: new Secret(required('BACKUP_R2_SECRET_ACCESS_KEY')),
      filer: required('SEAWEEDFS_FILER'),
      filerPath: optional('BACKUP_FILER_PATH', '/'),
      checkSubset: optional('BACKUP_CHECK_SUBSET', '10%'),
    },
    firestore: {
      projectId: env.GCP_PROJECT_ID?.trim() || env.GOOGLE_CLOUD_PROJECT?.trim() || required('GCP_PROJECT_ID'),
      endpoint: url('GCP_API_ENDPOINT', optional('GCP_API_ENDPOINT', 'https://firestore.googleapis.com')).replace(
        /\/+$/,
        '',
      ),
      ...(accessToken ? { accessToken: new Secret(accessToken) } : {}),
      ...(emulatorHost ? { emulatorHost } : {}),
      collection: optional('BACKUP_COLLECTION', 'backup-runs'),
    },
    alerts: {
      ...(rocketChat ? { rocketChatUrl: new Secret(rocketChat) } : {}),
      ...(webhookUrl ? { webhookUrl } : {}),
      ...(webhookSecret ? { webhookSecret: new Secret(webhookSecret) } : {}),
    },
    ...(nowFile ? { nowFile } : {}),
  };
  if (problems.length > 0) {
    throw new Error(`cannot configure the backup function: ${problems.join('; ')} (see functions/backup/README.md)`);
  }
  return config;
}
