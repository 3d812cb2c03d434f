import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from './clock.ts';
import type { BackupConfig } from './config.ts';
import type { DocData, DocumentStore } from './documents.ts';
import type { HetznerApi, HetznerServer } from './hetzner.ts';
import type { BackupEvent, Notifier } from './notify.ts';
import { type BackupType, backupTypeFor, localDay } from './schedule.ts';
import { cloudInitUserData, type RunEnvironment } from './user-data.ts';

/** Labels on a backup server: they name the run, so the watchdog can find it without Firestore. */
export const RUN_LABEL = 'backup.keelson.io/run';
export const TYPE_LABEL = 'backup.keelson.io/type';
export const STARTED_LABEL = 'backup.keelson.io/started';

export type RunStatus = 'started' | 'succeeded' | 'failed';

/** An answer for the HTTP layer. */
export interface Outcome {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

export type Log = (entry: Record<string, unknown>) => void;

export interface BackupRunsDeps {
  readonly config: BackupConfig;
  readonly clock: Clock;
  readonly docs: DocumentStore;
  readonly hetzner: HetznerApi;
  readonly notifier: Notifier;
  readonly scripts: Record<string, string>;
  readonly log: Log;
}

const RUN_ID = /^\d{4}-\d{2}-\d{2}$/;
const LEASE_ID = 'current';

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === 32 && x.length === y.length && timingSafeEqual(x, y);
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function text(v: unknown, max = 2000): string | undefined {
  return typeof v === 'string' && v !== '' ? v.slice(0, max) : undefined;
}

/**
 * The backup flow's decisions: start a run (once per day, under a lease), take a server's report,
 * and the watchdog that deletes servers which outlive their job. Every entry point is idempotent.
 */
export class BackupRuns {
  readonly #d: BackupRunsDeps;
  readonly #runs: string;
  readonly #leases: string;

  constructor(deps: BackupRunsDeps) {
    this.#d = deps;
    this.#runs = deps.config.firestore.collection;
    this.#leases = `${deps.config.firestore.collection}-lease`;
  }

  /** The Scheduler fired: watchdog first, then at most one run per local day, never two at once. */
  async trigger(): Promise<Outcome> {
    await this.watchdog();
    const now = this.#d.clock();
    const day = localDay(now, this.#d.config.timeZone);
    const runId = day.date;
    const type = backupTypeFor(day);

    const existing = await this.#d.docs.get(this.#runs, runId);
    if (existing) {
      const runStatus = existing.data.status;
      this.#d.log({
        severity: 'INFO',
        message: `backup ${runId} already ran today (${String(runStatus)}): nothing to do`,
      });
      return { status: 200, body: { result: 'already-ran', runId, runStatus } };
    }

    if (!(await this.#d.docs.create(this.#leases, LEASE_ID, { runId, since: now.toISOString() }))) {
      const lease = await this.#d.docs.get(this.#leases, LEASE_ID);
      const holder = String(lease?.data.runId ?? '?');
      if (holder === runId) return { status: 200, body: { result: 'already-running', runId } };
      this.#d.log({ severity: 'WARNING', message: `backup ${runId} not started: run ${holder} still holds the lease` });
      return { status: 409, body: { result: 'busy', runId, error: `run ${holder} is still running` } };
    }

    const token = randomBytes(32).toString('base64url');
    const created = await this.#d.docs.create(this.#runs, runId, {
      status: 'started',
      type,
      startedAt: now.toISOString(),
      timeZone: this.#d.config.timeZone,
      tokenHash: hashToken(token),
      // For the TTL policy on backup-runs: old records go by themselves.
      expireAt: new Date(now.getTime() + this.#d.config.runRecordMs),
    });
    if (!created) {
      await this.#releaseLease(runId);
      return { status: 200, body: { result: 'already-ran', runId } };
    }
    this.#d.log({ severity: 'INFO', message: `backup ${runId} (${type}) started`, runId, type });

    try {
      const server = await this.#createServer(runId, type, token, now);
      await this.#d.docs.update(this.#runs, runId, { server: { id: server.id, name: server.name } });
      return { status: 202, body: { result: 'started', runId, type, server: server.name } };
    } catch (e) {
      const error = (e as Error).message;
      await this.#finish(runId, type, { status: 'failed', stage: 'create-server', error });
      return { status: 500, body: { result: 'failed', runId, error } };
    }
  }

