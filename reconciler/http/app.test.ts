import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SecretValue } from '../../providers/sdk/index.ts';
import { silentLogger } from '../../providers/sdk/testing.ts';
import { DaemonStatus } from '../loop/daemon-status.ts';
import { KeelsonMetrics } from '../observability/metrics.ts';
import { buildHttpApp } from './app.ts';

const secret = new SecretValue('webhook-secret', 'webhook');
const body = JSON.stringify({ ref: 'refs/heads/main', after: 'deadbeef' });
const hmac = (key: string, data: string) => createHmac('sha256', key).update(data).digest('hex');

function setup(options: { rate?: number; now?: Date } = {}) {
  const status = new DaemonStatus('apply');
  const metrics = new KeelsonMetrics({ kinds: [{ provider: 'swarm', kind: 'swarm.Service' }], channels: ['webhook'] });
  const requested: string[] = [];
  const app = buildHttpApp({
    status,
    metrics,
    requestPass: (reason) => requested.push(reason),
    webhookSecret: secret,
    webhookRatePerMinute: options.rate ?? 60,
    readyMaxAgeMs: 60_000,
    log: silentLogger,
    now: () => options.now ?? new Date(),
  });
  return { app, status, metrics, requested };
}

describe('push webhook', () => {
  it.each([
    {
      why: 'GitHub HMAC of the exact body',
      headers: { 'x-hub-signature-256': `sha256=${hmac('webhook-secret', body)}` },
      code: 202,
    },
    { why: 'Gitea HMAC', headers: { 'x-gitea-signature': hmac('webhook-secret', body) }, code: 202 },
    { why: 'Forgejo HMAC', headers: { 'x-forgejo-signature': hmac('webhook-secret', body) }, code: 202 },
    { why: 'GitLab token', headers: { 'x-gitlab-token': 'webhook-secret' }, code: 202 },
    { why: 'unsigned', headers: {}, code: 401 },
    {
      why: 'GitHub HMAC with the wrong key',
      headers: { 'x-hub-signature-256': `sha256=${hmac('other', body)}` },
      code: 401,
    },
    {
      why: 'GitHub HMAC of a different body',
      headers: { 'x-hub-signature-256': `sha256=${hmac('webhook-secret', `${body} `)}` },
      code: 401,
    },
    {
      why: 'GitHub header without the sha256= prefix',
      headers: { 'x-hub-signature-256': hmac('webhook-secret', body) },
      code: 401,
    },
    { why: 'Gitea signature that is not hex', headers: { 'x-gitea-signature': 'zz' }, code: 401 },
    { why: 'GitLab token that is a prefix of the secret', headers: { 'x-gitlab-token': 'webhook' }, code: 401 },
  ])('$why -> $code, and a pass is asked for only when verified', async ({ headers, code }) => {
    const { app, requested } = setup();
    const res = await app.inject({
      method: 'POST',
      url: '/hooks/git',
      payload: body,
      headers: { 'content-type': 'application/json', ...headers },
    });
    expect(res.statusCode).toBe(code);
    expect(requested).toEqual(code === 202 ? ['webhook'] : []);
  });

  it('refuses everything when no secret is configured', async () => {
    const status = new DaemonStatus('apply');
    const requested: string[] = [];
    const app = buildHttpApp({
      status,
      metrics: new KeelsonMetrics(),
      requestPass: (r) => requested.push(r),
      webhookSecret: undefined,
      readyMaxAgeMs: 1,
      log: silentLogger,
    });
    const res = await app.inject({
      method: 'POST',
      url: '/hooks/git',
      payload: body,
      headers: { 'x-gitlab-token': '' },
    });
    expect(res.statusCode).toBe(401);
    expect(requested).toEqual([]);
  });

  it('rate-limits: beyond the budget requests get 429 and trigger nothing', async () => {
    const { app, requested } = setup({ rate: 3 });
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await app.inject({
        method: 'POST',
        url: '/hooks/git',
        payload: body,
        headers: { 'x-gitlab-token': 'webhook-secret' },
      });
      codes.push(res.statusCode);
    }
    expect(codes).toEqual([202, 202, 202, 429, 429]);
    expect(requested).toHaveLength(3);
  });

  it('refused requests spend their own budget: 60 unsigned requests do not make the next signed push wait', async () => {
    // Why: one shared bucket spent before authentication let anyone starve the real pushes.
    const { app, requested } = setup({ rate: 60 });
    const refused: number[] = [];
    for (let i = 0; i < 62; i++) {
      const res = await app.inject({
        method: 'POST',
        url: '/hooks/git',
        payload: body,
        headers: { 'x-gitlab-token': 'wrong' },
      });
      refused.push(res.statusCode);
    }
    expect(refused.slice(0, 60).every((c) => c === 401)).toBe(true);
    expect(refused.slice(60)).toEqual([429, 429]);
    const signed = await app.inject({
      method: 'POST',
      url: '/hooks/git',
      payload: body,
      headers: { 'x-gitlab-token': 'webhook-secret' },
    });
    expect(signed.statusCode).toBe(202);
    expect(requested).toHaveLength(1);
  });
});

