import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { editByHand, readCloud } from './daemon-file-cloud.ts';
import { freePort, sendWebhook, TestRepo, until } from './daemon-support.ts';

/**
 * The daemon across real restarts (a child process stopped with SIGTERM or `kill -9` and started
 * again on the same state file and checkout), against a local Git repository and the file-backed
 * fake cloud. Each case says why its expectation is right.
 */
const SECRET = 'push-secret';
const service = (name: string, replicas: number) =>
  `kind: file.Service\nname: ${name}\nspec:\n  image: keelson-test/busybox:1\n  replicas: ${replicas}\n`;
const children: ChildProcess[] = [];
const servers: Server[] = [];

afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

interface Received {
  id: string;
  type: string;
  key: string;
  header: string | undefined;
  status: number;
}

/** An alert webhook receiver whose answer can be switched between failing (503) and accepting. */
async function switchableReceiver(): Promise<{ url: string; got: Received[]; accept: (yes: boolean) => void }> {
  const got: Received[] = [];
  let accepting = false;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const alert = JSON.parse(body) as { id: string; type: string; key: string };
      const status = accepting ? 200 : 503;
      got.push({
        id: alert.id,
        type: alert.type,
        key: alert.key,
        header: req.headers['x-keelson-delivery'] as string | undefined,
        status,
      });
      res.statusCode = status;
      res.end();
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`,
    got,
    accept: (yes) => {
      accepting = yes;
    },
  };
}

class DaemonProcess {
  readonly repo = new TestRepo();
  readonly cloud = join(this.repo.root, 'cloud.json');
  readonly statePath = join(this.repo.root, 'state.json');
  port = 0;
  child: ChildProcess | undefined;
  extraEnv: Record<string, string> = {};

  async start(): Promise<void> {
    this.port ||= await freePort();
    const child = spawn(process.execPath, [join(import.meta.dirname, 'daemon-child.ts')], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        FILE_CLOUD: this.cloud,
        KEELSON_SOURCE_URL: `file://${this.repo.bare}`,
        KEELSON_SOURCE_PATH: 'desired-state',
        KEELSON_CHECKOUT_DIR: join(this.repo.root, 'checkout'),
        KEELSON_STATE_PATH: this.statePath,
        KEELSON_HTTP_HOST: '127.0.0.1',
        KEELSON_HTTP_PORT: String(this.port),
        // Only start-up and the webhook trigger passes, so each step is one known pass.
        KEELSON_POLL_INTERVAL_SECONDS: '3600',
        KEELSON_WEBHOOK_SECRET: SECRET,
        KEELSON_OWNER: 'keelson-restart',
        KEELSON_LOG_LEVEL: 'warn',
        ...this.extraEnv,
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(child);
    this.child = child;
    await until(async () => ((await this.status())?.passes ?? 0) >= 1, 'the first pass after the start', 90_000);
  }

  // biome-ignore lint/suspicious/noExplicitAny: the JSON shape is asserted field by field in the tests
  async status(): Promise<any> {
    try {
      return await (await fetch(`http://127.0.0.1:${this.port}/status`)).json();
    } catch {
      return undefined;
    }
  }

  async metrics(): Promise<string> {
    return (await fetch(`http://127.0.0.1:${this.port}/metrics`)).text();
  }

  /**
   * Asks for a pass and waits until a pass that fetched after the request has also observed and
   * applied (a pass already running when the request came does not count).
   */
  async pass(): Promise<void> {
    const asked = new Date().toISOString();
    expect(await sendWebhook(`http://127.0.0.1:${this.port}`, SECRET)).toBe(202);
    await until(async () => {
      const s = await this.status();
      return s.lastFetchAt > asked && s.lastObserveAt >= s.lastFetchAt;
    }, 'a pass after the webhook');
  }

  async stop(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill(signal);
    await until(() => child.exitCode !== null || child.signalCode !== null, `the daemon to stop on ${signal}`);
    if (signal === 'SIGTERM') expect(child.exitCode).toBe(0);
  }

  state(): { lastGood?: { revision: string }; outbox?: Record<string, { id: string }[]> } {
    return JSON.parse(readFileSync(this.statePath, 'utf8'));
  }

  replicas(name: string): number | undefined {
    return readCloud(this.cloud).find((i) => i.name === name)?.replicas;
  }
}

const reconciled = (s: { conditions?: { type: string; status: string }[] } | undefined) =>
  s?.conditions?.some((c) => c.type === 'Reconciled' && c.status === 'True');

