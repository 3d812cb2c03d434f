import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Daemon } from '../reconciler/app/daemon.ts';
import { loadConfig } from '../reconciler/config/load-config.ts';
import { createLogger } from '../reconciler/observability/logger.ts';
import { editByHand, fileCloudModule, readCloud } from './daemon-file-cloud.ts';
import { alertReceiver, sendWebhook, TestRepo, until } from './daemon-support.ts';

const SECRET = 'push-secret';
const service = (name: string, replicas: number, extra = '') =>
  `kind: file.Service\nname: ${name}\n${extra}spec:\n  image: keelson-test/busybox:1\n  replicas: ${replicas}\n`;

/**
 * The daemon end to end, in process: a real bare Git repository, real pushes, the signed
 * webhook over a loopback port, the file state store, and a file-backed fake cloud (the
 * Swarm version of these steps is in daemon-swarm.test.ts).
 */
describe('keelson serve: git push to converged, bad revisions, drift alerts, restart', () => {
  const repo = new TestRepo();
  const cloud = join(repo.root, 'cloud.json');
  let receiver: Awaited<ReturnType<typeof alertReceiver>>;
  let daemon: Daemon;
  let base: string;

  const env = () => ({
    KEELSON_SOURCE_URL: `file://${repo.bare}`,
    KEELSON_SOURCE_PATH: 'desired-state',
    KEELSON_CHECKOUT_DIR: join(repo.root, 'checkout'),
    KEELSON_STATE_PATH: join(repo.root, 'state.json'),
    KEELSON_HTTP_HOST: '127.0.0.1',
    KEELSON_HTTP_PORT: '0',
    // Only the webhook triggers passes here, so each step is one known pass.
    KEELSON_POLL_INTERVAL_SECONDS: '3600',
    KEELSON_WEBHOOK_SECRET: SECRET,
    KEELSON_ALERT_WEBHOOK_URL: receiver.url,
    KEELSON_ALERT_WEBHOOK_SECRET: 'alert-secret',
    KEELSON_ALERT_AFTER_OBSERVATIONS: '1',
    KEELSON_OWNER: 'keelson-e2e',
    KEELSON_LOG_LEVEL: 'silent',
  });

  async function startDaemon(): Promise<void> {
    const loaded = loadConfig({ env: env(), cwd: repo.root });
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
    daemon = new Daemon(loaded.config, createLogger('silent'), { modules: [fileCloudModule(cloud)], env: {} });
    base = (await daemon.start()).replace('0.0.0.0', '127.0.0.1');
    await until(() => daemon.status.data.passes >= 1, 'the first pass');
  }

  /** One pass through the webhook: waits until a pass has started and finished after the request. */
  async function pass(): Promise<void> {
    const before = daemon.status.data.passes;
    expect(await sendWebhook(base, SECRET)).toBe(202);
    await until(() => daemon.status.data.passes > before, 'a pass after the webhook');
  }

  // biome-ignore lint/suspicious/noExplicitAny: the JSON shape is asserted field by field below
  const status = async (): Promise<any> => (await fetch(`${base}/status`)).json();
  const live = (name: string) => readCloud(cloud).filter((i) => i.name === name);

  beforeAll(async () => {
    receiver = await alertReceiver();
    repo.push({ 'desired-state/web.yaml': service('web', 2) });
    await startDaemon();
  });

  afterAll(async () => {
    await daemon?.stop();
    await receiver?.close();
  });

  it('converges the pushed commit', async () => {
    await until(() => live('web').length === 1, 'web created');
    expect(live('web')[0]).toMatchObject({ replicas: 2, owner: 'keelson-e2e' });
    expect((await status()).revision).toMatch(/^[0-9a-f]{40}$/);
  });

  it('a push plus a signed webhook converges the new commit; a bad signature gets 401 and no pass', async () => {
    const sha = repo.push({ 'desired-state/web.yaml': service('web', 3) });
    await pass();
    expect(live('web')[0]?.replicas).toBe(3);
    expect((await status()).revision).toBe(sha);
    const passes = daemon.status.data.passes;
    const res = await fetch(`${base}/hooks/git`, {
      method: 'POST',
      headers: { 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` },
      body: '{}',
    });
    expect(res.status).toBe(401);
    await new Promise((r) => setTimeout(r, 300));
    expect(daemon.status.data.passes).toBe(passes);
  });

  it('a commit with errors is reported with file:line, nothing of it is applied, the previous revision stays', async () => {
    const good = (await status()).revision;
    const bad = repo.push({
      'desired-state/web.yaml': service('web', 7),
      'desired-state/api.yaml': 'kind: file.Service\nname: api\nspec:\n  replicas: [oops\n',
    });
    await pass();
    const s = await status();
    expect(s.revision).toBe(good);
    expect(s.fetchedRevision).toBe(bad);
    expect(s.diagnostics.length).toBeGreaterThan(0);
    expect(s.diagnostics[0]).toMatchObject({ file: 'api.yaml', severity: 'error' });
    expect(s.diagnostics[0].line).toBeGreaterThan(0);
    expect(s.conditions.find((c: { type: string }) => c.type === 'Valid')).toMatchObject({ status: 'False' });
    // web.yaml of the bad commit asked for 7: not applied, not even that part.
    expect(live('web')[0]?.replicas).toBe(3);
    expect(live('api')).toEqual([]);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/keelson_desired_state_diagnostics\{severity="error"\} [1-9]/);
    expect(metrics).toContain(`applied="${good}"`);
    const html = await (await fetch(`${base}/`)).text();
    expect(html).toContain('api.yaml:');
    // Fixing it makes it the revision in effect.
    const fixed = repo.push({ 'desired-state/api.yaml': service('api', 1) });
    await pass();
    expect((await status()).revision).toBe(fixed);
    expect(live('web')[0]?.replicas).toBe(7);
    expect(live('api')).toHaveLength(1);
  });

  it('drift under enforce: healed in the same pass and announced once as healed, nothing left open', async () => {
    const start = receiver.alerts.length;
    editByHand(cloud, 'web', { replicas: 1 });
    await pass();
    expect(live('web')[0]?.replicas).toBe(7);
    await until(() => receiver.alerts.length > start, 'the healed notification');
    expect(receiver.alerts.slice(start)).toMatchObject([
      { type: 'drift.healed', key: 'file.Service/web', fields: [{ path: 'replicas', before: '1', after: '7' }] },
    ]);
    await pass();
    await daemon.alerts.idle();
    expect(receiver.alerts.slice(start).map((a) => a.type)).toEqual(['drift.healed']);
  });

  it('drift under observe: left alone and alerted once, no duplicate after a restart, then resolved', async () => {
    repo.push({ 'desired-state/web.yaml': service('web', 7, 'policy: observe\n') });
    await pass();
    const start = receiver.alerts.length;
    editByHand(cloud, 'web', { replicas: 4 });
    await pass();
    await until(() => receiver.alerts.length > start, 'the drift alert');
    await pass();
    expect(live('web')[0]?.replicas).toBe(4);
    const drifted = (await status()).drifted;
    expect(drifted).toMatchObject([{ key: 'file.Service/web', policy: 'observe', alerted: true }]);

    await daemon.stop();
    await startDaemon();
    await pass();
    expect(live('web')[0]?.replicas).toBe(4);
    await daemon.alerts.idle();
    expect(receiver.alerts.slice(start).map((a) => a.type)).toEqual(['drift.opened']);

    editByHand(cloud, 'web', { replicas: 7 });
    await pass();
    await until(() => receiver.alerts.length > start + 1, 'the resolved alert');
    expect(receiver.alerts.slice(start).map((a) => a.type)).toEqual(['drift.opened', 'drift.resolved']);
    expect((await status()).drifted).toEqual([]);
  });
});
