import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger, SecretValue } from '../../providers/sdk/index.ts';
import type { DaemonStatus } from '../loop/daemon-status.ts';
import type { KeelsonMetrics } from '../observability/metrics.ts';
import { renderStatusPage } from './status-page.ts';
import { statusView } from './status-view.ts';
import { TokenBucket } from './token-bucket.ts';
import { verifyWebhook } from './webhook-signature.ts';

/** What the HTTP server needs from the daemon. */
export interface HttpAppOptions {
  readonly status: DaemonStatus;
  readonly metrics: KeelsonMetrics;
  /** Asks for a pass (the webhook never passes anything else along). */
  readonly requestPass: (reason: 'webhook') => void;
  readonly webhookSecret: SecretValue | undefined;
  /** Default 60. */
  readonly webhookRatePerMinute?: number;
  /** `/readyz` fails when the last fetch or observe is older than this. */
  readonly readyMaxAgeMs: number;
  readonly log: Logger;
  readonly now?: () => Date;
  /** Concurrent /metrics, /status and / answers before 503 (default 64). */
  readonly maxConcurrentReads?: number;
}

const MAX_WEBHOOK_BODY = 1024 * 1024;

/**
 * Builds the fastify app without listening, so tests use `inject()` (fastify's own pattern).
 * Routes: `/healthz`, `/readyz`, `/metrics`, `/status`, `/` and `POST /hooks/git`.
 */
export function buildHttpApp(options: HttpAppOptions): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: MAX_WEBHOOK_BODY });
  const now = options.now ?? (() => new Date());
  const rate = options.webhookRatePerMinute ?? 60;
  // Authenticated and refused webhook requests spend separate budgets: a flood of unsigned
  // requests must never make a correctly signed push wait.
  const signedBucket = new TokenBucket(rate);
  const refusedBucket = new TokenBucket(rate);
  const metricsText = singleFlight(() => options.metrics.render());
  const statusJson = byVersion(options.status, () => JSON.stringify(statusView(options.status.data)));
  const statusPage = byVersion(options.status, () => renderStatusPage(statusView(options.status.data)));

  // At most this many /metrics, /status and / answers are being sent at once; beyond it a request
  // gets 503 with Retry-After at once, so a flood cannot crowd out /healthz or the reconcile loop.
  let heavy = 0;
  const heavyLimit = options.maxConcurrentReads ?? 64;
  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0];
    if (path !== '/metrics' && path !== '/status' && path !== '/') return;
    if (heavy >= heavyLimit) {
      reply.code(503).header('retry-after', '1').send({ error: 'busy: too many concurrent reads; try again' });
      return reply;
    }
    heavy++;
    let released = false;
    const release = () => {
      if (!released) {
        released = true;
        heavy--;
      }
    };
    reply.raw.once('finish', release);
    reply.raw.once('close', release);
  });

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const verdict = options.status.readiness(now(), options.readyMaxAgeMs);
    reply.code(verdict.ready ? 200 : 503);
    return { ready: verdict.ready, reasons: verdict.reasons, ...(verdict.role ? { role: verdict.role } : {}) };
  });

  // Under a flood of scrapes every request in flight shares one rendering, and /status and /
  // are rendered once per change of the status: a flood costs sending bytes, not rendering them,
  // so /healthz and the reconcile loop stay responsive.
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', options.metrics.contentType);
    return metricsText();
  });

  app.get('/status', async (_request, reply) => {
    reply.header('content-type', 'application/json; charset=utf-8');
    return statusJson();
  });

  app.get('/', async (_request, reply) => {
    reply.header('content-type', 'text/html; charset=utf-8');
    reply.header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'");
    return statusPage();
  });

  app.register(async (hooks) => {
    // The signature covers the exact bytes sent, so the body must reach us unparsed.
    hooks.removeAllContentTypeParsers();
    hooks.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    hooks.post('/hooks/git', async (request, reply) => {
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const verdict = verifyWebhook(request.headers, body, options.webhookSecret);
      if (!verdict.ok) {
        if (!refusedBucket.take()) {
          reply.code(429).header('retry-after', '60');
          return { error: 'too many refused webhook requests' };
        }
        options.log.warn({ ip: request.ip, reason: verdict.reason }, 'webhook refused');
        reply.code(401);
        return { error: 'unauthorized' };
      }
      if (!signedBucket.take()) {
        reply.code(429).header('retry-after', '60');
        return { error: 'too many webhook requests; a pass is coming anyway' };
      }
      options.log.info({ sender: verdict.sender }, 'webhook accepted; pass requested');
      options.requestPass('webhook');
      reply.code(202);
      return { accepted: true };
    });
  });

  return app;
}

/** Calls `make` once for all callers that ask while a call is in flight. */
function singleFlight<T>(make: () => Promise<T>): () => Promise<T> {
  let inFlight: Promise<T> | undefined;
  return () => {
    inFlight ??= make().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
}

/** Reuses what `make` rendered until the status changes. */
function byVersion(status: DaemonStatus, make: () => string): () => string {
  let cached: { version: number; text: string } | undefined;
  return () => {
    if (cached?.version !== status.version) cached = { version: status.version, text: make() };
    return cached.text;
  };
}