describe('the daemon across restarts', () => {
  it.each(['SIGTERM', 'SIGKILL'] as const)(
    'after %s, the last good revision stays in effect when the tip is invalid, and drift against it is healed',
    async (signal) => {
      // Why: the README promises that a bad revision is never applied and that the last good one
      // stays in effect; a restart must not turn that into "nothing is in effect".
      const d = new DaemonProcess();
      const good = d.repo.push({ 'desired-state/app.yaml': service('web', 1) });
      await d.start();
      await until(async () => reconciled(await d.status()), 'the first convergence');
      expect(d.replicas('web')).toBe(1);
      expect(d.state().lastGood?.revision).toBe(good);

      const bad = d.repo.push({ 'desired-state/app.yaml': `${service('web', 1)}  replicas: [oops\n` }, 'broken');
      await d.pass();
      expect((await d.status()).revision).toBe(good);
      await d.stop(signal);

      editByHand(d.cloud, 'web', { replicas: 7 });
      await d.start();
      await until(async () => d.replicas('web') === 1, 'the hand edit to be healed against the last good revision');
      const s = await d.status();
      expect(s.revision).toBe(good);
      expect(s.fetchedRevision).toBe(bad);
      expect(s.refusedRevisions).toEqual([expect.objectContaining({ revision: bad, reason: 'invalid' })]);
      expect(s.diagnostics.length).toBeGreaterThan(0);
      expect(await d.metrics()).toContain(
        `keelson_revision_info{revision="${bad}",applied="${good}",refused="${bad}"} 1`,
      );
      await d.stop('SIGTERM');
    },
    180_000,
  );

  it('verifies the revision found on disk at start once verification is turned on, and does not use it unsigned', async () => {
    // Why: the on-disk marker only says what was checked out, not that this configuration accepted
    // it; an unsigned commit applied before verification was turned on must not be used after.
    const d = new DaemonProcess();
    const unsigned = d.repo.push({ 'desired-state/app.yaml': service('web', 2) });
    await d.start();
    await until(async () => reconciled(await d.status()), 'the first convergence without verification');
    await d.stop('SIGTERM');

    const keyring = join(d.repo.root, 'keyring');
    mkdirSync(keyring, { mode: 0o700 });
    d.extraEnv = { KEELSON_VERIFY_SIGNATURES: 'true', KEELSON_KEYRING_DIR: keyring };
    editByHand(d.cloud, 'web', { replicas: 9 });
    await d.start();
    const s = await d.status();
    expect(s.revision).toBeNull();
    expect(s.refusedRevisions).toEqual([expect.objectContaining({ revision: unsigned, reason: 'unverified' })]);
    expect(s.conditions.find((c: { type: string }) => c.type === 'Fetched')).toMatchObject({
      status: 'False',
      reason: 'Rejected',
    });
    expect(await d.metrics()).toContain(`refused="${unsigned}"`);
    // Nothing from the unverified revision was enforced: the hand edit is still there.
    expect(d.replicas('web')).toBe(9);
    await d.stop('SIGTERM');
  }, 180_000);

  it('delivers an alert that was still being retried when the daemon stopped, after the restart, with the same id', async () => {
    // Why: marking an alert sent before the receiver took it loses it for good on a restart.
    // The hand edit here is healed in the same pass (enforce), which is itself news: "drift healed".
    const receiver = await switchableReceiver();
    const d = new DaemonProcess();
    d.extraEnv = { KEELSON_ALERT_WEBHOOK_URL: receiver.url, KEELSON_ALERT_WEBHOOK_SECRET: 'alert-secret' };
    d.repo.push({ 'desired-state/app.yaml': service('web', 1) });
    await d.start();
    await until(async () => reconciled(await d.status()), 'the first convergence');

    editByHand(d.cloud, 'web', { replicas: 4 });
    await d.pass();
    await until(() => d.replicas('web') === 1, 'the hand edit to be healed');
    await until(() => receiver.got.length >= 1, 'a first (refused) delivery attempt');
    const failed = receiver.got[0] as Received;
    expect(failed).toMatchObject({ type: 'drift.healed', key: 'file.Service/web', status: 503 });
    expect(failed.header).toBe(failed.id);
    expect(d.state().outbox?.webhook?.map((m) => m.id)).toEqual([failed.id]);
    await d.stop('SIGTERM');

    receiver.accept(true);
    await d.start();
    await until(() => receiver.got.some((r) => r.status === 200), 'the delivery after the restart');
    const delivered = receiver.got.filter((r) => r.status === 200);
    expect(delivered.map((r) => r.id)).toEqual([failed.id]);
    // The delivered message leaves the outbox at the next state write (a pass, or the stop).
    await d.stop('SIGTERM');
    expect(d.state().outbox?.webhook ?? []).toEqual([]);
  }, 180_000);

  it('a damaged state file stops the daemon at start with the file and the problem named, and is left as it was', async () => {
    // Why: a state that lost its inventory is not an empty state; acting on it makes keelson forget
    // what it owns, and writing it back makes that permanent.
    const d = new DaemonProcess();
    d.repo.push({ 'desired-state/app.yaml': service('web', 1) });
    await d.start();
    await until(async () => reconciled(await d.status()), 'the first convergence');
    await d.stop('SIGTERM');
    const damaged = JSON.stringify({ ...JSON.parse(readFileSync(d.statePath, 'utf8')), inventory: null });
    writeFileSync(d.statePath, damaged);

    const child = spawn(process.execPath, [join(import.meta.dirname, 'daemon-child.ts')], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        FILE_CLOUD: d.cloud,
        KEELSON_SOURCE_URL: `file://${d.repo.bare}`,
        KEELSON_SOURCE_PATH: 'desired-state',
        KEELSON_CHECKOUT_DIR: join(d.repo.root, 'checkout'),
        KEELSON_STATE_PATH: d.statePath,
        KEELSON_HTTP_PORT: '0',
        KEELSON_LOG_LEVEL: 'error',
      },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    children.push(child);
    let out = '';
    child.stdout?.on('data', (c) => (out += c));
    await until(() => child.exitCode !== null, 'the daemon to refuse to start');
    expect(child.exitCode).toBe(1);
    expect(out).toContain(d.statePath);
    expect(out).toContain('inventory: expected an object of records, found null');
    expect(readFileSync(d.statePath, 'utf8')).toBe(damaged);
  }, 120_000);
});
