// The backup function's world on loopback: the Functions Framework running functions/backup, the
// Hetzner simulator, the Firestore emulator, a JWKS for a local signing key standing in for Google's,
// an S3 server standing in for R2, and a receiver for the alerts. Time is a file the function reads.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { FirestoreServer } from '@firestore-emulator/server';
import { Firestore } from '@google-cloud/firestore';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { type HetznerSimulator, startHetznerSimulator } from '../providers/hetzner/simulator/index.ts';
import { type RunResult, run, S3_KEY, type S3Rig, startReceiver, startS3 } from './backup-support.ts';

const ROOT = join(import.meta.dirname, '..');
export const SCHEDULER_SA = 'scheduler-invoker@keelson-test.iam.gserviceaccount.com';
export const PROJECT = 'keelson-test';
export const HCLOUD_TOKEN = 'hcloud-test-token';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address() as AddressInfo;
      server.close(() => resolve(address.port));
    });
    server.on('error', reject);
  });
}

/** A local RSA key whose public half is served as a JWKS, like Google's `oauth2/v3/certs`. */
export async function startJwks(): Promise<{
  url: string;
  sign(
    claims: Record<string, unknown>,
    options?: { expiresAt?: Date; issuedAt?: Date; key?: 'trusted' | 'stranger' },
  ): Promise<string>;
  close(): Promise<void>;
}> {
  const trusted = await generateKeyPair('RS256', { extractable: true });
  const stranger = await generateKeyPair('RS256', { extractable: true });
  const jwk: JWK = { ...(await exportJWK(trusted.publicKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
  const server: Server = createServer((req, res) => {
    res.writeHead(req.url === '/oauth2/v3/certs' ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/oauth2/v3/certs`,
    async sign(claims, options = {}) {
      const issuedAt = options.issuedAt ?? new Date();
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: 'test-key', typ: 'JWT' })
        .setIssuedAt(Math.floor(issuedAt.getTime() / 1000))
        .setExpirationTime(Math.floor((options.expiresAt ?? new Date(issuedAt.getTime() + 3600_000)).getTime() / 1000))
        .sign(options.key === 'stranger' ? stranger.privateKey : trusted.privateKey);
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The Hetzner simulator with what the backup function needs: the labelled snapshot and the private network. */
export async function startBackupHetzner(): Promise<{ hetzner: HetznerSimulator; snapshotId: number }> {
  const hetzner = await startHetznerSimulator({ token: HCLOUD_TOKEN, actionDurationMs: 5 });
  const snapshot = hetzner.state.addSnapshot('backup server', { role: 'backup-server' });
  const network = await fetch(`${hetzner.endpoint}/networks`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${HCLOUD_TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({
      name: 'swarm',
      ip_range: '10.0.0.0/16',
      subnets: [{ type: 'cloud', ip_range: '10.0.1.0/24', network_zone: 'eu-central' }],
    }),
  });
  if (!network.ok) throw new Error(`cannot create the test network: ${await network.text()}`);
  return { hetzner, snapshotId: snapshot.id };
}

export interface FunctionRig {
  readonly url: string;
  readonly audience: string;
  readonly hetzner: HetznerSimulator;
  readonly firestore: Firestore;
  readonly s3: S3Rig;
  readonly s3Port: number;
  readonly alerts: Awaited<ReturnType<typeof startReceiver>>;
  readonly jwks: Awaited<ReturnType<typeof startJwks>>;
  readonly snapshotId: number;
  readonly logs: string[];
  /** Sets the function's clock. */
  setNow(at: Date): void;
  now(): Date;
  /** The Scheduler's request: POST / with an OIDC token for the function, signed at the function's now. */
  trigger(token?: string | null): Promise<{ status: number; body: Record<string, unknown> }>;
  schedulerToken(
    overrides?: Record<string, unknown>,
    options?: { key?: 'trusted' | 'stranger'; expiresAt?: Date },
  ): Promise<string>;
  stopS3(): Promise<void>;
  startS3Again(): Promise<void>;
  close(): Promise<void>;
}

/** Starts every part and the Functions Framework with the function's production configuration. */
export async function startFunctionRig(dir: string, extraEnv: Record<string, string> = {}): Promise<FunctionRig> {
  const { hetzner, snapshotId } = await startBackupHetzner();

  const firestorePort = await freePort();
  const emulator = new FirestoreServer();
  await emulator.start(firestorePort);
  const firestore = new Firestore({
    projectId: PROJECT,
    host: `127.0.0.1:${firestorePort}`,
    ssl: false,
    customHeaders: { Authorization: 'Bearer owner' },
  });

  const s3Port = await freePort();
  const s3Dir = join(dir, 's3');
  let s3 = await startS3(s3Dir, s3Port);
  const alerts = await startReceiver();
  const jwks = await startJwks();
  const nowFile = join(dir, 'now');
  const setNow = (at: Date) => writeFileSync(nowFile, at.toISOString());
  setNow(new Date('2026-03-01T02:00:00Z'));

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const audience = `${url}/`;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: dir,
    BACKUP_OIDC_AUDIENCE: audience,
    BACKUP_SCHEDULER_SERVICE_ACCOUNT: SCHEDULER_SA,
    BACKUP_OIDC_JWKS_URL: jwks.url,
    BACKUP_TIME_ZONE: 'Europe/Berlin',
    BACKUP_REPORT_URL: `${url}/report`,
    BACKUP_MAX_SERVER_AGE_MINUTES: '360',
    HCLOUD_ENDPOINT: hetzner.endpoint,
    HCLOUD_TOKEN,
    BACKUP_NETWORK: 'swarm',
    BACKUP_RESTIC_REPOSITORY: s3.repository('keelson'),
    BACKUP_RESTIC_PASSWORD: 'repository-password-e2e',
    BACKUP_R2_ACCESS_KEY_ID: S3_KEY.id,
    BACKUP_R2_SECRET_ACCESS_KEY: S3_KEY.secret,
    BACKUP_CHECK_SUBSET: '100%',
    SEAWEEDFS_FILER: '10.0.1.2:8888',
    GCP_PROJECT_ID: PROJECT,
    FIRESTORE_EMULATOR_HOST: `127.0.0.1:${firestorePort}`,
    BACKUP_ROCKETCHAT_WEBHOOK_URL: `${alerts.url}/rocketchat/hooks/secret-token`,
    BACKUP_ALERT_WEBHOOK_URL: `${alerts.url}/webhook`,
    BACKUP_ALERT_WEBHOOK_SECRET: 'webhook-signing-secret',
    BACKUP_NOW_FILE: nowFile,
    ...extraEnv,
  };
  const logs: string[] = [];
  const child: ChildProcess = spawn(
    process.execPath,
    [
      join(ROOT, 'node_modules/@google-cloud/functions-framework/build/src/main.js'),
      '--target=backup',
      '--signature-type=http',
      `--source=${join(ROOT, 'functions/backup')}`,
      `--port=${port}`,
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.on('data', (b: Buffer) => logs.push(b.toString()));
  child.stderr?.on('data', (b: Buffer) => logs.push(b.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Wait for the state "answers", never for a duration.
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the Functions Framework exited: ${logs.join('')}`);
    const answered = await fetch(url, { method: 'GET' }).then(
      (r) => r.status,
      () => 0,
    );
    if (answered === 405) break;
    await new Promise((r) => setTimeout(r, 50));
  }

  const now = () => new Date(readFileSync(nowFile, 'utf8'));
  const schedulerToken: FunctionRig['schedulerToken'] = (overrides = {}, options = {}) =>
    jwks.sign(
      {
        iss: 'https://accounts.google.com',
        aud: audience,
        email: SCHEDULER_SA,
        email_verified: true,
        sub: '1234',
        ...overrides,
      },
      { issuedAt: now(), ...options },
    );
  return {
    url,
    audience,
    hetzner,
    firestore,
    get s3() {
      return s3;
    },
    s3Port,
    alerts,
    jwks,
    snapshotId,
    logs,
    setNow,
    now,
    async trigger(token) {
      const auth = token === null ? undefined : (token ?? (await schedulerToken()));
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
        body: '{}',
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    },
    schedulerToken,
    stopS3: () => s3.close(),
    startS3Again: async () => {
      s3 = await startS3(s3Dir, s3Port);
    },
    async close() {
      child.kill('SIGTERM');
      await exited;
      await firestore.terminate().catch(() => undefined);
      emulator.stop();
      await Promise.all([hetzner.close(), s3.close().catch(() => undefined), alerts.close(), jwks.close()]);
    },
  };
}

/**
 * Runs the backup server's user data on this host, as cloud-init would: the files it writes go under
 * `root` (scripts and env file, same content), and backup.sh runs with exactly that env file. It runs in
 * a private mount namespace where /mnt is a fresh tmpfs and `weed mount` is a stand-in that bind-mounts
 * `filerDir` read-only at the mount point (SeaweedFS cannot run here): mount-filer.sh's own steps
 * (start, wait for the mount, prove it read-only) run unchanged.
 */
export async function runUserData(userData: string, root: string, filerDir: string): Promise<RunResult> {
  if (!userData.startsWith('#cloud-config\n')) throw new Error('user data is not a cloud-config document');
  const doc = JSON.parse(userData.slice('#cloud-config\n'.length)) as {
    write_files: { path: string; permissions: string; encoding: string; content: string }[];
    runcmd: string[][];
  };
  const at = (path: string) => join(root, path);
  for (const f of doc.write_files) {
    mkdirSync(join(at(f.path), '..'), { recursive: true });
    writeFileSync(at(f.path), Buffer.from(f.content, 'base64'));
    chmodSync(at(f.path), Number.parseInt(f.permissions, 8));
  }
  const bin = join(root, 'shim-bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(
    join(bin, 'weed'),
    `#!/bin/sh
# Stand-in for \`weed mount\`: a read-only bind mount of the test's filer directory.
dir=""
for a in "$@"; do case "$a" in -dir=*) dir="\${a#-dir=}" ;; esac; done
[ "$1" = mount ] && [ -n "$dir" ] || { echo "weed stand-in: expected mount -dir=..." >&2; exit 1; }
# Read-only before it appears at the mount point (as weed's -readOnly is): bind at a staging
# directory, make that read-only, then move it into place in one step.
stage="$(mktemp -d "$(dirname "$dir")/.weed-stage.XXXXXX")"
mount --bind ${JSON.stringify(filerDir)} "$stage" && mount -o remount,bind,ro "$stage" && mount --move "$stage" "$dir"
`,
  );
  chmodSync(join(bin, 'weed'), 0o755);
  const [command] = doc.runcmd;
  if (!command) throw new Error('user data runs nothing');
  const [script, envFile] = command.map(at);
  return run(
    'unshare',
    [
      '--mount',
      '--propagation',
      'private',
      'sh',
      '-c',
      'mount -t tmpfs keelson-test /mnt && exec "$0" "$1"',
      script!,
      envFile!,
    ],
    { PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, HOME: root },
  );
}