describe('a flood of reads', () => {
  it('beyond the concurrent-read limit /metrics, /status and / answer 503 with Retry-After, and /healthz still answers', async () => {
    const { status, metrics } = setup();
    const app = buildHttpApp({
      status: status,
      metrics,
      requestPass: () => {},
      webhookSecret: secret,
      readyMaxAgeMs: 60_000,
      log: silentLogger,
      maxConcurrentReads: 0,
    });
    for (const url of ['/metrics', '/status', '/']) {
      const res = await app.inject(url);
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBe('1');
    }
    expect((await app.inject('/healthz')).statusCode).toBe(200);
  });

  it('/status is rendered again as soon as the status changes', async () => {
    const { app, status } = setup();
    expect(JSON.parse((await app.inject('/status')).body).revision).toBeNull();
    status.update({ revision: 'abc123' });
    expect(JSON.parse((await app.inject('/status')).body).revision).toBe('abc123');
  });
});

describe('probes and status', () => {
  it('/healthz answers while the process lives', async () => {
    expect((await setup().app.inject('/healthz')).statusCode).toBe(200);
  });

  it('/readyz is 503 before anything was fetched and observed, 200 after, 503 again when stalled or stale', async () => {
    const now = new Date('2026-01-01T12:00:00Z');
    const { app, status } = setup({ now });
    expect((await app.inject('/readyz')).statusCode).toBe(503);
    status.update({ lastFetchAt: '2026-01-01T11:59:30Z', lastObserveAt: '2026-01-01T11:59:31Z' });
    expect((await app.inject('/readyz')).statusCode).toBe(200);
    status.update({ stalled: true });
    const stalled = await app.inject('/readyz');
    expect(stalled.statusCode).toBe(503);
    expect(stalled.json().reasons.join(' ')).toContain('stalled');
    status.update({ stalled: false, lastObserveAt: '2026-01-01T11:00:00Z' });
    expect((await app.inject('/readyz')).statusCode).toBe(503);
  });

  it('/metrics exports every metric from the start, at zero', async () => {
    const text = (await setup().app.inject('/metrics')).body;
    for (const line of [
      'keelson_reconcile_passes_total{result="success"} 0',
      'keelson_reconcile_passes_total{result="failed"} 0',
      'keelson_reconcile_duration_seconds_count{result="success"} 0',
      'keelson_last_successful_reconcile_timestamp_seconds 0',
      'keelson_stalled 0',
      'keelson_desired_resources{provider="swarm",kind="swarm.Service"} 0',
      'keelson_drifted_resources{provider="swarm",kind="swarm.Service"} 0',
      'keelson_drift_detected_total{provider="swarm",kind="swarm.Service"} 0',
      'keelson_apply_actions_total{provider="swarm",kind="swarm.Service",action="update",result="success"} 0',
      'keelson_provider_api_requests_total{provider="swarm",status="200"} 0',
      'keelson_provider_request_duration_seconds_count{provider="swarm"} 0',
      'keelson_alerts_sent_total{channel="webhook",type="opened",result="sent"} 0',
      'keelson_desired_state_diagnostics{severity="error"} 0',
    ]) {
      expect(text).toContain(line);
    }
    expect(text).toContain('# TYPE keelson_revision_info gauge');
    expect(text).toContain('# TYPE keelson_provider_rate_budget_remaining gauge');
  });

  it('/status and / show the revision, drift (secrets redacted) and diagnostics; HTML is escaped', async () => {
    const { app, status } = setup();
    status.update({
      revision: 'abc123',
      fetchedRevision: 'def456',
      drifted: [
        {
          key: 'swarm.Service/<web>',
          fingerprint: 'f',
          observations: 2,
          firstSeen: 'a',
          lastSeen: 'b',
          fields: ['env.TOKEN'],
          policy: 'observe',
        },
      ],
      diagnostics: [
        { severity: 'error', code: 'yaml-syntax', message: 'bad indentation', file: 'web.yaml', line: 3, column: 1 },
      ],
      lastPlan: {
        revision: 'abc123',
        changes: [],
        drift: [
          {
            key: 'swarm.Service/<web>',
            kind: 'swarm.Service',
            name: '<web>',
            provider: 'swarm',
            policy: 'observe',
            type: 'changed',
            fingerprint: 'f',
            fields: [
              {
                path: 'env.TOKEN',
                before: 'live-secret',
                after: new SecretValue('git-secret', 'T'),
                sensitive: true,
                forcesReplacement: false,
                unknown: false,
              },
            ],
          },
        ],
        summary: { create: 0, update: 0, replace: 0, delete: 0, noop: 1, skip: 0 },
      },
    });
    const json = (await app.inject('/status')).json();
    expect(json).toMatchObject({ revision: 'abc123', fetchedRevision: 'def456' });
    expect(json.drifted[0].fields[0]).toEqual({ path: 'env.TOKEN', before: '(sensitive)', after: '(sensitive)' });
    expect(json.diagnostics[0]).toMatchObject({ file: 'web.yaml', line: 3 });
    const html = (await app.inject('/')).body;
    expect(html).toContain('abc123');
    expect(html).toContain('swarm.Service/&lt;web&gt;');
    expect(html).toContain('web.yaml:3:1');
    expect(html).not.toContain('live-secret');
    expect(html).not.toMatch(/<script|https?:\/\/(?!localhost)/);
  });
});
