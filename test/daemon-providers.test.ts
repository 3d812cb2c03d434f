import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { swarmModule } from '../providers/swarm/index.ts';
import { Daemon } from '../reconciler/app/daemon.ts';
import { loadConfig } from '../reconciler/config/load-config.ts';
import { createLogger } from '../reconciler/observability/logger.ts';
import { fileCloudModule, readCloud } from './daemon-file-cloud.ts';
import { TestRepo, until } from './daemon-support.ts';

/**
 * One unusable provider stalls nothing else. The Swarm provider here points at things that look
 * like a Docker Engine's socket and are not: a plain file, and a socket whose "engine" hangs up on
 * every request. Git uses only the file-backed fake cloud (or, in the last case, both).
 */
const service = (name: string) =>
  `kind: file.Service\nname: ${name}\nspec:\n  image: keelson-test/busybox:1\n  replicas: 1\n`;
const network = 'kind: swarm.Network\nname: restart-net\nspec:\n  driver: overlay\n';

const daemons: Daemon[] = [];
const servers: Server[] = [];
afterEach(async () => {
  for (const d of daemons.splice(0)) await d.stop();
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/** A unix socket that accepts connections and closes them at once: an engine that is there and unusable. */
async function hangUpSocket(dir: string): Promise<string> {
  const path = join(dir, 'docker.sock');
  const server = createServer((socket) => socket.destroy());
  servers.push(server);
  await new Promise<void>((r) => server.listen(path, () => r()));
  return path;
}

async function start(repo: TestRepo, dockerSocket: string): Promise<{ daemon: Daemon; cloud: string }> {
  const cloud = join(repo.root, 'cloud.json');
  const loaded = loadConfig({
    env: {
      KEELSON_SOURCE_URL: `file://${repo.bare}`,
      KEELSON_SOURCE_PATH: 'desired-state',
      KEELSON_CHECKOUT_DIR: join(repo.root, 'checkout'),
      KEELSON_STATE_PATH: join(repo.root, 'state.json'),
      KEELSON_HTTP_HOST: '127.0.0.1',
      KEELSON_HTTP_PORT: '0',
      KEELSON_POLL_INTERVAL_SECONDS: '3600',
      KEELSON_OWNER: 'keelson-providers',
      KEELSON_LOG_LEVEL: 'silent',
    },
    cwd: repo.root,
  });
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  const daemon = new Daemon(loaded.config, createLogger('silent'), {
    modules: [swarmModule, fileCloudModule(cloud)],
    env: { DOCKER_HOST: `unix://${dockerSocket}` },
  });
  daemons.push(daemon);
  await daemon.start();
  await until(() => daemon.status.data.passes >= 1, 'the first pass');
  return { daemon, cloud };
}

const condition = (d: Daemon, type: string) => d.status.data.conditions.find((c) => c.type === type);

describe('one unusable provider stalls nothing else', () => {
  it('a zero-byte file where the Docker socket should be is no engine: Swarm is unavailable, the rest is ready', async () => {
    // Why: a file left behind at the socket path once made Swarm count as available, and every pass failed.
    const dir = mkdtempSync(join(tmpdir(), 'keelson-sock-'));
    const fake = join(dir, 'docker.sock');
    writeFileSync(fake, '');
    const repo = new TestRepo();
    repo.push({ 'desired-state/app.yaml': service('web') });
    const { daemon, cloud } = await start(repo, fake);
    expect(daemon.status.data.unavailableProviders.swarm).toContain('is not a socket');
    expect(readCloud(cloud).map((i) => i.name)).toEqual(['web']);
    expect(condition(daemon, 'Reconciled')?.status).toBe('True');
    expect(condition(daemon, 'Ready')?.status).toBe('True');
    expect(daemon.status.data.lastErrors).toEqual([]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a provider Git does not use and that owns nothing is not even connected to: no error, daemon ready', async () => {
    // Why: a Swarm-less tree must not fail because the machine has a broken engine socket.
    const dir = mkdtempSync(join(tmpdir(), 'keelson-sock-'));
    const repo = new TestRepo();
    repo.push({ 'desired-state/app.yaml': service('web') });
    const { daemon, cloud } = await start(repo, await hangUpSocket(dir));
    expect(daemon.status.data.unavailableProviders.swarm).toBeUndefined();
    expect(readCloud(cloud).map((i) => i.name)).toEqual(['web']);
    expect(daemon.status.data.lastErrors).toEqual([]);
    expect(condition(daemon, 'Ready')?.status).toBe('True');
    expect(daemon.status.data.stalled).toBe(false);
  });

  it('when Git does use the unusable provider, only its resources fail; the others are applied', async () => {
    // Why: one dead endpoint must cost only what depends on it.
    const dir = mkdtempSync(join(tmpdir(), 'keelson-sock-'));
    const repo = new TestRepo();
    repo.push({ 'desired-state/app.yaml': `${service('web')}---\n${network}` });
    const { daemon, cloud } = await start(repo, await hangUpSocket(dir));
    expect(readCloud(cloud).map((i) => i.name)).toEqual(['web']);
    const errors = daemon.status.data.lastErrors;
    expect(errors.length).toBeGreaterThan(0);
    for (const e of errors) expect(`${e.provider ?? ''} ${e.resource ?? ''} ${e.message}`).toMatch(/swarm/);
  });
});