  async #createServer(runId: string, type: BackupType, token: string, now: Date): Promise<HetznerServer> {
    const { hetzner, server, reportUrl } = this.#d.config;
    const image = await this.#d.hetzner.newestSnapshot(hetzner.imageSelector);
    if (!image) {
      throw new Error(
        `no snapshot matches the label selector ${hetzner.imageSelector}: build the backup server snapshot and label it`,
      );
    }
    const network = await this.#d.hetzner.idByName('networks', hetzner.network);
    const firewall = hetzner.firewall ? await this.#d.hetzner.idByName('firewalls', hetzner.firewall) : undefined;
    const env: RunEnvironment = {
      RESTIC_REPOSITORY: server.resticRepository,
      RESTIC_PASSWORD: server.resticPassword.reveal(),
      AWS_ACCESS_KEY_ID: server.r2AccessKeyId.reveal(),
      AWS_SECRET_ACCESS_KEY: server.r2SecretAccessKey.reveal(),
      BACKUP_RUN_ID: runId,
      BACKUP_RUN_TOKEN: token,
      BACKUP_REPORT_URL: reportUrl,
      BACKUP_TYPE: type,
      BACKUP_CHECK_SUBSET: server.checkSubset,
      SEAWEEDFS_FILER: server.filer,
      SEAWEEDFS_FILER_PATH: server.filerPath,
    };
    return this.#d.hetzner.createServer({
      name: `backup-${runId}`,
      serverType: hetzner.serverType,
      location: hetzner.location,
      image: image.id,
      network,
      ...(firewall === undefined ? {} : { firewall }),
      labels: {
        [RUN_LABEL]: runId,
        [TYPE_LABEL]: type,
        [STARTED_LABEL]: String(Math.floor(now.getTime() / 1000)),
        role: 'backup-run',
      },
      userData: cloudInitUserData(env, this.#d.scripts),
    });
  }

  /** `POST /report` from the backup server, authenticated by the run's one-time token. */
  async report(authorization: string | undefined, body: unknown): Promise<Outcome> {
    const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
    const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
    const runId = typeof b.runId === 'string' ? b.runId : '';
    if (!token || !RUN_ID.test(runId)) return { status: 401, body: { error: 'unauthorized' } };
    const run = await this.#d.docs.get(this.#runs, runId);
    const expected = typeof run?.data.tokenHash === 'string' ? run.data.tokenHash : '';
    if (!run || !sameHash(hashToken(token), expected)) return { status: 401, body: { error: 'unauthorized' } };
    if (run.data.status !== 'started') {
      return { status: 409, body: { error: `run ${runId} has already ended (${String(run.data.status)})` } };
    }
    if (b.status !== 'succeeded' && b.status !== 'failed') {
      return { status: 400, body: { error: 'status must be succeeded or failed' } };
    }
    const figures: DocData = {
      snapshotId: text(b.snapshotId, 80),
      files: num(b.files),
      bytesAdded: num(b.bytesAdded),
      bytesProcessed: num(b.bytesProcessed),
      durationSeconds: num(b.durationSeconds),
      check: text(b.check, 20),
      retention: b.retention && typeof b.retention === 'object' ? b.retention : undefined,
      stage: b.status === 'failed' ? (text(b.stage, 40) ?? 'unknown') : undefined,
      error: b.status === 'failed' ? (text(b.error) ?? 'no reason given') : undefined,
    };
    const ended = await this.#finish(runId, String(run.data.type), { status: b.status, ...figures }, run.version);
    if (!ended) return { status: 409, body: { error: `run ${runId} ended meanwhile` } };
    return { status: 200, body: { result: 'recorded', runId, status: b.status } };
  }

  /**
   * Ends a run once: status and figures to Firestore (only if still `started`, and unchanged since
   * `version` when given), the server deleted, the lease released, monitoring told. False when it had
   * already ended.
   */
  async #finish(
    runId: string,
    type: string,
    outcome: DocData & { status: Exclude<RunStatus, 'started'> },
    version?: string,
  ): Promise<boolean> {
    const now = this.#d.clock();
    const current = await this.#d.docs.get(this.#runs, runId);
    if (current && current.data.status !== 'started') return false;
    const fields: DocData = { finishedAt: now.toISOString(), tokenHash: null };
    for (const [k, v] of Object.entries(outcome)) if (v !== undefined) fields[k] = v;
    if (current) {
      const ok = await this.#d.docs.update(this.#runs, runId, fields, { ifVersion: version ?? current.version });
      if (!ok) return false;
    }
    const server = current?.data.server as { id?: number; name?: string } | undefined;
    let serverNote: string | undefined;
    try {
      const servers = await this.#d.hetzner.listServers(`${RUN_LABEL}=${runId}`);
      for (const s of servers) await this.#d.hetzner.deleteServer(s.id, s.name);
      if (server?.id !== undefined && !servers.some((s) => s.id === server.id)) {
        await this.#d.hetzner.deleteServer(server.id, server.name ?? `backup-${runId}`);
      }
    } catch (e) {
      // The watchdog deletes it on a later invocation; say so in the alert.
      serverNote = `the backup server could not be deleted yet (${(e as Error).message}); the watchdog retries`;
      this.#d.log({ severity: 'ERROR', message: serverNote, runId });
    }
    await this.#releaseLease(runId);
    const error = [outcome.error, serverNote].filter((e) => typeof e === 'string' && e !== '').join('; ');
    const event: BackupEvent = {
      status: outcome.status,
      runId,
      backupType: type,
      at: now.toISOString(),
      ...(server?.name ? { server: server.name } : {}),
      ...pickEventFigures(outcome),
      ...(error ? { error } : {}),
    };
    this.#d.log({
      severity: outcome.status === 'succeeded' ? 'INFO' : 'ERROR',
      message: `backup ${runId} ${outcome.status}`,
      ...event,
    });
    await this.#d.notifier.send(event);
    return true;
  }

  async #releaseLease(runId: string): Promise<void> {
    const lease = await this.#d.docs.get(this.#leases, LEASE_ID);
    if (lease && lease.data.runId === runId) await this.#d.docs.delete(this.#leases, LEASE_ID);
  }

  /**
   * Runs on every invocation: a backup server older than the limit is deleted and its run marked
   * failed with an alert (a hung backup must never run up a bill); a lease older than the limit whose
   * run has no server is released the same way.
   */
  async watchdog(): Promise<void> {
    const now = this.#d.clock();
    const limit = this.#d.config.maxServerAgeMs;
    const minutes = Math.round(limit / 60_000);
    try {
      for (const s of await this.#d.hetzner.listServers(RUN_LABEL)) {
        const labelled = Number(s.labels[STARTED_LABEL]) * 1000;
        const created = Date.parse(s.created);
        const started = Math.min(
          Number.isFinite(labelled) ? labelled : Infinity,
          Number.isFinite(created) ? created : Infinity,
        );
        if (!Number.isFinite(started) || now.getTime() - started <= limit) continue;
        const runId = s.labels[RUN_LABEL] ?? '';
        const run = RUN_ID.test(runId) ? await this.#d.docs.get(this.#runs, runId) : undefined;
        if (run?.data.status === 'started') {
          await this.#finish(runId, String(run.data.type), {
            status: 'failed',
            stage: 'watchdog',
            error: `the backup server ${s.name} did not report within ${minutes} minutes; it was deleted`,
          });
        } else {
          this.#d.log({ severity: 'WARNING', message: `watchdog: deleting leftover backup server ${s.name}`, runId });
        }
        // Deleted here too: #finish may have found it under another label or failed to delete it.
        await this.#d.hetzner.deleteServer(s.id, s.name);
      }
      const lease = await this.#d.docs.get(this.#leases, LEASE_ID);
      if (lease && now.getTime() - Date.parse(String(lease.data.since)) > limit) {
        const runId = String(lease.data.runId);
        const run = await this.#d.docs.get(this.#runs, runId);
        if (run?.data.status === 'started') {
          await this.#finish(runId, String(run.data.type), {
            status: 'failed',
            stage: 'watchdog',
            error: `run ${runId} held the lease for more than ${minutes} minutes without a server report`,
          });
        }
        await this.#d.docs.delete(this.#leases, LEASE_ID);
      }
    } catch (e) {
      this.#d.log({ severity: 'ERROR', message: `watchdog: ${(e as Error).message}` });
    }
  }
}

/** The figures of an outcome that monitoring shows (those present, with their types). */
function pickEventFigures(outcome: DocData): Partial<BackupEvent> {
  const out: { -readonly [K in keyof BackupEvent]?: BackupEvent[K] } = {};
  if (typeof outcome.stage === 'string') out.stage = outcome.stage;
  if (typeof outcome.snapshotId === 'string') out.snapshotId = outcome.snapshotId;
  if (typeof outcome.check === 'string') out.check = outcome.check;
  if (typeof outcome.files === 'number') out.files = outcome.files;
  if (typeof outcome.bytesAdded === 'number') out.bytesAdded = outcome.bytesAdded;
  if (typeof outcome.durationSeconds === 'number') out.durationSeconds = outcome.durationSeconds;
  return out;
}
