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
}

const MAX_WEBHOOK_BODY = 1024 * 1024;

/**
 * Builds the fastify app without listening, so tests use `inject()` (fastify's own pattern).
 * Routes: `/healthz`, `/readyz`, `/metrics`, `/status`, `/` and `POST /hooks/git`.
 */
export function buildHttpApp(options: HttpAppOptions): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: MAX_WEBHOOK_BODY });
  const now = options.now ?? (() => new Date());
  const bucket = new TokenBucket(options.webhookRatePerMinute ?? 60);

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const verdict = options.status.readiness(now(), options.readyMaxAgeMs);
    reply.code(verdict.ready ? 200 : 503);
    return { ready: verdict.ready, reasons: verdict.reasons };
  });

  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', options.metrics.contentType);
    return options.metrics.render();
  });

  app.get('/status', async () => statusView(options.status.data));

  app.get('/', async (_request, reply) => {
    reply.header('content-type', 'text/html; charset=utf-8');
    reply.header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'");
    return renderStatusPage(statusView(options.status.data));
  });

  app.register(async (hooks) => {
    // The signature covers the exact bytes sent, so the body must reach us unparsed.
    hooks.removeAllContentTypeParsers();
    hooks.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    hooks.post('/hooks/git', async (request, reply) => {
      if (!bucket.take()) {
        reply.code(429).header('retry-after', '60');
        return { error: 'too many webhook requests; a pass is coming anyway' };
      }
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const verdict = verifyWebhook(request.headers, body, options.webhookSecret);
      if (!verdict.ok) {
        options.log.warn({ ip: request.ip, reason: verdict.reason }, 'webhook refused');
        reply.code(401);
        return { error: 'unauthorized' };
      }
      options.log.info({ sender: verdict.sender }, 'webhook accepted; pass requested');
      options.requestPass('webhook');
      reply.code(202);
      return { accepted: true };
    });
  });

  return app;
}
