import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { heldMarker, readAddresses, readOps } from './daemon-file-cloud.ts';
import { fileCloudDaemon, TestRepo, until } from './daemon-support.ts';

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

describe('kill -9 inside a create-first replacement', () => {
  for (const row of ROWS) {
    it(`${row.point} (${row.what}): the old address is deleted once, nothing created twice`, async () => {
      const repo = new TestRepo();
      const { cloud, statePath, start, converged, stop } = await fileCloudDaemon(repo, 'keelson-replace', children);

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
