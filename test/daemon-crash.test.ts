import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
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

describe('kill -9 during an apply', () => {
  it('restarts, converges, and creates nothing twice', async () => {
    const repo = new TestRepo();
    const cloud = join(repo.root, 'cloud.json');
    const statePath = join(repo.root, 'state.json');
    repo.push({ 'desired-state/services.yaml': service('a') + service('b') + service('c') });
    const port = await freePort();
    const start = (createDelayMs: number) => {
      const child = spawn(process.execPath, [join(import.meta.dirname, 'daemon-child.ts')], {
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          FILE_CLOUD: cloud,
          FILE_CLOUD_CREATE_DELAY_MS: String(createDelayMs),
          KEELSON_SOURCE_URL: `file://${repo.bare}`,
          KEELSON_SOURCE_PATH: 'desired-state',
          KEELSON_CHECKOUT_DIR: join(repo.root, 'checkout'),
          KEELSON_STATE_PATH: statePath,
          KEELSON_HTTP_HOST: '127.0.0.1',
          KEELSON_HTTP_PORT: String(port),
          KEELSON_POLL_INTERVAL_SECONDS: '3600',
          KEELSON_OWNER: 'keelson-crash',
          KEELSON_LOG_LEVEL: 'warn',
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      children.push(child);
      return child;
    };

    // Each create takes 30 s after the item exists: plenty of time to kill the daemon inside one.
    const first = start(30_000);
    await until(() => readCloud(cloud).length >= 1, 'the first create to reach the cloud');
    const journal = JSON.parse(readFileSync(statePath, 'utf8')).journal;
    expect(Object.keys(journal).length).toBeGreaterThan(0);
    first.kill('SIGKILL');
    await until(() => first.signalCode === 'SIGKILL', 'the daemon to die');

    const second = start(0);
    await until(
      async () => {
        try {
          const s = (await (await fetch(`http://127.0.0.1:${port}/status`)).json()) as {
            conditions?: { type: string; status: string }[];
          };
          return s.conditions?.some(
            (c: { type: string; status: string }) => c.type === 'Reconciled' && c.status === 'True',
          );
        } catch {
          return false;
        }
      },
      'the restarted daemon to converge',
      90_000,
    );
    const names = readCloud(cloud)
      .map((i) => i.name)
      .sort();
    expect(names).toEqual(['a', 'b', 'c']);
    const state = JSON.parse(readFileSync(statePath, 'utf8'));
    expect(state.journal).toEqual({});
    // Recovery is clean: no spurious unstable field (it would stop keelson from healing it later).
    expect(state.unstable ?? {}).toEqual({});
    const status = (await (await fetch(`http://127.0.0.1:${port}/status`)).json()) as {
      lastErrors: { code: string }[];
    };
    expect(status.lastErrors.map((e) => e.code)).not.toContain('UNSTABLE_FIELD');
    second.kill('SIGTERM');
    await until(() => second.exitCode !== null, 'a clean exit on SIGTERM', 30_000);
    expect(second.exitCode).toBe(0);
  }, 180_000);
});
