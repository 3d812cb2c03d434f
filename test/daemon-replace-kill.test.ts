import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { heldMarker, readAddresses, readOps } from './daemon-file-cloud.ts';
import { freePort, TestRepo, until } from './daemon-support.ts';

/**
 * kill -9 of `keelson serve` inside a create-first replacement (the file cloud's `file.Address`,
 * whose `zone` forces a replacement and which may exist twice under one name), held at a named
 * point as in `daemon-kill-points.test.ts`, then a restart on the same state and cloud. Why the
 * expected result is right: the new address is created before the old one is deleted, so at the
 * kill both exist; both are keelson's, and only the one in the zone Git names is the resource. The
 * other is owned and no longer desired: the restarted daemon must delete it — exactly once — and
 * must not create the new one again, whether the kill came before or after the create was
 * recorded; the recovery is clean (no warning, empty create journal).
 */
const address = (zone: string) => `kind: file.Address\nname: www\nspec:\n  zone: ${zone}\n  target: 10.0.0.1\n`;

const ROWS = [
  { point: 'after-create:www', what: 'after the new address is made, before the create is recorded' },
  { point: 'before-delete:www', what: 'after the create is recorded, before the old address is deleted' },
] as const;

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

interface Status {
  appliedRevision?: string;
  conditions?: { type: string; status: string }[];
  lastErrors: { code: string; message: string }[];
}

describe('kill -9 inside a create-first replacement', () => {
  for (const row of ROWS) {
    it(`${row.point} (${row.what}): the old address is deleted once, nothing created twice`, async () => {
      const repo = new TestRepo();
      const cloud = join(repo.root, 'cloud.json');
      const statePath = join(repo.root, 'state.json');
      const port = await freePort();
      const start = (hold?: string) => {
        const child = spawn(process.execPath, [join(import.meta.dirname, 'daemon-child.ts')], {
          env: {
            PATH: process.env.PATH,
            HOME: process.env.HOME,
            FILE_CLOUD: cloud,
            ...(hold ? { FILE_CLOUD_HOLD: hold } : {}),
            KEELSON_SOURCE_URL: `file://${repo.bare}`,
            KEELSON_SOURCE_PATH: 'desired-state',
            KEELSON_CHECKOUT_DIR: join(repo.root, 'checkout'),
            KEELSON_STATE_PATH: statePath,
            KEELSON_HTTP_HOST: '127.0.0.1',
            KEELSON_HTTP_PORT: String(port),
            KEELSON_POLL_INTERVAL_SECONDS: '3600',
            KEELSON_OWNER: 'keelson-replace',
            KEELSON_LOG_LEVEL: 'warn',
          },
          stdio: ['ignore', 'ignore', 'inherit'],
        });
        children.push(child);
        return child;
      };
      const status = async (): Promise<Status | undefined> => {
        try {
          return (await (await fetch(`http://127.0.0.1:${port}/status`)).json()) as Status;
        } catch {
          return undefined;
        }
      };
      const converged = (sha: string) =>
        until(
          async () => {
            const s = await status();
            return (
              s?.appliedRevision === sha &&
              s.conditions?.some((c) => c.type === 'Reconciled' && c.status === 'True') &&
              s
            );
          },
          `the daemon to converge on ${sha.slice(0, 12)}`,
          90_000,
        );
      const stop = async (child: ChildProcess) => {
        child.kill('SIGTERM');
        await until(() => child.exitCode !== null, 'a clean exit on SIGTERM', 30_000);
      };

      let sha = repo.push({ 'desired-state/address.yaml': address('a.example') });
      const first = start();
      await converged(sha);
      await stop(first);
      const old = readAddresses(cloud);
      expect(old.map((a) => a.zone)).toEqual(['a.example']);
      const oldId = old[0]?.id as string;

      sha = repo.push({ 'desired-state/address.yaml': address('b.example') });
      const held = start(row.point);
      await until(() => existsSync(heldMarker(cloud)), `the daemon to reach ${row.point}`, 90_000);
      // Created first: at the kill both addresses exist.
      expect(
        readAddresses(cloud)
          .map((a) => a.zone)
          .sort(),
      ).toEqual(['a.example', 'b.example']);
      held.kill('SIGKILL');
      await until(() => held.signalCode === 'SIGKILL', 'the daemon to die');
      const opsAtKill = readOps(cloud).length;

      const second = start();
      const final = await converged(sha);
      expect(final.lastErrors).toEqual([]);
      // The recovery deleted the old address, once, and created nothing.
      expect(readOps(cloud).slice(opsAtKill)).toEqual([`delete ${oldId}`]);
      expect(readAddresses(cloud).map((a) => a.zone)).toEqual(['b.example']);
      const state = JSON.parse(readFileSync(statePath, 'utf8'));
      expect(state.journal).toEqual({});
      expect(state.unstable ?? {}).toEqual({});
      expect(Object.keys(state.applied)).toEqual(['file.Address/www']);
      await stop(second);
      expect(second.exitCode).toBe(0);
    }, 240_000);
  }
});
