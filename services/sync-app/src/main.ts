import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { KnowledgeIndex, settingsFromEnv } from '../../../functions/vectorize/src/knowledge-index.ts';
import { FirestoreReader } from './firestore-reader.ts';
import { syncMetrics } from './metrics.ts';
import { reconcileKnowledge, type SyncReport } from './reconcile.ts';
import { S3Archive } from './s3-archive.ts';

/**
 * The sync app as a service: a reconciliation every SYNC_INTERVAL_SECONDS and on demand
 * (`POST /sync` with the bearer SYNC_TOKEN), `/healthz`, `/metrics`, `/status` (the last report).
 */
const env = process.env;
const secret = (name: string) =>
  env[`${name}_FILE`] ? readFileSync(env[`${name}_FILE`] as string, 'utf8').trim() : env[name] || undefined;
const log = (level: string, message: string, fields: Record<string, unknown> = {}) =>
  console.log(JSON.stringify({ level, time: new Date().toISOString(), message, ...fields }));

const problems: string[] = [];
if (!env.GCP_PROJECT_ID) problems.push('GCP_PROJECT_ID is not set');
const index = (() => {
  try {
    return new KnowledgeIndex(settingsFromEnv({ ...env, QDRANT_API_KEY: secret('QDRANT_API_KEY') }));
  } catch (err) {
    problems.push((err as Error).message);
    return undefined;
  }
})();
const s3Endpoint = env.S3_ENDPOINT;
if (s3Endpoint && !(secret('S3_ACCESS_KEY_ID') && secret('S3_SECRET_ACCESS_KEY')))
  problems.push('S3_ENDPOINT is set but S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY are not');
if (problems.length > 0 || !index) {
  console.error(`sync-app: configuration: ${problems.join('; ')}`);
  process.exit(2);
}

const timeoutMs = Number(env.CALL_TIMEOUT_MS || 20_000);
let token: () => Promise<string>;
const fixed = secret('GCP_ACCESS_TOKEN');
if (fixed) token = async () => fixed;
else {
  const { GoogleAuth } = await import('google-auth-library');
  const auth = new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/datastore'] });
  token = async () => String(await auth.getAccessToken());
}
const metrics = syncMetrics();
const groqKey = secret('GROQ_API_KEY');
const deps = {
  reader: new FirestoreReader({
    ...(env.GCP_API_ENDPOINT ? { baseUrl: env.GCP_API_ENDPOINT } : {}),
    projectId: env.GCP_PROJECT_ID as string,
    token,
    timeoutMs,
  }),
  index,
  metrics,
  log,
  collections: (env.SYNC_COLLECTIONS || 'aircall-events,guesty-events,llm-queries').split(',').map((c) => c.trim()),
  longWords: Number(env.SUMMARY_MIN_WORDS || 600),
  ...(groqKey
    ? {
        summarizer: {
          apiKey: groqKey,
          ...(env.GROQ_URL ? { baseUrl: env.GROQ_URL } : {}),
          ...(env.GROQ_MODEL ? { model: env.GROQ_MODEL } : {}),
          timeoutMs,
        },
      }
    : {}),
  ...(s3Endpoint
    ? {
        archive: new S3Archive({
          endpoint: s3Endpoint,
          bucket: env.S3_BUCKET || 'knowledge-archive',
          accessKeyId: secret('S3_ACCESS_KEY_ID') as string,
          secretAccessKey: secret('S3_SECRET_ACCESS_KEY') as string,
          timeoutMs,
        }),
        download: async (url: string) => {
          const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
          if (!r.ok) throw new Error(`download answered ${r.status}`);
          return {
            body: new Uint8Array(await r.arrayBuffer()),
            contentType: r.headers.get('content-type') ?? 'application/octet-stream',
          };
        },
      }
    : {}),
};

let last: (SyncReport & { finishedAt: string }) | undefined;
let current: Promise<void> | undefined;
/** Runs one reconciliation; a request during a run joins it (runs never overlap). */
function run(trigger: string): Promise<void> {
  current ??= (async () => {
    const started = Date.now();
    metrics.running.set(1);
    try {
      const report = await reconcileKnowledge(deps);
      last = { ...report, finishedAt: new Date().toISOString() };
      metrics.runs.inc({ result: report.problems.length === 0 ? 'ok' : 'failed' });
      if (report.problems.length === 0) metrics.lastSuccess.set(Date.now() / 1000);
      log('info', 'sync-app: run finished', {
        trigger,
        documents: report.documents,
        backfilled: report.backfilled.length,
        orphans: report.orphans.length,
        reembedded: report.reembedded,
        summarized: report.summarized.length,
        archived: report.archived.length,
        problems: report.problems.length,
      });
    } catch (err) {
      metrics.runs.inc({ result: 'failed' });
      log('error', 'sync-app: run failed', { trigger, error: (err as Error).message });
    } finally {
      metrics.running.set(0);
      metrics.lastDuration.set((Date.now() - started) / 1000);
      current = undefined;
    }
  })();
  return current;
}

const syncToken = secret('SYNC_TOKEN');
const server = createServer(async (req, res) => {
  if (req.url === '/healthz') return res.writeHead(200).end('ok\n');
  if (req.url === '/metrics') {
    res.writeHead(200, { 'content-type': metrics.registry.contentType });
    return res.end(await metrics.registry.metrics());
  }
  if (req.url === '/status') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify(last ?? null));
  }
  if (req.url === '/sync' && req.method === 'POST') {
    if (!syncToken || req.headers.authorization !== `Bearer ${syncToken}`)
      return res.writeHead(401).end('a bearer SYNC_TOKEN is required\n');
    await run('on-demand');
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify(last ?? null));
  }
  res.writeHead(404).end();
});
server.listen(Number(env.HTTP_PORT || 9465));
const interval = Number(env.SYNC_INTERVAL_SECONDS || 3600) * 1000;
const timer = interval > 0 ? setInterval(() => void run('schedule'), interval) : undefined;
if (env.SYNC_ON_START !== 'false') void run('start');
const stop = async () => {
  if (timer) clearInterval(timer);
  await current;
  server.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
