/**
 * Two `keelson serve` processes on one state file: one leader at a time through the lease beside
 * the state. kill -9 the leader, and the standby takes over and converges a new commit; nothing is
 * applied twice (the file cloud keeps duplicates, so a second create would show).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readCloud } from './daemon-file-cloud.ts';
import { freePort, TestRepo, until } from './daemon-support.ts';

const service = (name: string) =>
  `kind: file.Service\nname: ${name}\nspec:\n  image: keelson-test/busybox:1\n  replicas: 1\n---\n`;
const children: ChildProcess[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

interface Readyz {
  ready: boolean;
  role?: string;
  reasons: string[];
}

async function readyz(port: number): Promise<Readyz | undefined> {
  try {
    return (await (await fetch(`http://127.0.0.1:${port}/readyz`)).json()) as Readyz;
  } catch {
    return undefined;
  }
}

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1]);
}

describe('two replicas on one state file', () => {
  it('runs passes on the leader only; after kill -9 of the leader the standby takes over and converges a new commit, creating nothing twice', async () => {
    const repo = new TestRepo();
    const cloud = join(repo.root, 'cloud.json');
    const statePath = join(repo.root, 'state.json');
    repo.push({ 'desired-state/services.yaml': service('a') });
    const start = (holder: string, port: number) => {
      const child = spawn(process.execPath, [join(import.meta.dirname, 'daemon-child.ts')], {
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          FILE_CLOUD: cloud,
          KEELSON_SOURCE_URL: `file://${repo.bare}`,
          KEELSON_SOURCE_PATH: 'desired-state',
          // Each replica has its own checkout (its own container), one state file and lease.
          KEELSON_CHECKOUT_DIR: join(repo.root, `checkout-${holder}`),
          KEELSON_STATE_PATH: statePath,
          KEELSON_HTTP_HOST: '127.0.0.1',
          KEELSON_HTTP_PORT: String(port),
          KEELSON_POLL_INTERVAL_SECONDS: '3600',
          KEELSON_OWNER: 'keelson-ha',
          KEELSON_LEASE_HOLDER: holder,
          KEELSON_LEASE_TTL_SECONDS: '3',
          KEELSON_LEASE_RENEW_SECONDS: '1',
          KEELSON_LOG_LEVEL: 'warn',
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      children.push(child);
      return child;
    };
    const ports = { one: await freePort(), two: await freePort() };
    const processes = { one: start('one', ports.one), two: start('two', ports.two) };

    // One of them leads and converges; the other is a standby.
    await until(() => readCloud(cloud).length === 1, 'the leader to create a', 60_000);
    const roles = await until(
      async () => {
        const [one, two] = [await readyz(ports.one), await readyz(ports.two)];
        if (!one?.role || !two?.role) return undefined;
        return one.role === 'leader' && one.ready
          ? { one, two }
          : two.role === 'leader' && two.ready
            ? { one, two }
            : undefined;
      },
      'one leader, ready',
      60_000,
    );
    const leader = roles.one.role === 'leader' ? 'one' : 'two';
    const standby = leader === 'one' ? 'two' : 'one';
    expect(roles[standby]).toMatchObject({ ready: false, role: 'standby' });
    expect(roles[standby].reasons[0]).toMatch(new RegExp(`standby: ${leader} holds the lease until`));
    expect(await metric(ports[leader], 'keelson_leader')).toBe(1);
    expect(await metric(ports[standby], 'keelson_leader')).toBe(0);
    expect(await metric(ports[standby], 'keelson_lease_expiry_seconds')).toBeGreaterThan(0);
    const standbyStatus = (await (await fetch(`http://127.0.0.1:${ports[standby]}/status`)).json()) as {
      passes: number;
      lease: { role: string; leader: string; generation: number };
    };
    expect(standbyStatus.lease).toMatchObject({ role: 'standby', leader, generation: 1 });
    expect(standbyStatus.passes).toBe(0);

    // The leader dies without a word; a new commit arrives meanwhile.
    processes[leader].kill('SIGKILL');
    await until(() => processes[leader].signalCode === 'SIGKILL', 'the leader to die');
    repo.push({ 'desired-state/services.yaml': service('a') + service('b') + service('c') });

    await until(
      async () => {
        const r = await readyz(ports[standby]);
        return r?.role === 'leader' && r.ready && readCloud(cloud).length === 3 ? r : undefined;
      },
      'the standby to take over and converge the new commit',
      90_000,
    );
    const names = readCloud(cloud)
      .map((i) => i.name)
      .sort();
    expect(names).toEqual(['a', 'b', 'c']);
    const lease = JSON.parse(readFileSync(`${statePath}.lease`, 'utf8'));
    expect(lease).toMatchObject({ holder: standby, generation: 2 });
    const state = JSON.parse(readFileSync(statePath, 'utf8'));
    expect(state.journal).toEqual({});
    expect(await metric(ports[standby], 'keelson_leader')).toBe(1);

    // A clean stop gives the lease up.
    processes[standby].kill('SIGTERM');
    await until(() => processes[standby].exitCode !== null, 'a clean exit on SIGTERM', 30_000);
    expect(processes[standby].exitCode).toBe(0);
    expect(JSON.parse(readFileSync(`${statePath}.lease`, 'utf8')).expiresAt).toBe(0);
  }, 240_000);

  it('a leader whose own engine is gone steps down: the standby takes over and converges, the old leader says why and never takes the lease back', async () => {
    const repo = new TestRepo();
    const cloud = join(repo.root, 'cloud.json');
    const statePath = join(repo.root, 'state.json');
    repo.push({ 'desired-state/services.yaml': service('a') });
    // Each replica's own endpoint (its node's engine) is a file: removing it is the engine dying
    // while keelson keeps running.
    const engine = (holder: string) => join(repo.root, `engine-${holder}`);
    const start = (holder: string, port: number) => {
      writeFileSync(engine(holder), '');
      const child = spawn(process.execPath, [join(import.meta.dirname, 'daemon-child.ts')], {
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          FILE_CLOUD: cloud,
          FILE_CLOUD_ENGINE: engine(holder),
          KEELSON_SOURCE_URL: `file://${repo.bare}`,
          KEELSON_SOURCE_PATH: 'desired-state',
          KEELSON_CHECKOUT_DIR: join(repo.root, `checkout-${holder}`),
          KEELSON_STATE_PATH: statePath,
          KEELSON_HTTP_HOST: '127.0.0.1',
          KEELSON_HTTP_PORT: String(port),
          KEELSON_POLL_INTERVAL_SECONDS: '3600',
          KEELSON_OWNER: 'keelson-ha',
          KEELSON_LEASE_HOLDER: holder,
          // A long TTL: a takeover before it could have lapsed shows the step-down did it.
          KEELSON_LEASE_TTL_SECONDS: '600',
          KEELSON_LEASE_RENEW_SECONDS: '1',
          KEELSON_LOG_LEVEL: 'warn',
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      children.push(child);
      return child;
    };
    const ports = { one: await freePort(), two: await freePort() };
    start('one', ports.one);
    await until(async () => (await readyz(ports.one))?.role === 'leader', 'one to lead', 60_000);
    start('two', ports.two);
    await until(() => readCloud(cloud).length === 1, 'the leader to create a', 60_000);
    await until(async () => (await readyz(ports.two))?.role === 'standby', 'two to be a standby', 60_000);

    rmSync(engine('one'));
    repo.push({ 'desired-state/services.yaml': service('a') + service('b') });
    await until(
      async () => {
        const r = await readyz(ports.two);
        return r?.role === 'leader' && r.ready && readCloud(cloud).length === 2 ? r : undefined;
      },
      'the standby to take over and converge the new commit',
      90_000,
    );
    expect(JSON.parse(readFileSync(`${statePath}.lease`, 'utf8'))).toMatchObject({ holder: 'two', generation: 2 });
    expect(
      readCloud(cloud)
        .map((i) => i.name)
        .sort(),
    ).toEqual(['a', 'b']);
    const old = await until(async () => {
      const r = await readyz(ports.one);
      return r?.role === 'standby' ? r : undefined;
    }, 'the old leader to be a standby');
    expect(old.reasons.join(' ')).toMatch(/unhealthy: file: cannot reach this replica's engine/);
    const status = (await (await fetch(`http://127.0.0.1:${ports.one}/status`)).json()) as {
      lease: { role: string; leader: string; unhealthy?: string };
    };
    expect(status.lease).toMatchObject({
      role: 'standby',
      leader: 'two',
      unhealthy: expect.stringContaining('is gone'),
    });
    expect(await metric(ports.one, 'keelson_leader')).toBe(0);
    expect(await metric(ports.one, 'keelson_replica_unhealthy')).toBe(1);
    expect(await metric(ports.two, 'keelson_replica_unhealthy')).toBe(0);

    // Its engine back, the old leader is a healthy standby; the lease stays where it is.
    writeFileSync(engine('one'), '');
    await until(async () => {
      const r = await readyz(ports.one);
      return r?.role === 'standby' && !r.reasons.join(' ').includes('unhealthy') ? r : undefined;
    }, 'the old leader to be a healthy standby');
    expect(JSON.parse(readFileSync(`${statePath}.lease`, 'utf8'))).toMatchObject({ holder: 'two', generation: 2 });
    expect(await metric(ports.two, 'keelson_leader')).toBe(1);
    expect(await metric(ports.one, 'keelson_replica_unhealthy')).toBe(0);
  }, 240_000);
});
