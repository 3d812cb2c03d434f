import { BackupRuns, type Log, type Outcome } from './backup-runs.ts';
import { makeClock } from './clock.ts';
import { type BackupConfig, readConfig } from './config.ts';
import type { DocumentStore } from './documents.ts';
import { ClientDocumentStore } from './documents-client.ts';
import { RestDocumentStore } from './documents-rest.ts';
import { HetznerApi } from './hetzner.ts';
import { Notifier } from './notify.ts';
import { SchedulerTokenVerifier, Unauthorized } from './oidc.ts';
import { readServerScripts } from './user-data.ts';

/** The request as the HTTP layer needs it (Express's, under the Functions Framework). */
export interface BackupRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: unknown;
}

/** Structured logs for Cloud Logging: one JSON object per line, never a secret. */
export const log: Log = (entry) => {
  process.stdout.write(`${JSON.stringify(entry)}\n`);
};

export interface BackupApp {
  handle(req: BackupRequest): Promise<Outcome>;
}

/** Wires the function from its configuration; the document store is REST unless an emulator is named. */
export async function createBackupApp(config: BackupConfig): Promise<BackupApp> {
  const clock = makeClock(config.nowFile);
  const fs = config.firestore;
  const docs: DocumentStore = fs.emulatorHost
    ? await ClientDocumentStore.open(fs.projectId)
    : new RestDocumentStore({
        endpoint: fs.endpoint,
        projectId: fs.projectId,
        ...(fs.accessToken ? { accessToken: fs.accessToken } : {}),
      });
  const runs = new BackupRuns({
    config,
    clock,
    docs,
    hetzner: new HetznerApi(config.hetzner.endpoint, config.hetzner.token),
    notifier: new Notifier(config.alerts, log),
    scripts: readServerScripts(),
    log,
  });
  const verifier = new SchedulerTokenVerifier({ ...config.oidc, clock });
  const header = (req: BackupRequest, name: string) => {
    const v = req.headers[name];
    return Array.isArray(v) ? v[0] : v;
  };

  return {
    async handle(req) {
      if (req.method !== 'POST') return { status: 405, body: { error: 'use POST' } };
      if (req.path === '/report') {
        const outcome = await runs.report(header(req, 'authorization'), req.body);
        // The watchdog runs on every authenticated invocation; unauthenticated ones cause no work.
        if (outcome.status === 200) await runs.watchdog();
        return outcome;
      }
      try {
        await verifier.verify(header(req, 'authorization'));
      } catch (e) {
        if (!(e instanceof Unauthorized)) throw e;
        log({ severity: 'WARNING', message: `backup trigger refused: ${e.message}` });
        return { status: 401, body: { error: 'unauthorized' } };
      }
      return runs.trigger();
    },
  };
}

let app: Promise<BackupApp> | undefined;

/** The app for this process, built on first use from `process.env`. */
export function backupApp(): Promise<BackupApp> {
  app ??= (async () => createBackupApp(readConfig(process.env)))();
  app.catch(() => {
    app = undefined;
  });
  return app;
}
