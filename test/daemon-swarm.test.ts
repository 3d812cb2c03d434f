import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { swarmModule } from '../providers/swarm/index.ts';
import { sweep, testClient, testDockerHost } from '../providers/swarm/test-support.ts';
import { Daemon } from '../reconciler/app/daemon.ts';
import { loadConfig } from '../reconciler/config/load-config.ts';
import { createLogger } from '../reconciler/observability/logger.ts';
import { alertReceiver, sendWebhook, TestRepo, until } from './daemon-support.ts';

const PREFIX = 'kds-';
const SECRET = 'swarm-push-secret';
const NAME = `${PREFIX}web`;

/** A quick-stopping, quick-rolling service (init so `sleep` stops on SIGTERM). */
const service = (replicas: number, policy = 'enforce') => `kind: swarm.Service
name: ${NAME}
policy: ${policy}
spec:
  image: keelson-test/busybox:1
  args: [sleep, '3600']
  init: true
  stopGracePeriod: 1s
  deploy:
    replicas: ${replicas}
    restartPolicy: { delay: 1s }
    updateConfig: { monitor: 1s }
    rollbackConfig: { monitor: 1s }
`;

/** The daemon against the real local Swarm: push converges, drift from `docker service scale` is alerted once and healed. */
describe('keelson serve on the local Swarm', { timeout: 180_000 }, () => {
  const host = testDockerHost();
  const client = testClient();
  const repo = new TestRepo();
  let receiver: Awaited<ReturnType<typeof alertReceiver>>;
  let daemon: Daemon;
  let base: string;
  const replicas = () =>
    Number(
      execFileSync('docker', ['service', 'inspect', NAME, '--format', '{{.Spec.Mode.Replicated.Replicas}}'], {
        env: { ...process.env, DOCKER_HOST: host },
      })
        .toString()
        .trim(),
    );

  async function pass(): Promise<void> {
    const before = daemon.status.data.passes;
    expect(await sendWebhook(base, SECRET)).toBe(202);
    await until(() => daemon.status.data.passes > before, 'a pass after the webhook', 120_000);
  }

  beforeAll(async () => {
    await sweep(client, PREFIX);
    receiver = await alertReceiver();
    repo.push({ 'desired-state/web.yaml': service(1) });
    const loaded = loadConfig({
      env: {
        KEELSON_SOURCE_URL: `file://${repo.bare}`,
        KEELSON_SOURCE_PATH: 'desired-state',
        KEELSON_CHECKOUT_DIR: join(repo.root, 'checkout'),
        KEELSON_STATE_PATH: join(repo.root, 'state.json'),
        KEELSON_HTTP_HOST: '127.0.0.1',
        KEELSON_HTTP_PORT: '0',
        KEELSON_POLL_INTERVAL_SECONDS: '3600',
        KEELSON_WEBHOOK_SECRET: SECRET,
        KEELSON_ALERT_WEBHOOK_URL: receiver.url,
        KEELSON_ALERT_WEBHOOK_SECRET: 'alert-secret',
        KEELSON_ALERT_AFTER_OBSERVATIONS: '1',
        KEELSON_OWNER: 'keelson-daemon-swarm',
        KEELSON_LOG_LEVEL: 'silent',
      },
      cwd: repo.root,
    });
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
    daemon = new Daemon(loaded.config, createLogger('silent'), {
      modules: [swarmModule],
      env: { DOCKER_HOST: host, KEELSON_SWARM_TASK_START_MS: '60000' },
    });
    base = (await daemon.start()).replace('0.0.0.0', '127.0.0.1');
    await until(() => daemon.status.data.passes >= 1, 'the first pass', 120_000);
  });

  afterAll(async () => {
    await daemon?.stop();
    await receiver?.close();
    await sweep(client, PREFIX);
  });

  it('the first commit converges, and a pushed change converges through the signed webhook', async () => {
    expect(daemon.status.data.lastErrors).toEqual([]);
    expect(replicas()).toBe(1);
    const sha = repo.push({ 'desired-state/web.yaml': service(2) });
    await pass();
    expect(daemon.status.data.revision).toBe(sha);
    expect(replicas()).toBe(2);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/keelson_provider_api_requests_total\{provider="swarm",status="200"\} [1-9]/);
    expect(metrics).toMatch(
      /keelson_apply_actions_total\{provider="swarm",kind="swarm.Service",action="update",result="success"\} [1-9]/,
    );
  });

  it('a service scaled by hand under enforce is healed in the same pass and announced once as healed', async () => {
    const start = receiver.alerts.length;
    execFileSync('docker', ['service', 'scale', '--detach', `${NAME}=4`], {
      env: { ...process.env, DOCKER_HOST: host },
      stdio: 'ignore',
    });
    await pass();
    expect(replicas()).toBe(2);
    await until(() => receiver.alerts.length > start, 'the healed notification');
    expect(receiver.alerts.slice(start)).toMatchObject([
      {
        type: 'drift.healed',
        key: `swarm.Service/${NAME}`,
        fields: [{ path: 'deploy.replicas', before: '4', after: '2' }],
      },
    ]);
    // Nothing was left open, so the next pass has nothing to resolve.
    await pass();
    await daemon.alerts.idle();
    expect(receiver.alerts.slice(start).map((a) => a.type)).toEqual(['drift.healed']);
  });

  it('under observe: left alone and alerted once over several passes, then resolved when scaled back by hand', async () => {
    repo.push({ 'desired-state/web.yaml': service(2, 'observe') });
    await pass();
    const start = receiver.alerts.length;
    const scale = (n: number) =>
      execFileSync('docker', ['service', 'scale', '--detach', `${NAME}=${n}`], {
        env: { ...process.env, DOCKER_HOST: host },
        stdio: 'ignore',
      });
    scale(3);
    await pass();
    await pass();
    expect(replicas()).toBe(3);
    await daemon.alerts.idle();
    expect(receiver.alerts.slice(start).map((a) => a.type)).toEqual(['drift.opened']);
    scale(2);
    await pass();
    await until(() => receiver.alerts.length > start + 1, 'the resolved alert');
    expect(receiver.alerts.slice(start).map((a) => a.type)).toEqual(['drift.opened', 'drift.resolved']);
  });
});
